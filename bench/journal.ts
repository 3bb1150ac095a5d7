/**
 * The journal's cost and its recovery time: throughput with and without it
 * (same run, same simulator), and how long a bot takes to get through 10,000
 * updates a crash left unfinished.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Update } from "grammy/types";
import { openStore, run } from "../src/index.js";
import { Journal } from "../src/journal/journal.js";
import type { RemoteSimulator } from "../src/simulator/index.js";
import { freshBot, until } from "./rig.js";
import { runnerThroughput } from "./throughput.js";

const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"));
let files = 0;
const freshFile = () => join(dir, `journal-${files++}.db`);

/** Updates per second with a journal on a fresh file. */
export function journaledThroughput(sim: RemoteSimulator): Promise<number> {
    return runnerThroughput(sim, "sluice", freshFile());
}

/** Timings of a restart with `count` unfinished updates in the journal, in milliseconds. */
export async function resumeTime(sim: RemoteSimulator, count = 10_000): Promise<{ recovered: number; handled: number }> {
    const { bot, token } = await freshBot(sim);
    const path = freshFile();
    const store = openStore(path);
    const journal = Journal.open<Update>(store, Number(token.split(":")[0]));
    journal.recover();
    for (let first = 1; first <= count; first += 100) {
        const batch = Array.from({ length: Math.min(100, count - first + 1) }, (_, i) => ({
            update_id: first + i,
            message: { message_id: first + i, date: 0, chat: { id: 1 + ((first + i) % 1000), type: "private" }, text: "x" },
        })) as Update[];
        journal.append(batch, first + batch.length);
    }
    journal.close();
    store.close();

    let handled = 0;
    bot.on("message", () => {
        handled++;
    });
    const started = performance.now();
    const handle = run(bot, { store: path, signals: false });
    const recovered = performance.now() - started;
    await until(() => handled === count);
    const done = performance.now() - started;
    await handle.stop();
    return { recovered, handled: done };
}

/** Deletes the benchmark's journal files. */
export function removeJournalFiles(): void {
    rmSync(dir, { recursive: true, force: true });
}
