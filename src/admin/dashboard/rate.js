/**
 * Turns successive readings of a counter into a rate per second: the
 * difference between two totals over the time between the snapshots that
 * carried them. A total that went down means the bot restarted (counters
 * start at zero again): that reading starts over instead of giving a
 * negative rate.
 */
export class RateOf {
    /** @type {{ at: number; total: number } | undefined} */
    #last;

    /**
     * The rate since the previous reading, or `undefined` for the first one.
     *
     * @param {number} at when the total was read (unix ms)
     * @param {number} total
     * @returns {number | undefined}
     */
    next(at, total) {
        const last = this.#last;
        this.#last = { at, total };
        if (last === undefined || at <= last.at || total < last.total) return undefined;
        return ((total - last.total) * 1000) / (at - last.at);
    }

    /** Forgets the last reading (the page logged out). */
    reset() {
        this.#last = undefined;
    }
}
