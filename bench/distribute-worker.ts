/**
 * The worker bot of the distribute benchmark (bench/distribute.ts), loaded
 * in a worker thread through a launcher the benchmark writes. The same file
 * for both libraries: `BENCH_WORKER_LIB` picks where `BotWorker` comes from.
 * Each message runs `BENCH_WORKER_SPIN` iterations of `spin` (2 ms of CPU, as
 * calibrated by the benchmark); its start is appended to
 * `BENCH_WORKER_STARTS` (one write with O_APPEND, so the lines of all threads
 * are in the order the starts happened), from which order violations are counted.
 */
import { openSync, writeSync } from "node:fs";
import type * as sluice from "../src/index.js";
import { spin } from "./spin.js";

const { BotWorker } = (
    process.env.BENCH_WORKER_LIB === "reference" ? await import("@grammyjs/runner") : await import("../src/index.js")
) as { BotWorker: typeof sluice.BotWorker };
const bot = new BotWorker(process.env.BENCH_WORKER_TOKEN ?? "");
const starts = openSync(process.env.BENCH_WORKER_STARTS ?? "/dev/null", "a");
const iterations = Number(process.env.BENCH_WORKER_SPIN ?? 0);

bot.on("message", (ctx) => {
    writeSync(starts, `${ctx.chat.id} ${ctx.update.update_id}\n`);
    spin(iterations);
});
