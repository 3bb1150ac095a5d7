import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import Database from "better-sqlite3";
import {
    createLogger,
    createTasks,
    InvalidOptionError,
    PermanentTaskError,
    type SluiceError,
    TaskDeadError,
    type Tasks,
    type TasksOptions,
} from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("tasks");
let opened: Tasks[] = [];
let rig: TestRig | undefined;
afterEach(async () => {
    await Promise.all(opened.map((tasks) => tasks.close(0)));
    opened = [];
    await rig?.close();
    rig = undefined;
});

const quiet = createLogger({ level: "silent" });

/** Tasks on `file` in the test folder, retried after a millisecond or two unless told otherwise; closed after the test. */
function open(file: string, options: Omit<TasksOptions, "store">): Tasks {
    const tasks = createTasks({ store: join(dir, file), baseDelayMs: 1, maxDelayMs: 2, logger: quiet, ...options });
    opened.push(tasks);
    return tasks;
}

const hasCode = (code: string) => (error: unknown) => (error as SluiceError).code === code;

describe("durable tasks", () => {
    it("retries a handler that fails twice, and done(id) resolves with what the third attempt returned", async () => {
        const attempts: number[] = [];
        const tasks = open("retries.db", {
            handlers: {
                charge: (payload: { cents: number }, { attempt }) => {
                    attempts.push(attempt);
                    if (attempt <= 2) throw new Error(`gateway busy (${attempt})`);
                    return { charged: payload.cents };
                },
            },
        });
        const { id } = await tasks.add("charge", { cents: 500 });
        assert.deepEqual(await tasks.done(id), { charged: 500 });
        assert.deepEqual(attempts, [1, 2, 3]);
        const status = tasks.status(id)!;
        assert.equal(status.state, "done");
        assert.equal(status.attempts, 3);
        assert.deepEqual(status.result, { charged: 500 });
        assert.equal(status.error, "gateway busy (2)");
    });

    it("waits a random time up to base x 2^(attempt-1), capped at maxDelayMs, before each retry", async () => {
        let now = 1_000_000;
        const tasks = open("backoff.db", {
            clock: () => now,
            baseDelayMs: 1_000,
            maxDelayMs: 4_000,
            handlers: {
                flaky: () => {
                    throw new Error("down");
                },
                nudge: () => {},
            },
        });
        // Twenty tasks give twenty waits per attempt: a wrong bound or a missing jitter shows in all but ~2^-20 of runs.
        const ids = (await tasks.addMany(Array.from({ length: 20 }, () => ({ name: "flaky", payload: null })))).map((task) => task.id);
        for (const [attempt, cap] of [1_000, 2_000, 4_000, 4_000].entries()) {
            await until(() => ids.every((id) => tasks.status(id)!.attempts === attempt + 1), 5_000, `attempt ${attempt + 1} of every task`);
            const waits = ids.map((id) => tasks.status(id)!.dueAt!.getTime() - now);
            for (const wait of waits) assert.ok(wait >= 0 && wait <= cap, `after attempt ${attempt + 1}: waits ${wait} ms, cap ${cap}`);
            assert.ok(
                waits.some((wait) => wait < cap / 2) && waits.some((wait) => wait > cap / 2),
                `waits spread over 0..${cap}: ${waits.join(", ")}`,
            );
            now += cap;
            // The runner sleeps until a timer on the real clock; a new task wakes it to see the moved clock.
            await tasks.add("nudge", null);
        }
    });

    it("sleeps until a task due in a month instead of waking every millisecond", async () => {
        // Node fires a timer longer than 2^31 - 1 ms after 1 ms, and warns each time.
        const warnings: string[] = [];
        const onWarning = (warning: Error) => void warnings.push(warning.name);
        process.on("warning", onWarning);
        try {
            const tasks = open("far.db", { handlers: { renew: () => {} } });
            await tasks.add("renew", null, { delayMs: 30 * 86_400_000 });
            await delay(50);
        } finally {
            process.off("warning", onWarning);
        }
        assert.deepEqual(warnings, []);
    });

    it("gives a task up after maxAttempts: done rejects with TASK_DEAD and the last error, and dead() lists it", async () => {
        let calls = 0;
        const tasks = open("dead.db", {
            handlers: {
                charge: () => {
                    calls++;
                    throw new Error(`card declined (${calls})`);
                },
            },
        });
        const { id } = await tasks.add("charge", null, { maxAttempts: 3 });
        await assert.rejects(tasks.done(id), (error: unknown) => {
            assert.ok(error instanceof TaskDeadError);
            assert.equal(error.code, "TASK_DEAD");
            assert.equal(error.taskId, id);
            assert.equal(error.lastError, "card declined (3)");
            return true;
        });
        assert.equal(calls, 3);
        const dead = tasks.dead();
        assert.deepEqual(
            dead.map((task) => [task.id, task.state, task.attempts, task.error]),
            [[id, "dead", 3, "card declined (3)"]],
        );
        await assert.rejects(tasks.done(id), TaskDeadError);
    });

    it("runs a dead task again on retry(id), and purgeDead deletes the dead ones", async () => {
        let declines = true;
        const tasks = open("revive.db", {
            handlers: {
                charge: (payload: string) => {
                    if (declines) throw new Error("card declined");
                    return `charged ${payload}`;
                },
            },
        });
        const first = await tasks.add("charge", "first", { maxAttempts: 1 });
        const second = await tasks.add("charge", "second", { maxAttempts: 1 });
        await assert.rejects(tasks.done(first.id), TaskDeadError);
        await assert.rejects(tasks.done(second.id), TaskDeadError);

        declines = false;
        assert.equal(tasks.retry(first.id), true);
        assert.equal(await tasks.done(first.id), "charged first");
        assert.equal(tasks.status(first.id)!.attempts, 1);
        assert.equal(tasks.retry(first.id), false, "a done task is not retried");
        assert.deepEqual(
            tasks.dead().map((task) => task.id),
            [second.id],
        );

        assert.equal(tasks.purgeDead(), 1);
        assert.deepEqual(tasks.dead(), []);
        assert.equal(tasks.status(second.id), undefined);
        assert.equal(tasks.status(first.id)!.state, "done");
    });

    it("gives a task up at once when its handler throws PermanentTaskError", async () => {
        let calls = 0;
        const tasks = open("permanent.db", {
            handlers: {
                notify: () => {
                    calls++;
                    throw new PermanentTaskError("the user blocked the bot");
                },
            },
        });
        const { id } = await tasks.add("notify", null);
        await assert.rejects(tasks.done(id), { code: "TASK_DEAD", lastError: "the user blocked the bot" });
        assert.equal(calls, 1);
        assert.equal(tasks.status(id)!.attempts, 1);
        assert.equal(tasks.status(id)!.state, "dead");
    });

    it("gives a task up, and the process lives on, when its handler resolves with what JSON cannot store", async () => {
        const tasks = open("unstorable.db", { handlers: { count: () => 10n, plain: () => ({ total: 10 }) } });
        const { id } = await tasks.add("count", null);
        await assert.rejects(tasks.done(id), (error: unknown) => {
            assert.ok(error instanceof TaskDeadError);
            assert.match(error.lastError, /cannot be stored as JSON \(Do not know how to serialize a BigInt\); return plain data/);
            return true;
        });
        assert.equal(tasks.status(id)!.attempts, 1);
        const next = await tasks.add("plain", null);
        assert.deepEqual(await tasks.done(next.id), { total: 10 });
    });

    it("aborts the signal of a run that outlives timeoutMs, and retries the task", async () => {
        const reasons: string[] = [];
        const tasks = open("timeout.db", {
            handlers: {
                export: async (_payload: null, { attempt, signal }) => {
                    if (attempt > 1) return "exported";
                    await new Promise((resolve) => signal.addEventListener("abort", resolve));
                    reasons.push((signal.reason as Error).message);
                    return "too late";
                },
            },
        });
        const { id } = await tasks.add("export", null, { timeoutMs: 30 });
        assert.equal(await tasks.done(id), "exported");
        assert.deepEqual(reasons, ["timed out after 30 ms"]);
        assert.equal(tasks.status(id)!.attempts, 2);
        assert.equal(tasks.status(id)!.error, "timed out after 30 ms");
    });

    it("stores one task for an idempotency key added twice, in one turn or later, and runs it once", async () => {
        let runs = 0;
        const tasks = open("keys.db", { handlers: { invoice: () => void runs++ } });
        const [first, sameTurn] = await Promise.all([
            tasks.add("invoice", { order: 7 }, { idempotencyKey: "order:7" }),
            tasks.add("invoice", { order: 7 }, { idempotencyKey: "order:7" }),
        ]);
        const [later] = await tasks.addMany([{ name: "invoice", payload: { order: 7 }, idempotencyKey: "order:7" }]);
        assert.deepEqual(first, { id: first!.id, duplicate: false });
        assert.deepEqual(sameTurn, { id: first!.id, duplicate: true });
        assert.deepEqual(later, { id: first!.id, duplicate: true });
        await tasks.done(first!.id);
        await delay(20);
        assert.equal(runs, 1);
    });

    it("never runs more handlers at once than concurrency", async () => {
        let running = 0;
        let most = 0;
        const tasks = open("concurrency.db", {
            concurrency: 3,
            handlers: {
                resize: async () => {
                    most = Math.max(most, ++running);
                    await delay(5);
                    running--;
                },
            },
        });
        const added = await tasks.addMany(Array.from({ length: 30 }, (_, n) => ({ name: "resize", payload: n })));
        await Promise.all(added.map((task) => tasks.done(task.id)));
        assert.equal(most, 3);
    });

    it("gives a running task up to close's timeout to finish, and it stays done", async () => {
        const aborted: boolean[] = [];
        let started = false;
        const tasks = createTasks({
            store: join(dir, "close-in-time.db"),
            logger: quiet,
            handlers: {
                backup: async (_payload: null, { signal }) => {
                    started = true;
                    await delay(50);
                    aborted.push(signal.aborted);
                    return "saved";
                },
            },
        });
        const { id } = await tasks.add("backup", null);
        await until(() => started, 5_000, "the task to start");
        await tasks.close(2_000);
        assert.deepEqual(aborted, [false]);
        const again = open("close-in-time.db", { handlers: { backup: () => "ran twice" } });
        assert.equal(again.status(id)!.state, "done");
        assert.equal(await again.done(id), "saved");
    });

    it("aborts a task that outlasts close's timeout and keeps it queued: the next start runs it again", async () => {
        const reasons: string[] = [];
        const tasks = createTasks({
            store: join(dir, "close-late.db"),
            logger: quiet,
            handlers: {
                backup: async (_payload: null, { signal }) => {
                    await new Promise((resolve) => signal.addEventListener("abort", resolve));
                    reasons.push((signal.reason as Error).message);
                },
            },
        });
        const { id } = await tasks.add("backup", null);
        await until(() => tasks.status(id)!.state === "running", 5_000, "the task to start");
        const waiting = tasks.done(id);
        const closing = performance.now();
        await tasks.close(50);
        assert.ok(performance.now() - closing < 1_000, "close waited about its timeout");
        await assert.rejects(waiting, hasCode("TASKS_CLOSED"));
        assert.deepEqual(reasons, ["the tasks stopped"]);

        const attempts: number[] = [];
        const again = open("close-late.db", { handlers: { backup: (_payload: null, { attempt }) => void attempts.push(attempt) } });
        await again.done(id);
        assert.deepEqual(attempts, [1], "an aborted run is not counted as a failed attempt");
    });

    it("leaves a stored task whose name has no handler queued, logs its name, and runs it once a handler is given", async () => {
        const later = Date.now() + 120_000;
        const first = createTasks({ store: join(dir, "orphan.db"), handlers: { legacyExport: () => "first life" } });
        const { id } = await first.add("legacyExport", { year: 2024 }, { delayMs: 60_000 });
        await first.close();

        const lines: string[] = [];
        const logger = createLogger({ destination: { write: (line: string) => void lines.push(line) } });
        const second = open("orphan.db", { clock: () => later, logger, handlers: { other: () => {} } });
        await delay(30);
        assert.equal(second.status(id)!.state, "queued");
        const errors = lines.map((line) => JSON.parse(line) as { level: number; task?: string; msg: string; err?: { code: string } });
        const missing = errors.find((entry) => entry.level === 50 && entry.task === "legacyExport");
        assert.ok(missing, `an error naming the task: ${lines.join("")}`);
        assert.equal(missing.err?.code, "TASK_HANDLER_MISSING");
        assert.match(missing.msg, /"legacyExport"/);
        await second.close();

        const third = open("orphan.db", { clock: () => later, handlers: { legacyExport: (payload: { year: number }) => payload.year } });
        assert.equal(await third.done(id), 2024);
    });

    it("rejects add and addMany of a name without a handler, naming the handlers", async () => {
        const tasks = open("unknown.db", { handlers: { charge: () => {}, refund: () => {} } });
        const namesHandlers = (error: unknown) =>
            error instanceof InvalidOptionError && /"chrage"/.test(error.message) && /charge, refund/.test(error.message);
        await assert.rejects(tasks.add("chrage", null), namesHandlers);
        await assert.rejects(tasks.addMany([{ name: "chrage", payload: null }]), namesHandlers);
    });
});

describe("durable tasks added while handling an update", () => {
    it("adds an update's tasks once when it is replayed after a crash, even when one of them added a task of its own", async () => {
        rig = await startRig();
        const store = join(dir, "replay.db");
        const env = { API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, STORE: store };
        await rig.sim.pushMessage(rig.token, { chatId: 5, text: "sign me up" });
        const lives: string[] = [];
        const crashed = spawnScript("test/helpers/task-bot.ts", { ...env, CRASH: "1" }, (line) => lives.push(line));
        assert.equal((await crashed.exit)[1], "SIGKILL");
        let handled = false;
        const replay = spawnScript("test/helpers/task-bot.ts", env, (line) => {
            if (line === "handled") handled = true;
            else lives.push(line);
        });
        await until(() => handled, 15_000, "the replayed update to be handled");
        replay.process.kill("SIGKILL");
        await replay.exit;

        assert.equal(lives.length, 2, `the handler added its tasks in both lives: ${lives.join(" | ")}`);
        assert.equal(lives[1], lives[0], "the replay found the tasks the first life added");
        const db = new Database(store, { readonly: true });
        try {
            const rows = db.prepare("SELECT name, COUNT(*) AS count FROM tasks GROUP BY name ORDER BY name").all();
            assert.deepEqual(rows, [
                { name: "followUp", count: 1 },
                { name: "remind", count: 1 },
                { name: "welcome", count: 1 },
            ]);
        } finally {
            db.close();
        }
    });
});
