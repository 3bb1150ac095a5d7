/**
 * One rate limit as a GCRA bucket (generic cell rate algorithm): instead of
 * counting sends in a window, it keeps the theoretical arrival time (`tat`)
 * of the next send at the allowed rate. A send is allowed when `tat` minus
 * the burst allowance has passed; each allowed send moves `tat` one interval
 * on. With `burst: 1` no sliding window of `period` ever holds more than
 * `limit` sends, which is how Telegram's limits behave.
 */
export class GcraBucket {
    private readonly intervalMs: number;
    private readonly toleranceMs: number;
    private tat = 0;

    /**
     * @param limit Sends allowed per period
     * @param periodMs The period, in milliseconds
     * @param burst Sends allowed back to back before the rate applies
     * @param earlyMs How much before its theoretical time a send is allowed.
     *   A timer fires up to a millisecond or so late; without this, every
     *   send would carry its timer's lateness into all later ones. A window
     *   may then hold `limit` sends in `periodMs - earlyMs`, so keep it within
     *   the margin by which `periodMs` exceeds the real limit's period.
     */
    constructor(limit: number, periodMs: number, burst = 1, earlyMs = 0) {
        // Rounded up to a whole microsecond, so floating-point sums never let one send too many into a window.
        this.intervalMs = Math.ceil((periodMs * 1000) / limit) / 1000;
        this.toleranceMs = this.intervalMs * (Math.max(1, burst) - 1) + earlyMs;
    }

    /** Milliseconds until a send is allowed at `now` (0: allowed now). */
    waitMs(now: number): number {
        return Math.max(0, this.tat - this.toleranceMs - now);
    }

    /** Records a send at `now` (call only when `waitMs(now)` is 0). */
    consume(now: number): void {
        this.tat = Math.max(this.tat, now) + this.intervalMs;
    }

    /**
     * Allows the next send no sooner than one interval after `at`: for a
     * send that may have reached Telegram as late as `at` (when its answer
     * came), rather than when it was let go.
     */
    spaceFrom(at: number): void {
        this.tat = Math.max(this.tat, at + this.intervalMs);
    }

    /** Allows nothing before `until` (for example after a 429 with `retry_after`). */
    blockUntil(until: number): void {
        this.tat = Math.max(this.tat, until + this.toleranceMs);
    }

    /** From this time on the bucket is as a fresh one would be, and may be forgotten. */
    get idleAt(): number {
        return this.tat;
    }
}
