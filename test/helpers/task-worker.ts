/**
 * Durable tasks in a child process, for the tasks' crash test. Environment:
 * STORE (file), SUCCESSES (a file), COUNT (tasks). Every life adds the same
 * COUNT tasks with the keys job:<n> (a life after the first finds them stored
 * and adds nothing), so a kill during the first add loses nothing. Handler
 * `work` fails its first two attempts; the third works 20 to 30 ms (a
 * thousand tasks take about three seconds at concurrency 8, so each of the
 * test's kills lands while tasks run), then appends "ok <id>" to SUCCESSES,
 * which outlives every kill, just before it resolves.
 * Prints "added <ids as JSON>" once the tasks are stored and "done" once every
 * one is done.
 */
import { appendFileSync, writeSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { createTasks, type TaskContext } from "../../src/index.js";

const { STORE, SUCCESSES, COUNT } = process.env;

const tasks = createTasks({
    store: STORE!,
    concurrency: 8,
    baseDelayMs: 5,
    maxDelayMs: 50,
    handlers: {
        work: async (_payload: null, { id, attempt }: TaskContext) => {
            if (attempt <= 2) throw new Error(`attempt ${attempt} fails`);
            await delay(20 + Math.random() * 10);
            appendFileSync(SUCCESSES!, `ok ${id}\n`);
        },
    },
});
const added = await tasks.addMany(
    Array.from({ length: Number(COUNT) }, (_, n) => ({ name: "work", payload: null, idempotencyKey: `job:${n}` })),
);
const ids = added.map((task) => task.id);
writeSync(1, `added ${JSON.stringify(ids)}\n`);
await Promise.all(ids.map((id) => tasks.done(id)));
writeSync(1, "done\n");
await tasks.close();
