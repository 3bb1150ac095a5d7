import { outsideUpdateScope } from "./update-scope.js";

/**
 * Collects what callers hand over during one turn of the event loop and
 * writes it together on the next: a burst of handlers storing at once costs
 * one commit, not one each. Each caller's promise resolves with its own
 * item's result once the whole batch is written; if the write fails, none of
 * it is written and every caller hears why.
 */
export class TurnBatch<I, O> {
    private pending: { item: I; resolve: (result: O) => void; reject: (error: unknown) => void }[] | undefined;

    /** @param write Writes a batch in one transaction and returns one result per item, in order. */
    constructor(private readonly write: (items: I[]) => O[]) {}

    /** Adds `item` to this turn's batch; resolves with its result once written. */
    add(item: I): Promise<O> {
        return new Promise((resolve, reject) => {
            if (this.pending === undefined) {
                this.pending = [];
                // Outside the caller's update scope: the write serves every caller of this turn.
                outsideUpdateScope(() => setImmediate(() => this.flush()));
            }
            this.pending.push({ item, resolve, reject });
        });
    }

    /** Writes what was collected now (before a close, say). */
    flush(): void {
        const batch = this.pending ?? [];
        this.pending = undefined;
        if (batch.length === 0) return;
        try {
            const results = this.write(batch.map((entry) => entry.item));
            for (const [index, entry] of batch.entries()) entry.resolve(results[index]!);
        } catch (error) {
            for (const entry of batch) entry.reject(error);
        }
    }
}
