/**
 * Runs the test suite (`npm test`). Most files spend their time waiting on
 * child processes, HTTP, Redis and timers, and run two at a time (the
 * machine's two cores: 3 to 4 minutes instead of 9). The files below time a
 * cluster of processes or kill processes on a schedule (failover bounds,
 * lease lapses, crash loops); a neighbour's CPU load can push them past their
 * bounds, so they run afterwards, one at a time, as they were written to.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const ALONE = new Set([
    "crash-recovery.test.ts",
    "cluster.test.ts",
    "cluster-outbox.test.ts",
    "cluster-pool.test.ts",
    "distribute.test.ts",
]);

const files = readdirSync("test")
    .filter((file) => file.endsWith(".test.ts"))
    .sort();
const run = (concurrency, list) =>
    spawnSync(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...list.map((file) => `test/${file}`)], {
        stdio: "inherit",
    }).status;
const shared = run(
    2,
    files.filter((file) => !ALONE.has(file)),
);
const alone = run(
    1,
    files.filter((file) => ALONE.has(file)),
);
process.exit(shared || alone);
