import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createTasks } from "../src/index.js";
import { until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("tasks-crash");

describe("durable tasks under real crashes", () => {
    it("runs each of 1,000 flaky tasks to success across five SIGKILLs, repeating at most the runs in flight", async () => {
        const COUNT = 1_000;
        const CONCURRENCY = 8;
        const kills = 5;
        const env = { STORE: join(dir, "tasks.db"), SUCCESSES: join(dir, "successes.log"), COUNT: String(COUNT) };
        let ids: number[] = [];
        const startLife = (onDone: () => void = () => {}) =>
            spawnScript("test/helpers/task-worker.ts", env, (line) => {
                if (line.startsWith("added ")) ids = JSON.parse(line.slice(6)) as number[];
                else if (line === "done") onDone();
            });
        const successes = () => (existsSync(env.SUCCESSES) ? readFileSync(env.SUCCESSES, "utf8").split("\n").filter(Boolean) : []);
        let doneBeforeLastKill = 0;
        for (let kill = 0; kill < kills; kill++) {
            ids = [];
            const child = startLife();
            await until(() => ids.length > 0, 20_000, "the tasks to be added");
            await delay(100 + Math.random() * 500);
            child.process.kill("SIGKILL");
            await child.exit;
            doneBeforeLastKill = new Set(successes()).size;
        }
        // Otherwise the later kills hit an idle process and the test proves less than it claims.
        assert.ok(doneBeforeLastKill < COUNT, "tasks were still running at the last kill");
        let done = false;
        const last = startLife(() => (done = true));
        await until(() => done, 60_000, "every task to be done");
        assert.deepEqual(await last.exit, [0, null]);

        const perTask = new Map<number, number>();
        for (const line of successes()) {
            const id = Number(line.split(" ")[1]);
            perTask.set(id, (perTask.get(id) ?? 0) + 1);
        }
        assert.equal(ids.length, COUNT);
        for (const id of ids) assert.ok(perTask.has(id), `task ${id} succeeded`);
        const twice = [...perTask.values()].filter((count) => count > 1).length;
        assert.ok(
            twice <= kills * CONCURRENCY,
            `${twice} tasks succeeded twice; at most ${kills} kills x ${CONCURRENCY} runs in flight may`,
        );

        const tasks = createTasks({ store: env.STORE, handlers: { work: () => {} } });
        try {
            for (const id of ids) assert.equal(tasks.status(id)?.state, "done", `task ${id} is done`);
        } finally {
            await tasks.close();
        }
    });
});
