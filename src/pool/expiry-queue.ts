import { MinHeap } from "../shared/min-heap.js";

/** setTimeout cannot wait longer than this; a later deadline is looked at early and put back. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Deadlines of many items, where only the items whose deadline comes cost
 * any work: no scan of all of them, ever. The pool uses it for idle bots.
 *
 * Each item sits in a min-heap at most once, under the deadline it had when
 * it was watched, and one timer is armed for the earliest. A deadline that
 * moves later (a bot used again) costs nothing when it moves: when the old
 * deadline comes, `deadlineOf` is asked again and the item goes back in at
 * its new one, or leaves (`undefined`: it no longer expires, e.g. it is
 * borrowed). So an item is looked at once per deadline that passes, however
 * often it was used in between, and `watch` on the hot path is a map lookup.
 */
export class ExpiryQueue<T> {
    private readonly heap = new MinHeap<T>();
    /** The deadline each item is in the heap under. An entry of the heap under another deadline is stale. */
    private readonly queuedAt = new Map<T, number>();
    private timer: NodeJS.Timeout | undefined;
    private armedFor = Infinity;
    private closed = false;

    /**
     * @param deadlineOf When the item expires now (a `performance.now()` time), or `undefined` (or `Infinity`) if it does not.
     * @param expire Called for an item whose deadline has passed; it leaves the queue first.
     */
    constructor(
        private readonly deadlineOf: (item: T) => number | undefined,
        private readonly expire: (item: T) => void,
    ) {}

    /** Makes sure `item` is looked at by its deadline; call it whenever the deadline may have come or moved earlier. */
    watch(item: T): void {
        if (this.closed) return;
        const deadline = this.deadlineOf(item);
        if (deadline === undefined || deadline === Infinity) return;
        const queued = this.queuedAt.get(item);
        if (queued !== undefined && queued <= deadline) return;
        this.queuedAt.set(item, deadline);
        this.heap.push(deadline, item);
        this.arm();
    }

    /** Items in the heap (each once). */
    get size(): number {
        return this.queuedAt.size;
    }

    /** Stops the timer; nothing expires any more. */
    close(): void {
        this.closed = true;
        clearTimeout(this.timer);
        this.timer = undefined;
    }

    private arm(): void {
        const next = this.heap.peekKey();
        if (next >= this.armedFor) return;
        clearTimeout(this.timer);
        this.armedFor = next;
        const wait = Math.min(MAX_TIMER_MS, Math.max(0, next - performance.now()));
        // Unref'd: idle bots waiting to be collected keep nothing alive.
        this.timer = setTimeout(() => this.collect(), wait).unref();
    }

    /** Takes out every item whose queued deadline has passed: expires it, or puts it back at its new deadline. */
    private collect(): void {
        this.timer = undefined;
        this.armedFor = Infinity;
        const now = performance.now();
        while (!this.closed && this.heap.peekKey() <= now) {
            const key = this.heap.peekKey();
            const item = this.heap.pop()!;
            if (this.queuedAt.get(item) !== key) continue; // stale: the item is in again under an earlier deadline
            this.queuedAt.delete(item);
            const deadline = this.deadlineOf(item);
            if (deadline === undefined) continue;
            if (deadline > now) this.watch(item);
            else this.expire(item);
        }
        if (!this.closed && this.heap.size > 0) this.arm();
    }
}
