/**
 * The worker bot of the distribute benchmark (bench/distribute.ts), loaded
 * in a worker thread through a launcher the benchmark writes. The same file
 * for both libraries: `BENCH_WORKER_LIB` picks where `BotWorker` comes from.
 * Each message burns `BENCH_WORKER_BURN_MS` of CPU; its start is appended to
 * `BENCH_WORKER_STARTS` (one write with O_APPEND, so the lines of all threads
 * are in the order the starts happened), from which order violations are counted.
 */
import { openSync, writeSync } from "node:fs";
import type * as sluice from "../src/index.js";

const { BotWorker } = (
    process.env.BENCH_WORKER_LIB === "reference" ? await import("@grammyjs/runner") : await import("../src/index.js")
) as { BotWorker: typeof sluice.BotWorker };
const bot = new BotWorker(process.env.BENCH_WORKER_TOKEN ?? "");
const starts = openSync(process.env.BENCH_WORKER_STARTS ?? "/dev/null", "a");
const burnMs = Number(process.env.BENCH_WORKER_BURN_MS ?? 2);

bot.on("message", (ctx) => {
    writeSync(starts, `${ctx.chat.id} ${ctx.update.update_id}\n`);
    const until = performance.now() + burnMs;
    while (performance.now() < until) {}
});
