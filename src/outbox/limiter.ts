import { MinHeap } from "../shared/min-heap.js";
import { positiveNumber } from "../shared/options.js";
import { GcraBucket } from "./gcra.js";

/** Telegram's sending limits as the outbox applies them, per bot. */
export interface OutboxLimits {
    /** All messages of the bot. @default 30 */
    globalPerSecond?: number;
    /** Messages with `allow_paid_broadcast`, which Telegram lets through at a higher rate. @default 1000 */
    paidPerSecond?: number;
    /** One private chat. @default 1 */
    privatePerSecond?: number;
    /** One group, supergroup or channel. @default 20 */
    groupPerMinute?: number;
}

/**
 * Sends are paced this much slower than the limits: a call leaves on time
 * but reaches Telegram a little early or late, and two arrivals squeezed
 * together by network jitter must still fit the window.
 */
export const PACING_MARGIN = 1.02;

/**
 * A send may leave this early (see `GcraBucket`'s `earlyMs`): the dispatcher
 * wakes on whole-millisecond timers, and losing that rounding on every send
 * cost about 3% of the rate. Well inside the 2% margin of even the shortest
 * period (20 ms of 1 s), so no window of Telegram's holds one send too many.
 */
export const TIMER_SLACK_MS = 2;

/** Within this span, 429s from this many different chats slow the whole bot. */
const CROWD_WINDOW_MS = 1_000;
const CROWD_SIZE = 3;

/**
 * The buckets of one bot: global (or paid), and one per chat, private chats
 * (positive ids) at `privatePerSecond`, groups and channels at
 * `groupPerMinute`. A 429 blocks the chat's bucket for `retry_after`; several
 * chats answering 429 at about the same time block the global one too.
 */
export class Limiter {
    private readonly global: GcraBucket;
    private readonly paid: GcraBucket;
    private readonly chats = new Map<string, GcraBucket>();
    /** Every chat bucket once, by the time it was last seen to turn idle: what `prune` looks at. */
    private readonly expiries = new MinHeap<string>();
    private recent429s: { chat: string; at: number }[] = [];
    private readonly limits: Required<OutboxLimits>;

    constructor(limits: OutboxLimits = {}) {
        this.limits = {
            globalPerSecond: positiveNumber("outbox.globalPerSecond", limits.globalPerSecond, 30),
            paidPerSecond: positiveNumber("outbox.paidPerSecond", limits.paidPerSecond, 1000),
            privatePerSecond: positiveNumber("outbox.privatePerSecond", limits.privatePerSecond, 1),
            groupPerMinute: positiveNumber("outbox.groupPerMinute", limits.groupPerMinute, 20),
        };
        this.global = pacedBucket(this.limits.globalPerSecond, 1000);
        this.paid = pacedBucket(this.limits.paidPerSecond, 1000);
    }

    /** Sends per second the bot's buckets allow, unpaid and paid. */
    get rates(): { globalPerSecond: number; paidPerSecond: number } {
        return { globalPerSecond: this.limits.globalPerSecond, paidPerSecond: this.limits.paidPerSecond };
    }

    /** Milliseconds until a message to `chat` may leave (0: now). */
    waitMs(chat: string, paid: boolean, now: number): number {
        // A chat without a bucket has a fresh one's answer, 0: looking must not create buckets.
        return Math.max((paid ? this.paid : this.global).waitMs(now), this.chats.get(chat)?.waitMs(now) ?? 0);
    }

    /** Milliseconds until `chat`'s own bucket admits a message. */
    chatWaitMs(chat: string, now: number): number {
        return this.chats.get(chat)?.waitMs(now) ?? 0;
    }

    /** Milliseconds until the bot-wide bucket admits anything. */
    globalWaitMs(paid: boolean, now: number): number {
        return (paid ? this.paid : this.global).waitMs(now);
    }

    /** Records a message to `chat` leaving now. */
    consume(chat: string, paid: boolean, now: number): void {
        this.prune(now);
        (paid ? this.paid : this.global).consume(now);
        this.chat(chat).consume(now);
    }

    /**
     * Records that Telegram answered a send to `chat` now. A chat has one
     * call in flight at a time, so its next one can be spaced from the
     * moment the last one was surely received: a send let go on time may
     * leave late (a busy event loop, a connection still opening; a process
     * running a thousand bots measured up to 0.4 s), and spacing from the
     * moment it was let go then put the next one too close behind it. The
     * chat's bucket may have been forgotten while the call was out (it looked
     * idle by its let-go time), so this brings it back.
     */
    answered(chat: string, now: number): void {
        this.chat(chat).spaceFrom(now);
    }

    /** Number of chats whose buckets are kept (those not idle yet, and any not pruned since). */
    get chatCount(): number {
        return this.chats.size;
    }

    /** Applies a 429 from `chat` with `retry_after` seconds. */
    retryAfter(chat: string, seconds: number, now: number): void {
        const until = now + seconds * 1000;
        this.chat(chat).blockUntil(until);
        this.recent429s = this.recent429s.filter((hit) => now - hit.at < CROWD_WINDOW_MS && hit.chat !== chat);
        this.recent429s.push({ chat, at: now });
        if (this.recent429s.length >= CROWD_SIZE) this.global.blockUntil(until);
    }

    /**
     * Forgets chat buckets that are back to their fresh state, so memory
     * follows the chats sent to recently, not every chat ever. Runs on every
     * send; costs a look at the heap when nothing is due, and otherwise work
     * in proportion to the buckets whose time came (one still busy goes back
     * in at its new idle time).
     */
    prune(now: number): void {
        while (this.expiries.peekKey() <= now) {
            const chat = this.expiries.pop()!;
            const bucket = this.chats.get(chat)!;
            if (bucket.idleAt <= now) this.chats.delete(chat);
            else this.expiries.push(bucket.idleAt, chat);
        }
    }

    private chat(chat: string): GcraBucket {
        let bucket = this.chats.get(chat);
        if (bucket === undefined) {
            const isPrivate = /^\d+$/.test(chat);
            bucket = isPrivate ? pacedBucket(this.limits.privatePerSecond, 1000) : pacedBucket(this.limits.groupPerMinute, 60_000);
            this.chats.set(chat, bucket);
            // Due right away: the first prune after its first send finds its real idle time.
            this.expiries.push(0, chat);
        }
        return bucket;
    }
}

/** A bucket for `limit` sends per `periodMs`, paced under it and tolerant of late timers. */
function pacedBucket(limit: number, periodMs: number): GcraBucket {
    return new GcraBucket(limit, periodMs * PACING_MARGIN, 1, TIMER_SLACK_MS);
}
