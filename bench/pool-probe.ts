/**
 * Starts BOTS polling bots in this process against a simulator in a child
 * process, lets each handle a few updates, and measures: the time to start
 * all of them, the resident memory they add (after GC), and `do()` latency
 * for other tokens while one token's getMe hangs. Run it in a fresh process
 * with `--expose-gc` (see pool.ts):
 *
 *   node --expose-gc --import tsx bench/pool-probe.ts [count] [pool|pool-bare|reference]
 *
 * `pool`: sluice's pool with a store (journal) and the outbox; `pool-bare`:
 * the pool with neither; `reference`: one grammY bot per token under
 * @grammyjs/runner's `run`. Prints one JSON line (see `PoolProbeResult`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as reference from "@grammyjs/runner";
import { Bot } from "grammy";
import { createBotPool } from "../src/index.js";
import { forkSimulator } from "../src/simulator/index.js";
import { percentile } from "./stats.js";

const count = Number(process.argv[2] ?? 1_000);
const flavour = process.argv[3] ?? "pool";
const gc = globalThis.gc;
if (gc === undefined) throw new Error("run with --expose-gc");

/** Resident memory after a full collection, twice so that finalisers' garbage goes too. */
function settledRss(): number {
    gc!();
    gc!();
    return process.memoryUsage().rss;
}

const sim = await forkSimulator({ recordCalls: false });
const dir = mkdtempSync(join(tmpdir(), "sluice-pool-bench-"));
try {
    const bots = await Promise.all(Array.from({ length: count }, () => sim.createBot()));
    const before = settledRss();
    const heapBefore = process.memoryUsage().heapUsed;
    const startedAt = performance.now();
    const pool =
        flavour === "reference"
            ? undefined
            : createBotPool({
                  store: flavour === "pool" ? join(dir, "bots.db") : undefined,
                  run: flavour === "pool" ? { outbox: true } : {},
                  signals: false,
                  botConfig: { client: { apiRoot: sim.apiRoot } },
                  setup: (bot) => {
                      bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
                  },
              });
    const handles: reference.RunnerHandle[] = [];
    if (pool !== undefined) await Promise.all(bots.map(({ token }) => pool.start(token)));
    else {
        // The reference has no pool: a grammY bot and a runner per token, as one would write it by hand.
        await Promise.all(
            bots.map(async ({ token }) => {
                const bot = new Bot(token, { client: { apiRoot: sim.apiRoot } });
                bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
                await bot.init();
                handles.push(reference.run(bot));
            }),
        );
    }
    const startMs = performance.now() - startedAt;

    // A few updates each, so every bot has handled, replied and been confirmed: memory of working bots.
    await Promise.all(
        bots.map(({ token }) =>
            sim.pushMessages(
                token,
                [1, 2, 1].map((chatId) => ({ chatId, text: "hi" })),
            ),
        ),
    );
    const sentAll = async () => (await Promise.all(bots.map(({ token }) => sim.stats(token)))).every((stats) => stats.sent === 3);
    while (!(await sentAll())) await new Promise((resolve) => setTimeout(resolve, 100));
    const after = settledRss();
    const heapPerBot = (process.memoryUsage().heapUsed - heapBefore) / count;

    // do() latency for other tokens while one token's getMe hangs: on running bots (fn does nothing, so this is
    // the pool's own time), and on cold tokens (each do() starts its bot). Measured in turns, with and without.
    const latency = {
        running: { without: [] as number[], hanging: [] as number[] },
        cold: { without: [] as number[], hanging: [] as number[] },
    };
    if (pool !== undefined) {
        const tokens = bots.map((bot) => bot.token);
        const timed = async (token: string) => {
            const started = performance.now();
            await pool.do(token, (bot) => bot.botInfo.id);
            return performance.now() - started;
        };
        const measure = async (into: "without" | "hanging") => {
            for (let i = 0; i < 5_000; i++) latency.running[into].push(await timed(tokens[i % tokens.length]!));
            for (let i = 0; i < 50; i++) latency.cold[into].push(await timed((await sim.createBot()).token));
        };
        for (let i = 0; i < 10_000; i++) await timed(tokens[i % tokens.length]!); // warm-up
        for (let round = 0; round < 4; round++) {
            if (round % 2 === 0) await measure("without");
            const { token: hanging } = await sim.createBot();
            await sim.delayNext("getMe", { delayMs: 30_000, token: hanging });
            const waiting = Array.from({ length: 100 }, () => pool.do(hanging, () => "late"));
            while ((await sim.stats(hanging)).getMeCalls === 0) await new Promise((resolve) => setTimeout(resolve, 1));
            await measure("hanging");
            await pool.stop(hanging); // the calls waiting for it then start it anew
            await Promise.all(waiting);
            if (round % 2 === 1) await measure("without");
        }
    }
    const p99 = (values: number[]) => percentile(values, 0.99);
    const doP99 = {
        running: { without: p99(latency.running.without), hanging: p99(latency.running.hanging) },
        cold: { without: p99(latency.cold.without), hanging: p99(latency.cold.hanging) },
    };

    const closedAt = performance.now();
    if (pool !== undefined) await pool.close();
    else await Promise.all(handles.map((handle) => handle.stop()));
    const closeMs = performance.now() - closedAt;
    console.log(JSON.stringify({ flavour, count, startMs, rssPerBot: (after - before) / count, heapPerBot, doP99, closeMs }));
} finally {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
}
