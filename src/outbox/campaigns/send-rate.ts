/** Seconds the rate is averaged over. */
const SPAN_SECONDS = 60;

/**
 * Messages a campaign finished per second over the last minute, from a ring
 * of one-second counts: recording and reading cost the same at any rate.
 * Kept in memory: after a restart the rate is measured afresh, while the
 * counters it is compared with are on disk.
 */
export class SendRate {
    private readonly counts = new Array<number>(SPAN_SECONDS).fill(0);
    /** The second (since the epoch) the newest slot counts. */
    private second = 0;
    private readonly since: number;

    constructor(now: number) {
        this.since = now;
        this.second = Math.floor(now / 1000);
    }

    /** Counts one message finished at `now`. */
    record(now: number): void {
        this.advance(now);
        this.counts[this.second % SPAN_SECONDS]!++;
    }

    /** Messages per second over the last minute, or over the time measured if that is shorter. */
    perSecond(now: number): number {
        this.advance(now);
        const seconds = Math.min(SPAN_SECONDS, Math.max(1, (now - this.since) / 1000));
        return this.counts.reduce((sum, count) => sum + count, 0) / seconds;
    }

    /** How long the rate has been measured, in ms. */
    measuredMs(now: number): number {
        return now - this.since;
    }

    private advance(now: number): void {
        const second = Math.floor(now / 1000);
        // Slots of seconds that passed without a record are emptied, at most the whole ring.
        for (let next = this.second + 1; next <= second && next <= this.second + SPAN_SECONDS; next++) this.counts[next % SPAN_SECONDS] = 0;
        this.second = Math.max(this.second, second);
    }
}
