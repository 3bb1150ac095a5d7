import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createTasks, run } from "../src/index.js";
import { currentUpdateScope, runInUpdateScope } from "../src/shared/update-scope.js";
import { startRig, until } from "./helpers/bots.js";

describe("task runs", () => {
    it("run outside the scope of the update whose handler added them", async () => {
        const seen: unknown[] = [];
        const tasks = createTasks({
            handlers: {
                first: async () => {
                    seen.push(currentUpdateScope()?.updateId);
                    await tasks.add("second", {});
                },
                second: () => void seen.push(currentUpdateScope()?.updateId),
            },
        });
        try {
            const { id } = await runInUpdateScope(1, 100, () => tasks.add("first", {}));
            await tasks.done(id);
            await tasks.done(id + 1);
            assert.deepEqual(seen, [undefined, undefined], "a task's keys and blame are not the update's");
        } finally {
            await tasks.close();
        }
    });

    it("added by a handler, start only after that handler has ended (add and addMany)", async () => {
        const rig = await startRig();
        const bot = rig.bot();
        let handlerEnded = false;
        const sawEnded: boolean[] = [];
        bot.on("message", async () => {
            await handle.tasks!.add("check", {});
            await handle.tasks!.addMany([{ name: "check", payload: {} }]);
            // Work the tasks may depend on, still going on after they were stored.
            await delay(300);
            handlerEnded = true;
        });
        const handle = run(bot, { tasks: { handlers: { check: () => void sawEnded.push(handlerEnded) } }, signals: false });
        try {
            await rig.sim.pushMessage(rig.token, { chatId: 3, text: "go" });
            await until(() => sawEnded.length === 2, 5_000, "both tasks to run");
            assert.deepEqual(sawEnded, [true, true], "each task started after the handler that added it ended");
        } finally {
            await handle.stop();
            await rig.close();
        }
    });

    it("never run one task twice at once, even when a run outlives its timeout", async () => {
        let running = 0;
        let most = 0;
        const tasks = createTasks({
            baseDelayMs: 1,
            maxDelayMs: 1,
            handlers: {
                stubborn: async (_payload, { attempt }) => {
                    running++;
                    most = Math.max(most, running);
                    // Ignores its signal the first time and runs on well past the timeout.
                    await delay(attempt === 1 ? 300 : 1);
                    running--;
                },
            },
        });
        try {
            const { id } = await tasks.add("stubborn", {}, { timeoutMs: 50 });
            await tasks.done(id);
            assert.equal(most, 1);
            assert.equal(tasks.status(id)!.attempts, 2);
        } finally {
            await tasks.close();
        }
    });

    it("give up a task whose result cannot be stored, saying why, instead of crashing", async () => {
        const tasks = createTasks({ handlers: { big: () => 10n } });
        try {
            const { id } = await tasks.add("big", {});
            await assert.rejects(
                tasks.done(id),
                (error: Error & { code?: string }) => error.code === "TASK_DEAD" && /JSON/.test(error.message),
            );
            assert.equal(tasks.status(id)!.state, "dead");
        } finally {
            await tasks.close();
        }
    });
});
