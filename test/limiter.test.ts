import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GcraBucket } from "../src/outbox/gcra.js";
import { Limiter } from "../src/outbox/limiter.js";

/** Sends as early as the bucket allows, on a virtual clock; returns the send times. */
function sendGreedily(bucket: GcraBucket, count: number): number[] {
    const times: number[] = [];
    let now = 0;
    while (times.length < count) {
        now += bucket.waitMs(now);
        bucket.consume(now);
        times.push(now);
    }
    return times;
}

/** The most sends that any window of `windowMs` (open at its start) contains. */
function busiestWindow(times: number[], windowMs: number): number {
    let most = 0;
    for (let i = 0; i < times.length; i++) {
        let n = 0;
        for (let j = i; j < times.length && times[j]! < times[i]! + windowMs; j++) n++;
        most = Math.max(most, n);
    }
    return most;
}

describe("GCRA bucket", () => {
    it("paces to the rate without exceeding it in any sliding window", () => {
        const times = sendGreedily(new GcraBucket(30, 1000), 300);
        assert.equal(busiestWindow(times, 1000), 30);
        assert.ok(times[299]! - 299 * (1000 / 30) < 1, "and hardly slower than the rate");
    });

    it("models 20 per minute for groups", () => {
        const times = sendGreedily(new GcraBucket(20, 60_000), 60);
        assert.equal(busiestWindow(times, 60_000), 20);
    });

    it("allows a burst, then the rate", () => {
        const bucket = new GcraBucket(1, 1000, 3);
        const times = sendGreedily(bucket, 5);
        assert.deepEqual(times, [0, 0, 0, 1000, 2000]);
    });

    it("blocks until a retry_after has passed", () => {
        const bucket = new GcraBucket(30, 1000);
        bucket.blockUntil(5000);
        assert.equal(bucket.waitMs(1000), 4000);
        assert.equal(bucket.waitMs(5000), 0);
        assert.ok(bucket.idleAt <= 5000, "fresh again once the block has passed");
    });
});

/**
 * Sends to `chats` in turn through a limiter the way the dispatcher does: on
 * a whole-millisecond clock, woken by a timer that fires up to `lateMs` after
 * the wait it was set for. Returns the send times.
 */
function sendThroughLimiter(limiter: Limiter, chats: string[], count: number, options: { paid?: boolean; lateMs: number }): number[] {
    const times: number[] = [];
    let now = 0;
    while (times.length < count) {
        const chat = chats[times.length % chats.length]!;
        const waitMs = limiter.waitMs(chat, options.paid === true, now);
        if (waitMs > 0) {
            now += Math.max(1, Math.ceil(waitMs)) + (times.length % 2) * options.lateMs;
            continue;
        }
        limiter.consume(chat, options.paid === true, now);
        times.push(now);
    }
    return times;
}

describe("limiter", () => {
    const manyChats = Array.from({ length: 1000 }, (_, n) => String(n + 1));

    it("keeps 97% of the global rate on whole-millisecond, late timers, and never exceeds it", () => {
        const times = sendThroughLimiter(new Limiter(), manyChats, 600, { lateMs: 1 });
        assert.ok(busiestWindow(times, 1000) <= 30);
        const rate = (times.length - 1) / (times.at(-1)! / 1000);
        assert.ok(rate >= 0.97 * 30, `rate ${rate.toFixed(2)}/s`);
    });

    it("keeps each private chat at one message a second and each group at 20 a minute", () => {
        const privateTimes = sendThroughLimiter(new Limiter(), ["42"], 10, { lateMs: 1 });
        assert.ok(busiestWindow(privateTimes, 1000) <= 1);
        const groupTimes = sendThroughLimiter(new Limiter(), ["-100123"], 40, { lateMs: 1 });
        assert.ok(busiestWindow(groupTimes, 60_000) <= 20);
        assert.ok(groupTimes.at(-1)! < 2.1 * 60_000, "and not much slower");
    });

    it("lets paid broadcasts through at their own rate, apart from the free bucket", () => {
        const limiter = new Limiter({ globalPerSecond: 30, paidPerSecond: 1000 });
        const paid = sendThroughLimiter(limiter, manyChats, 1000, { paid: true, lateMs: 0 });
        assert.ok(busiestWindow(paid, 1000) <= 1000);
        assert.ok(paid.at(-1)! < 1100, `1,000 paid messages took ${paid.at(-1)} ms`);
        assert.equal(limiter.globalWaitMs(false, paid.at(-1)!), 0, "the free bucket was not used up by paid sends");
    });

    it("spaces a chat's next send from when the last one was answered, also if its bucket was forgotten meanwhile", () => {
        const limiter = new Limiter();
        limiter.consume("42", false, 0);
        // The call left late (a busy event loop) and was answered 1.5 s after it was let go; another
        // chat's send at 1.1 s forgot chat 42's bucket, which looked idle by its let-go time.
        limiter.consume("7", false, 1_100);
        assert.equal(limiter.chatWaitMs("42", 1_100), 0);
        limiter.answered("42", 1_500);
        assert.ok(limiter.chatWaitMs("42", 1_500) >= 1_000, "not before a second after the answer");
        assert.equal(limiter.chatWaitMs("42", 2_520), 0);
        assert.equal(limiter.globalWaitMs(false, 1_500), 0, "the bot-wide bucket is unchanged");
    });

    it("stops the whole bot when several chats answer 429 together", () => {
        const limiter = new Limiter();
        limiter.retryAfter("1", 5, 0);
        assert.equal(limiter.globalWaitMs(false, 0), 0, "one chat's 429 blocks that chat only");
        assert.ok(limiter.waitMs("1", false, 0) >= 5000);
        limiter.retryAfter("2", 5, 100);
        limiter.retryAfter("3", 5, 200);
        assert.ok(limiter.globalWaitMs(false, 200) >= 4999);
    });

    it("forgets a chat once its bucket is fresh again: a million chats leave only the recent ones behind", () => {
        const limiter = new Limiter({ globalPerSecond: 1_000_000 });
        let now = 0;
        let most = 0;
        for (let chat = 1; chat <= 1_000_000; chat++, now += 0.01) {
            limiter.consume(String(chat % 2 === 0 ? chat : -chat), false, now); // private chats and groups
            most = Math.max(most, limiter.chatCount);
        }
        // A private chat's bucket is busy for ~1.02 s after its send, a group's for ~3.06 s: at 100 chats a
        // millisecond, about 51,000 + 153,000 are busy at any moment, and the rest must be gone.
        assert.ok(most < 210_000, `${most} buckets kept at once`);
        limiter.consume("1", false, now + 4_000);
        assert.equal(limiter.chatCount, 1, "only the chat sent to just now");
        assert.equal(limiter.waitMs("2", false, now + 4_000), 0, "a forgotten chat starts fresh");
    });
});
