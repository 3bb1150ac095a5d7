/** Rows one pruning statement deletes at most: a large backlog never holds the thread or the write lock for long. */
export const PRUNE_SLICE = 5_000;

/**
 * Runs `deleteSlice` (which deletes at most `PRUNE_SLICE` rows and returns
 * how many it did) until a slice comes back short; returns the total.
 */
export function deleteInSlices(deleteSlice: (limit: number) => number): number {
    let deleted = 0;
    for (;;) {
        const changes = deleteSlice(PRUNE_SLICE);
        deleted += changes;
        if (changes < PRUNE_SLICE) return deleted;
    }
}
