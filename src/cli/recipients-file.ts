import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { SingleBar } from "cli-progress";
import { parse } from "csv-parse";

/**
 * A recipients file as an NDJSON stream for the admin API, read as it is
 * sent (constant memory for any size), with a progress bar on stderr. CSV has
 * a header line: `chat_id`, optionally `locale`, and any other column is a
 * template value (an empty cell counts as not given); JSONL is one `{ chatId, locale?, vars? }` per line.
 */
export async function recipientsStream(path: string, options: { progress: boolean }): Promise<{ ndjson: Readable; done(): void }> {
    const { size } = await stat(path);
    const file = createReadStream(path);
    const bar = options.progress
        ? new SingleBar({ format: "uploading {bar} {percentage}% | {value}/{total} bytes", stream: process.stderr })
        : undefined;
    bar?.start(size, 0);
    // Polled rather than on "data": a listener would start the file flowing before the parser reads it.
    const ticker = bar && setInterval(() => bar.update(file.bytesRead), 100);
    const lines = path.endsWith(".csv") ? csvLines(file) : file;
    return {
        ndjson: Readable.from(lines),
        done: () => {
            clearInterval(ticker);
            bar?.update(file.bytesRead);
            bar?.stop();
        },
    };
}

/** NDJSON lines of a CSV file's rows. */
async function* csvLines(file: Readable): AsyncGenerator<string> {
    for await (const row of file.pipe(parse({ columns: true, skip_empty_lines: true, trim: true })) as AsyncIterable<
        Record<string, string>
    >) {
        const { chat_id: chatId, locale, ...cells } = row;
        // An empty cell is a value not given: a template needing it rejects the recipient instead of sending a blank.
        const vars = Object.fromEntries(Object.entries(cells).filter(([, value]) => value !== ""));
        const recipient = { chatId, ...(locale ? { locale } : {}), ...(Object.keys(vars).length > 0 ? { vars } : {}) };
        yield `${JSON.stringify(recipient)}\n`;
    }
}
