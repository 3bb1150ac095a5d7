import { writeSync } from "node:fs";

/**
 * Writes one line to stdout synchronously, so a SIGKILL right after loses
 * none of it. Once anything has touched `process.stdout` (a logger does),
 * Node has made the pipe non-blocking, and a write to a full pipe (the test
 * reading behind, on a loaded machine) fails with EAGAIN: it is tried again
 * until the test has read enough, rather than thrown into the bot's handler.
 */
export function say(line: string): void {
    const bytes = Buffer.from(`${line}\n`);
    for (let written = 0; written < bytes.length; ) {
        try {
            written += writeSync(1, bytes, written);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        }
    }
}
