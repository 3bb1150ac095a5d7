/**
 * Many cores for one bot: 20,000 updates over 500 chats (in bursts of four
 * messages from one chat), each handler doing 2 ms of CPU work (calibrated
 * once, the same work in every thread). sluice's `distribute` on 2 threads against the same
 * bot on the main thread alone, and against the reference's `distribute` on
 * 2 threads; per-chat order violations counted for both (an update that
 * started after a later update of its chat had started).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as reference from "@grammyjs/runner";
import type { Context } from "grammy";
import * as sluice from "../src/index.js";
import type { RemoteSimulator } from "../src/simulator/index.js";
import { freshBot, until } from "./rig.js";
import { calibrate, spin } from "./spin.js";

export const DISTRIBUTE_UPDATES = 20_000;
export const DISTRIBUTE_CHATS = 500;
export const BURN_MS = 2;
const THREADS = 2;
/** A chat's messages come a few at a time (a user typing several lines, an album), as in real traffic. */
const BURST = 4;
/** Update ids of the two warm-up updates, far above the simulator's. */
const WARM_UP_ID = 1_000_000_000;

/** How a bot was run: on the main thread, or through one library's distribute. */
export type DistributeSetup = "main" | "sluice" | "reference";

export interface DistributeResult {
    perSecond: number;
    /** Starts of an update after a later update of the same chat had started. */
    orderViolations: number;
}

let launchers = 0;
/** Iterations of `spin` that take BURN_MS on this machine, calibrated once. */
let iterations: number | undefined;
const written: string[] = [];

/**
 * A launcher for the worker bot at a path of its own. The reference keeps
 * its threads per path for the life of the process, so each round needs a
 * new path; threads also do not inherit tsx, which the launcher loads.
 */
function launcher(): string {
    const path = join(tmpdir(), `sluice-bench-worker-${process.pid}-${++launchers}.mjs`);
    const tsx = import.meta.resolve("tsx/esm/api");
    const worker = new URL("./distribute-worker.ts", import.meta.url).href;
    writeFileSync(path, `import { tsImport } from ${JSON.stringify(tsx)};\nawait tsImport(${JSON.stringify(worker)}, import.meta.url);\n`);
    written.push(path);
    return path;
}

/** Removes the launchers and start logs the benchmark wrote. */
export function removeDistributeFiles(): void {
    for (const path of written.splice(0)) rmSync(path, { force: true });
}

/** Updates per second, and order violations, of one setup. */
export async function distributedThroughput(sim: RemoteSimulator, setup: DistributeSetup): Promise<DistributeResult> {
    const work = (iterations ??= calibrate(BURN_MS));
    const { bot, token } = await freshBot(sim);
    const messages = Array.from({ length: DISTRIBUTE_UPDATES }, (_, i) => ({ chatId: chatOf(Math.floor(i / BURST)), text: "x" }));
    for (let i = 0; i < messages.length; i += 10_000) await sim.pushMessages(token, messages.slice(i, i + 10_000));
    const starts = join(tmpdir(), `sluice-bench-starts-${process.pid}-${launchers}-${setup}.log`);
    writeFileSync(starts, "");
    written.push(starts);
    Object.assign(process.env, {
        BENCH_WORKER_LIB: setup,
        BENCH_WORKER_TOKEN: token,
        BENCH_WORKER_STARTS: starts,
        BENCH_WORKER_SPIN: String(work),
    });
    let handled = 0;
    let close = async () => {};
    if (setup === "main") {
        bot.on("message", () => {
            spin(work);
            handled++;
        });
    } else {
        let middleware: (ctx: Context) => Promise<void>;
        if (setup === "sluice") {
            const distributed = sluice.distribute<Context>(launcher(), { count: THREADS });
            close = () => distributed.close();
            middleware = distributed;
        } else middleware = reference.distribute<Context>(launcher(), { count: THREADS });
        bot.use(async (ctx) => {
            await middleware(ctx);
            handled++;
        });
        // Threads start with their first update, and loading a worker file through tsx takes most of a second of
        // CPU: start both threads (an update without a chat goes by update_id in both libraries) before the clock.
        const me = bot.botInfo;
        await Promise.all([WARM_UP_ID, WARM_UP_ID + 1].map((update_id) => middleware({ update: { update_id }, me } as Context)));
    }
    const started = performance.now();
    const handle = setup === "reference" ? reference.run(bot) : sluice.run(bot, { signals: false, stopTimeoutMs: 100 });
    await until(() => handled === DISTRIBUTE_UPDATES);
    const perSecond = DISTRIBUTE_UPDATES / ((performance.now() - started) / 1000);
    await handle.stop();
    await close();
    return { perSecond, orderViolations: setup === "main" ? 0 : violations(readFileSync(starts, "utf8")) };
}

/** Counts starts of an update after a later one of its chat had started, from `chat update_id` lines in start order. */
function violations(log: string): number {
    const newest = new Map<string, number>();
    let count = 0;
    for (const line of log.split("\n")) {
        const [chat, id] = line.split(" ");
        if (chat === undefined || id === undefined) continue;
        const updateId = Number(id);
        if ((newest.get(chat) ?? -1) > updateId) count++;
        else newest.set(chat, updateId);
    }
    return count;
}

/**
 * The chat of the i-th burst: spread evenly but in no fixed rotation, as
 * real traffic is. (With `i % 500` every chat's update ids would share their
 * parity, and the reference's `update_id % 2` would keep each chat on one of
 * two threads by accident.)
 */
function chatOf(burst: number): number {
    return 1 + ((Math.imul(burst + 1, 0x9e3779b1) >>> 0) % DISTRIBUTE_CHATS);
}
