import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";

/** The log is rewritten with only the updates still running once it has grown past this many bytes. */
const COMPACT_AFTER_BYTES = 1 << 20;

/** What a start log left by an earlier life holds. */
export interface PreviousStarts {
    /** The life that wrote it; `undefined` for a log of sluice 0.1, which had no header. */
    readonly life: number | undefined;
    /** Updates that life started (and had not finished when the log was last compacted). */
    readonly ids: ReadonlySet<number>;
}

/**
 * Which updates this life of the process has started, in a small file beside
 * the store, so that after a death the journal knows which unfinished updates
 * were running and which were still waiting in the sink (and are not to be
 * suspected of anything).
 *
 * Records are float64, little-endian: first the life's number, negated
 * (update ids are never negative), then update ids. Every id started in one
 * turn of the microtask queue is appended with one `write` before any of
 * those handlers runs. A written file survives a crash or kill of the
 * process, like the store's WAL. The log is compacted after done marks are
 * committed: only the updates still running are kept. If the file cannot be
 * written, `onGiveUp` is called once and nothing more is recorded: the
 * journal then treats the whole life as unlogged.
 */
export class StartLog {
    /** Opened at the first append after the header, so the header is written whole by a rename. */
    private fd: number | undefined;
    /** A write failed: nothing more is recorded. */
    private gaveUp = false;
    private bytes = 0;
    private waiting: number[] = [];
    private written: Promise<void> | undefined;

    private constructor(
        private readonly path: string,
        private readonly life: number,
        private readonly onGiveUp: (error: unknown) => void,
    ) {}

    /** What the log at `path` holds from an earlier life; `undefined` if there is none. */
    static read(path: string): PreviousStarts | undefined {
        if (!existsSync(path)) return undefined;
        const bytes = readFileSync(path);
        const whole = bytes.length - (bytes.length % 8); // a torn last record (death mid-write) is ignored
        const records: number[] = [];
        for (let offset = 0; offset < whole; offset += 8) records.push(bytes.readDoubleLE(offset));
        const life = records[0] !== undefined && records[0] < 0 ? -records.shift()! : undefined;
        return { life, ids: new Set(records) };
    }

    /**
     * Starts the log of `life` at `path`, replacing an earlier life's log
     * atomically. Throws if the file cannot be written.
     */
    static begin(path: string, life: number, onGiveUp: (error: unknown) => void): StartLog {
        const log = new StartLog(path, life, onGiveUp);
        log.rewrite([]);
        return log;
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

    /** Replaces the log, atomically, with its header and `running` (and whatever is waiting to be written). */
    compact(running: Iterable<number>): void {
        this.writeWaiting();
        if (!this.gaveUp) this.guard(() => this.rewrite(running));
    }

    /** Writes what is waiting and closes the file (idempotent). */
    close(): void {
        this.writeWaiting();
        this.guard(() => this.closeFile());
    }

    private rewrite(ids: Iterable<number>): void {
        const records = Float64Array.from([-this.life, ...ids]);
        const next = `${this.path}.next`;
        writeFileSync(next, new Uint8Array(records.buffer));
        renameSync(next, this.path);
        this.closeFile();
        this.bytes = records.byteLength;
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
        } catch (error) {
            this.gaveUp = true;
            try {
                this.closeFile();
                rmSync(this.path, { force: true });
            } catch {
                // The journal marks the life unlogged, so whatever is left of the file is not trusted.
            }
            this.onGiveUp(error);
        }
    }
}
