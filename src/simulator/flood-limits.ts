import { InvalidOptionError } from "../shared/errors.js";

/**
 * Telegram's flood limits, as the simulator enforces them per bot token.
 * Telegram does not publish exact numbers; its FAQ speaks of about 30
 * messages per second overall, one per second in a private chat and 20 per
 * minute in a group. Every limit is off unless set, so tests opt in to
 * exactly the limit they exercise.
 *
 * @example
 * ```ts
 * const sim = await createSimulator({ limits: { globalPerSecond: 30, privatePerSecond: 1, groupPerMinute: 20 } });
 * ```
 */
export interface FloodLimits {
    /** Message calls per second across all chats of one bot. @default unlimited */
    globalPerSecond?: number;
    /**
     * Message calls per second with `allow_paid_broadcast: true`, counted
     * here instead of against `globalPerSecond` (Telegram lets paid
     * broadcasts through at up to 1000/s, for a fee per message; the
     * per-chat limits still apply).
     * @default unlimited
     */
    paidPerSecond?: number;
    /** Message calls per second into one private chat (chat id > 0). @default unlimited */
    privatePerSecond?: number;
    /** Message calls per minute into one group or channel (chat id < 0 or `@username`). @default unlimited */
    groupPerMinute?: number;
}

/**
 * A sliding-window counter: at most `limit` admissions in any `windowMs`.
 * It keeps the times of the last `limit` admissions in a ring, so a check is
 * O(1): the call is admitted exactly when the oldest of those has left the
 * window.
 */
export class SlidingWindow {
    private readonly times: number[] = [];
    private next = 0;

    constructor(
        readonly limit: number,
        readonly windowMs: number,
    ) {}

    /** Milliseconds until a call at `now` would be admitted; 0 when it would be now. */
    waitMs(now: number): number {
        if (this.times.length < this.limit) return 0;
        const oldest = this.times[this.next] as number;
        return Math.max(0, oldest + this.windowMs - now);
    }

    /** Counts an admitted call. Call only after `waitMs(now)` returned 0. */
    record(now: number): void {
        if (this.times.length < this.limit) this.times.push(now);
        else this.times[this.next] = now;
        this.next = (this.next + 1) % this.limit;
    }

    /** Whether every recorded call has left the window (the window can be forgotten). */
    idle(now: number): boolean {
        for (const time of this.times) if (time + this.windowMs > now) return false;
        return true;
    }
}

// Per-chat windows of chats that went quiet are swept after this many
// admissions, so a broadcast to a million chats does not keep a million
// windows alive.
const SWEEP_EVERY = 10_000;

/**
 * One bot's flood limits. `admit` either counts a call against every window
 * that applies to it or, if any window is full, rejects it without counting
 * it anywhere, so rejected calls do not push the window further out.
 */
export class FloodLimiter {
    private readonly global: SlidingWindow | undefined;
    private readonly paid: SlidingWindow | undefined;
    private readonly chats = new Map<number | string, SlidingWindow>();
    private sinceSweep = 0;

    constructor(private readonly limits: FloodLimits = {}) {
        for (const [name, value] of Object.entries(limits)) {
            if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
                throw new InvalidOptionError(`limits.${name}`, `expected a positive integer, got ${String(value)}`);
            }
        }
        this.global = limits.globalPerSecond === undefined ? undefined : new SlidingWindow(limits.globalPerSecond, 1000);
        this.paid = limits.paidPerSecond === undefined ? undefined : new SlidingWindow(limits.paidPerSecond, 1000);
    }

    /**
     * Admits a message call into `chatId` at `now` (ms), a paid broadcast
     * if `paid`. Returns 0 when admitted, otherwise the `retry_after`
     * Telegram would send: whole seconds until every full window has room
     * again, at least 1.
     */
    admit(chatId: number | string | undefined, paid: boolean, now: number): number {
        const chat = chatId === undefined ? undefined : this.chatWindow(chatId);
        const bot = paid ? this.paid : this.global;
        const wait = Math.max(bot?.waitMs(now) ?? 0, chat?.waitMs(now) ?? 0);
        if (wait > 0) return Math.max(1, Math.ceil(wait / 1000));
        bot?.record(now);
        chat?.record(now);
        if (chat !== undefined && ++this.sinceSweep >= SWEEP_EVERY) this.sweep(now);
        return 0;
    }

    private chatWindow(chatId: number | string): SlidingWindow | undefined {
        const isPrivate = typeof chatId === "number" && chatId > 0;
        const limit = isPrivate ? this.limits.privatePerSecond : this.limits.groupPerMinute;
        if (limit === undefined) return undefined;
        let window = this.chats.get(chatId);
        if (window === undefined) {
            window = new SlidingWindow(limit, isPrivate ? 1000 : 60_000);
            this.chats.set(chatId, window);
        }
        return window;
    }

    private sweep(now: number): void {
        this.sinceSweep = 0;
        for (const [chatId, window] of this.chats) if (window.idle(now)) this.chats.delete(chatId);
    }
}
