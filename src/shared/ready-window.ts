import { Fifo } from "./fifo.js";

/**
 * Where a ready window reads from: rows that become due at a time (outbox
 * chat heads, tasks), in classes (priorities, task names), from an index by
 * class and time.
 */
export interface ReadySource<T> {
    /** Up to `limit` entries of class `kind` due at `now`, the longest due first. */
    ready(kind: number, now: number, limit: number): T[];
    /** The earliest time after `after` at which an entry of class `kind` is due (`Infinity`: none). */
    nextReadyAt(kind: number, after: number): number;
}

/** Entries already being worked on: skipped when the window is read, asked for on top of the window. */
export interface Busy<T> {
    readonly size: number;
    holds(entry: T): boolean;
}

/** The entries being worked on in `working` (keyed the way `keyOf` reads an entry), as a window sees them. */
export function busyIn<T, K>(working: ReadonlyMap<K, unknown>, keyOf: (entry: T) => K): Busy<T> {
    return {
        get size() {
            return working.size;
        },
        holds: (entry) => working.has(keyOf(entry)),
    };
}

/**
 * Entries read from the store per class at a time: enough that a read is
 * rare at any rate, few enough that memory stays small whatever is queued.
 */
const WINDOW_SIZE = 256;

/**
 * What is due now, per class, without holding what is not: a window of
 * entries read from the source's index in the order they became due, and
 * the earliest time an entry outside the window can be due. Every entry the
 * store writes lowers that time (`written`), so the index is read again
 * exactly when something new may be there, and never scanned. An entry may
 * have gone stale by the time it is used; the user checks each against the
 * store before acting on it. The outbox's dispatcher and the task runner
 * both schedule with it.
 */
export class ReadyWindow<T> {
    private readonly windows: Fifo<T>[];
    /** Per class: no entry outside the window is due before this time. */
    private readonly checkAt: number[];

    constructor(
        private readonly source: ReadySource<T>,
        classes: number,
    ) {
        this.windows = Array.from({ length: classes }, () => new Fifo<T>());
        this.checkAt = new Array<number>(classes).fill(0);
    }

    /** Forgets what was read (a new start reads from the store afresh). */
    reset(): void {
        for (const [kind, window] of this.windows.entries()) {
            while (window.length > 0) window.shift();
            this.checkAt[kind] = 0;
        }
    }

    /** The store wrote an entry of class `kind` that is due at `readyAt`. */
    written(kind: number, readyAt: number): void {
        if (readyAt < this.checkAt[kind]!) this.checkAt[kind] = readyAt;
    }

    /**
     * The longest-due entry of class `kind` at `now`, left in the window until
     * `drop`; reads the store if the window is empty and something may be due.
     */
    peek(kind: number, now: number, busy: Busy<T>): T | undefined {
        const window = this.windows[kind]!;
        if (window.length === 0 && now >= this.checkAt[kind]!) {
            // Busy entries are still due in the index; ask for that many more.
            const limit = WINDOW_SIZE + busy.size;
            const entries = this.source.ready(kind, now, limit);
            for (const entry of entries) if (!busy.holds(entry)) window.push(entry);
            this.checkAt[kind] = entries.length < limit ? this.source.nextReadyAt(kind, now) : now;
        }
        return window.peek();
    }

    /** Removes the entry `peek` returned. */
    drop(kind: number): void {
        this.windows[kind]!.shift();
    }

    /** The earliest time something of class `kind` may be due (`-Infinity`: the window holds some). */
    readyAt(kind: number): number {
        return this.windows[kind]!.length > 0 ? -Infinity : this.checkAt[kind]!;
    }
}
