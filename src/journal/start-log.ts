import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";

/** The log is rewritten with only the updates still running once it has grown past this many bytes. */
const COMPACT_AFTER_BYTES = 1 << 20;

/**
 * Which updates the running process has started, in a small file beside the
 * store, so that after a crash the journal knows whether an unfinished
 * update ever ran. Without it, an update that was fetched but still waiting
 * in the sink when the process died would be charged an attempt it never
 * had, and two unlucky kills later an innocent update would be quarantined.
 *
 * Every update id started in one turn of the microtask queue is appended
 * with one `write` (update ids as float64, little-endian) before any of
 * those handlers runs. A written file survives a crash or kill of the
 * process, like the store's WAL. The log is compacted after done marks are
 * committed: only the updates still running are kept. If the file cannot be
 * written, it is deleted and logging stops: the next start then assumes
 * every unfinished update ran, as if there had never been a log.
 */
export class StartLog {
    /** Opened at the first write, so that only reading a store leaves no log behind. */
    private fd: number | undefined;
    /** A write failed: the log was deleted and records nothing more. */
    private gaveUp = false;
    private bytes = 0;
    private waiting: number[] = [];
    private written: Promise<void> | undefined;

    private constructor(private readonly path: string) {}

    /**
     * Returns the log at `path` with the ids it holds from the previous run;
     * `undefined` ids when there was no log (nothing is known about which
     * updates ran).
     */
    static open(path: string): { log: StartLog; previous: ReadonlySet<number> | undefined } {
        const previous = existsSync(path) ? readIds(readFileSync(path)) : undefined;
        return { log: new StartLog(path), previous };
    }

    /**
     * Records that `updateId` is starting; resolves once it is written. Ids
     * recorded in the same turn share one write, made before any of their
     * handlers is allowed to run.
     */
    started(updateId: number): Promise<void> {
        this.waiting.push(updateId);
        this.written ??= new Promise<void>((resolve) =>
            queueMicrotask(() => {
                this.writeWaiting();
                resolve();
            }),
        );
        return this.written;
    }

    /** Whether the log has grown enough to be worth compacting. */
    get wantsCompaction(): boolean {
        return this.bytes >= COMPACT_AFTER_BYTES;
    }

    /** Replaces the log, atomically, with just `running` (and whatever is waiting to be written). */
    compact(running: Iterable<number>): void {
        this.writeWaiting();
        if (this.gaveUp) return;
        const ids = Float64Array.from(running);
        const next = `${this.path}.next`;
        this.guard(() => {
            writeFileSync(next, new Uint8Array(ids.buffer));
            renameSync(next, this.path);
            this.closeFile();
        });
        this.bytes = ids.byteLength;
    }

    /** Writes what is waiting and closes the file (idempotent). */
    close(): void {
        this.writeWaiting();
        this.guard(() => this.closeFile());
    }

    private writeWaiting(): void {
        this.written = undefined;
        const ids = Float64Array.from(this.waiting);
        this.waiting = [];
        if (ids.length === 0 || this.gaveUp) return;
        this.guard(() => {
            this.fd ??= openSync(this.path, "a");
            writeSync(this.fd, new Uint8Array(ids.buffer));
        });
        this.bytes += ids.byteLength;
    }

    private closeFile(): void {
        const { fd } = this;
        this.fd = undefined;
        if (fd !== undefined) closeSync(fd);
    }

    /** Runs a file operation; if it fails, gives the log up (see the class comment). */
    private guard(operation: () => void): void {
        try {
            operation();
        } catch {
            this.gaveUp = true;
            try {
                this.closeFile();
                rmSync(this.path, { force: true });
            } catch {
                // Nothing more to do: at worst the next start trusts a log that missed this run's last starts.
            }
        }
    }
}

/** The ids in a log file; a torn last record (the process died mid-write) is ignored. */
function readIds(bytes: Buffer): Set<number> {
    const whole = bytes.length - (bytes.length % 8);
    const ids = new Set<number>();
    for (let offset = 0; offset < whole; offset += 8) ids.add(bytes.readDoubleLE(offset));
    return ids;
}
