import { Fifo } from "../shared/fifo.js";
import type { HeadRef, OutboxQueue } from "./queue.js";

/**
 * Heads read from the store per priority at a time: enough that a read is
 * rare at any rate, few enough that memory stays small whatever is queued.
 */
const WINDOW_SIZE = 256;

/**
 * The dispatcher's view of what is ready to send: per priority, a window of
 * chat heads read from the queue's index in the order they became ready,
 * and the earliest time a head outside the window can be ready. Every head
 * the queue writes lowers that time, so the window is read again exactly
 * when something new may be there, and never scanned. An entry may have gone
 * stale by the time it is used (its message cancelled, withdrawn or moved);
 * the dispatcher checks each against the store before sending it.
 */
export class ReadyWindow {
    private readonly windows = [new Fifo<HeadRef>(), new Fifo<HeadRef>(), new Fifo<HeadRef>()];
    /** Per priority: no head outside the window is ready before this time. */
    private readonly checkAt = [0, 0, 0];

    constructor(private readonly queue: OutboxQueue) {}

    /** Forgets what was read (a new start reads from the store afresh). */
    reset(): void {
        for (const [priority, window] of this.windows.entries()) {
            while (window.length > 0) window.shift();
            this.checkAt[priority] = 0;
        }
    }

    /** The queue wrote a head of `priority` that is ready at `readyAt`. */
    headWritten(priority: number, readyAt: number): void {
        if (readyAt < this.checkAt[priority]!) this.checkAt[priority] = readyAt;
    }

    /**
     * The longest-ready head of `priority` at `now`, left in the window until
     * `drop`; reads the store once if the window is empty and `mayRead`.
     * Heads of chats in flight (`busy`) are skipped: their chat is not ready.
     */
    peek(priority: number, now: number, mayRead: boolean, busy: ReadonlyMap<string, number>): HeadRef | undefined {
        const window = this.windows[priority]!;
        if (window.length === 0 && mayRead && now >= this.checkAt[priority]!) {
            // Chats in flight still have their heads in the index, ready; ask for that many more.
            const limit = WINDOW_SIZE + busy.size;
            const heads = this.queue.readyHeads(priority, now, limit);
            for (const head of heads) if (!busy.has(head.chat)) window.push(head);
            this.checkAt[priority] = heads.length < limit ? this.queue.nextReadyAt(priority, now) : now;
        }
        return window.peek();
    }

    /** Removes the entry `peek` returned. */
    drop(priority: number): void {
        this.windows[priority]!.shift();
    }

    /** The earliest time something of `priority` may be ready (`-Infinity`: the window holds some). */
    readyAt(priority: number): number {
        return this.windows[priority]!.length > 0 ? -Infinity : this.checkAt[priority]!;
    }
}
