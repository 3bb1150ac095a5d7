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
        endTrial: () => void log.push("end"),
    };
}

/** Whether a promise has settled by the next turn of the event loop. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
    let settled = false;
    void promise.then(() => (settled = true));
    await tick();
    await tick();
    return settled;
}

describe("trials of suspected updates", () => {
    it("runs the most suspected first, in groups of a quarter, with nothing else running, while other updates wait", async () => {
        const journal = recorder();
        // Five suspects: groups of two. The first trial is due at once (random moment 0).
        const trials = new Trials(new Map([[10, 2], [11, 3], [12, 2], [13, 2], [14, 2]]), journal, () => 0);
        await trials.enter(1); // another update is running
        const ten = trials.enterTrial(10);
        const eleven = trials.enterTrial(11);
        const twelve = trials.enterTrial(12);
        await delay(5); // the first trial's moment comes
        assert.deepEqual(journal.log, [], "the trial waits for the running update");
        const two = trials.enter(2);
        assert.equal(await hasSettled(two), false, "a new update waits at the closed gate");
        trials.ended(1);
        assert.deepEqual(journal.log, ["start 11,10 alone"], "update 11 (three deaths) first, then the lowest id");
        assert.equal(await hasSettled(Promise.all([ten, eleven])), true);
        assert.equal(await hasSettled(twelve), false, "the rest wait for the next trial");
        assert.equal(trials.ended(11), true);
        assert.equal(await hasSettled(two), false, "the gate opens only when the whole group has ended");
        trials.ended(10);
        assert.deepEqual(journal.log, ["start 11,10 alone", "end"]);
        assert.equal(await hasSettled(two), true);
        assert.equal(trials.ended(2), false);
        await until(() => journal.log.length === 3);
        assert.deepEqual(journal.log.at(-1), "start 12 alone");
        trials.ended(12);
        assert.equal(trials.finished, false, "13 and 14 have not come up in their lanes yet");
        const rest = [trials.enterTrial(13), trials.enterTrial(14)];
        await until(() => journal.log.length === 5);
        assert.equal(journal.log[4], "start 13,14 alone");
        await Promise.all(rest);
        trials.ended(13);
        trials.ended(14);
        assert.equal(trials.finished, true);
    });

    it("runs a trial among others when they do not end in time, so that it cannot convict, and at once when the bot stops", async () => {
        const journal = recorder();
        const trials = new Trials(new Map([[10, 2]]), journal, () => 0);
        await trials.enter(1); // hangs
        const ten = trials.enterTrial(10);
        await until(() => journal.log.length === 1, 3_000);
        assert.deepEqual(journal.log, ["start 10 crowded"], "after the drain limit (2 s)");
        await ten;

        const stopping = recorder();
        const later = new Trials(new Map([[20, 2]]), stopping, () => 0.99); // due in almost a second
        await later.enter(2);
        const twenty = later.enterTrial(20);
        await tick();
        assert.deepEqual(stopping.log, []);
        later.hurry();
        assert.deepEqual(stopping.log, [], "a stop skips the moment but still lets the running update end first");
        later.ended(2);
        assert.deepEqual(stopping.log, ["start 20 alone"]);
        await twenty;
    });
});
