import type { Journal } from "./journal.js";

/**
 * What a journaled run hands to its sink before it polls again: the updates
 * the previous run left unfinished. Suspects (updates that were already
 * being replayed when the process died again) come first and one at a time,
 * each marked done as soon as it ends, so a crash is blamed only on the one
 * running; then the rest, in batches. Also records, around every handler,
 * what the journal needs to know: a replayed update starting, any update
 * ending.
 */
export class Replay<Y extends { update_id: number }> {
    private readonly suspects: Y[];
    private readonly rest: Y[];
    /** Updates of this replay not started yet. */
    private readonly pending: Set<number>;
    /** The suspect handed over last, until its handler ends. */
    private isolated: { updateId: number; ended: Promise<void>; end: () => void } | undefined;

    constructor(private readonly journal: Journal<Y>) {
        const { suspects, rest } = journal.recover();
        this.suspects = suspects;
        this.rest = rest;
        this.pending = new Set([...suspects, ...rest].map((update) => update.update_id));
    }

    /** Number of updates to replay. */
    get size(): number {
        return this.pending.size;
    }

    /**
     * The next replayed batch (at most `batchSize`), or `undefined` once all
     * were handed over. While a suspect runs, waits for it to end (or for
     * `signal` to abort).
     */
    async next(batchSize: number, signal: AbortSignal): Promise<Y[] | undefined> {
        if (this.isolated !== undefined) {
            const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
            await Promise.race([this.isolated.ended, aborted]);
        }
        const suspect = this.suspects.shift();
        if (suspect !== undefined) {
            let end = () => {};
            const ended = new Promise<void>((resolve) => (end = resolve));
            this.isolated = { updateId: suspect.update_id, ended, end };
            return [suspect];
        }
        return this.rest.length > 0 ? this.rest.splice(0, batchSize) : undefined;
    }

    /**
     * Call as a handler starts, and await what it returns before running
     * the handler: the start is recorded first (a replay's in the store, any
     * other in the start log), so a crash inside the handler is counted.
     */
    started(updateId: number): Promise<void> | undefined {
        if (!this.pending.delete(updateId)) return this.journal.markStarted(updateId);
        this.journal.markReplayStarted(updateId);
        return undefined;
    }

    /** Call as a handler ends (or times out): records it done; a suspect's mark is written at once. */
    ended(updateId: number): void {
        this.journal.markDone(updateId);
        if (this.isolated?.updateId !== updateId) return;
        this.journal.flush();
        const { end } = this.isolated;
        this.isolated = undefined;
        end();
    }
}
