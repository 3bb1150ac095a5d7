import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay, setImmediate as tick } from "node:timers/promises";
import type { TrialKind } from "../src/journal/attempts.js";
import { type TrialRecorder, Trials } from "../src/journal/trials.js";
import { until } from "./helpers/bots.js";

/** Records what the trials asked the journal to write. */
function recorder(): TrialRecorder & { log: string[] } {
    const log: string[] = [];
    return {
        log,
        startTrial: (ids: readonly number[], kind: TrialKind) => void log.push(`start ${ids.join(",")} ${kind}`),
        crowdTrial: () => void log.push("crowded"),
        endTrial: () => void log.push("end"),
    };
}

/** Whether a promise has settled by the next turns of the event loop. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
    let settled = false;
    void promise.then(() => (settled = true));
    await tick();
    await tick();
    return settled;
}

/** The first trial is due at once. */
const now = { random: () => 0 };

describe("trials of suspected updates", () => {
    it("runs the most suspected first, in groups of a quarter of them, with nothing else running, while other updates wait", async () => {
        const journal = recorder();
        // Five suspects were running at three deaths, one at two: groups of two (a quarter of five, rounded up).
        const trials = new Trials(
            new Map([
                [10, 3],
                [11, 3],
                [12, 3],
                [13, 3],
                [14, 3],
                [15, 2],
            ]),
            journal,
            now,
        );
        await trials.enter(1); // another update is running
        const ready = [15, 11, 10, 12].map((id) => trials.enterTrial(id));
        await delay(5); // the first trial's moment comes
        assert.deepEqual(journal.log, [], "the trial waits for the running update");
        const two = trials.enter(2);
        assert.equal(await hasSettled(two), false, "a new update waits at the closed gate");
        trials.ended(1);
        assert.deepEqual(journal.log, ["start 10,11 alone"], "the most deaths first, then the lowest ids");
        assert.equal(await hasSettled(Promise.all([ready[1], ready[2]])), true);
        assert.equal(await hasSettled(ready[3]!), false, "the rest wait for the next trial");
        assert.equal(trials.ended(11), true);
        assert.equal(await hasSettled(two), false, "the gate opens only when the whole group has ended");
        trials.ended(10);
        assert.deepEqual(journal.log, ["start 10,11 alone", "end"]);
        assert.equal(await hasSettled(two), true);
        assert.equal(trials.ended(2), false);
        await until(() => journal.log.length === 3);
        assert.equal(
            journal.log.at(-1),
            "start 12,15 alone",
            "groups keep the size the tier had as the life began; 13 and 14 have not come up in their lanes yet",
        );
        trials.ended(12);
        trials.ended(15);
        assert.equal(trials.finished, false);
        const rest = [trials.enterTrial(13), trials.enterTrial(14)];
        await until(() => journal.log.length === 5);
        await Promise.all(rest);
        trials.ended(13);
        trials.ended(14);
        assert.deepEqual(journal.log.slice(4), ["start 13,14 alone", "end"], "the tier of five took three trials, not five");
        assert.equal(trials.finished, true);
    });

    it("holds the bot up for a bounded time only: a trial goes on among others after the drain limit, or when its member hangs", async () => {
        const slowOthers = recorder();
        const draining = new Trials(new Map([[10, 2]]), slowOthers, { ...now, drainLimitMs: 50 });
        await draining.enter(1); // never ends
        const ten = draining.enterTrial(10);
        await until(() => slowOthers.log.length === 1, 2_000);
        assert.deepEqual(slowOthers.log, ["start 10 crowded"], "after the drain limit: among others, so no strike");
        await ten;
        assert.equal(await hasSettled(draining.enter(2)), true, "the gate is open while it runs among others");

        const hung = recorder();
        const hanging = new Trials(
            new Map([
                [20, 2],
                [21, 2],
                [22, 2],
                [23, 2],
                [24, 2],
            ]),
            hung,
            { ...now, trialLimitMs: 50 },
        );
        const twenty = hanging.enterTrial(20); // hangs: it never ends
        await delay(5);
        await twenty;
        const waiting = hanging.enter(3);
        assert.equal(await hasSettled(waiting), false);
        await until(() => hung.log.length === 2, 2_000);
        assert.deepEqual(hung.log, ["start 20 alone", "crowded"], "past the trial limit, the record says it is no longer alone");
        assert.equal(await hasSettled(waiting), true, "and every other chat goes on");
        hanging.enterTrial(21);
        await delay(20);
        assert.equal(hung.log.length, 2, "no second trial while the first one's member still runs");
    });

    it("runs every remaining group one after another when the bot stops, without waiting for their moments", async () => {
        const journal = recorder();
        const trials = new Trials(
            new Map([
                [10, 2],
                [11, 2],
                [12, 2],
                [13, 2],
                [14, 2],
            ]),
            journal,
            { random: () => 0.99 },
        );
        const entered = [10, 11, 12, 13, 14].map((id) => trials.enterTrial(id));
        await trials.enter(1);
        await tick();
        assert.deepEqual(journal.log, [], "waiting for a moment almost a second away");
        trials.hurry();
        assert.deepEqual(journal.log, [], "a stop skips the moment but still lets the running update end first");
        trials.ended(1);
        for (const group of [[10, 11], [12, 13], [14]]) {
            assert.equal(journal.log.at(-1), `start ${group.join(",")} alone`);
            for (const id of group) trials.ended(id);
        }
        await Promise.all(entered);
        assert.equal(trials.finished, true);
    });
});
