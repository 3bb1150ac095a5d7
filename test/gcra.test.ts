import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GcraBucket } from "../src/outbox/gcra.js";

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
        assert.equal(bucket.isIdle(5000), true);
    });
});
