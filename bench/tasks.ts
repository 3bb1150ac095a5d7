/**
 * Durable tasks on a store file: how fast tasks are stored, by `add` from
 * many handlers at once (one commit per event-loop turn) and by `addMany`,
 * and how many no-op tasks the runner completes per second.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTasks, type Tasks, type TasksOptions } from "../src/index.js";

/** Tasks handed over per event-loop turn, or per `addMany` call. */
const BURST = 1_000;
/** Far enough ahead that no stored task runs while adding is timed. */
const HOUR_MS = 3_600_000;

/** How tasks are handed to the store in `addRate`. */
export type AddMode = "add, 1,000 per turn" | "addMany, 1,000 per call";

/** Runs `measure` on tasks over a fresh store file, then closes them and deletes the file. */
async function onFreshStore<T>(options: Omit<TasksOptions, "store">, measure: (tasks: Tasks) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(join(tmpdir(), "sluice-tasks-bench-"));
    const tasks = createTasks({ ...options, store: join(dir, "tasks.db") });
    try {
        return await measure(tasks);
    } finally {
        await tasks.close();
        rmSync(dir, { recursive: true, force: true });
    }
}

/** Tasks stored per second: `count` adds, 1,000 issued per event-loop turn and awaited, or `addMany` of 1,000 a call. */
export function addRate(mode: AddMode, count = 100_000): Promise<number> {
    return onFreshStore({ handlers: { report: () => {} } }, async (tasks) => {
        const started = performance.now();
        for (let first = 0; first < count; first += BURST) {
            const burst = Array.from({ length: Math.min(BURST, count - first) }, (_, i) => ({
                name: "report",
                payload: { day: first + i },
                delayMs: HOUR_MS,
            }));
            if (mode === "addMany, 1,000 per call") await tasks.addMany(burst);
            else await Promise.all(burst.map((task) => tasks.add(task.name, task.payload, { delayMs: task.delayMs })));
        }
        return count / ((performance.now() - started) / 1000);
    });
}

/** No-op tasks completed per second at `concurrency`, from `count` queued at once until the last is done. */
export function completionRate(count = 10_000, concurrency = 8): Promise<number> {
    return onFreshStore({ concurrency, handlers: { noop: () => {} } }, async (tasks) => {
        const ids: number[] = [];
        // addMany stores synchronously: nothing runs before the clock starts, on the next turn.
        for (let first = 0; first < count; first += BURST) {
            const burst = Array.from({ length: Math.min(BURST, count - first) }, () => ({ name: "noop", payload: null }));
            for (const { id } of await tasks.addMany(burst)) ids.push(id);
        }
        const started = performance.now();
        await Promise.all(ids.map((id) => tasks.done(id)));
        return count / ((performance.now() - started) / 1000);
    });
}
