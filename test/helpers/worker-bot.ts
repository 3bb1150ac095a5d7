/**
 * The worker bot of test/distribute.test.ts and the distribute benchmark,
 * loaded in a worker thread through worker-bot.mjs. The same file runs under
 * either library: `WORKER_BOT_LIB` picks where `BotWorker` comes from
 * ("sluice", the default, or "reference"). Settings come from the thread's
 * environment (copied from the central process when the thread starts):
 * - `WORKER_BOT_TOKEN`, `WORKER_BOT_API_ROOT`: the bot and the simulator;
 * - `WORKER_BOT_DIR`: where "once" commands leave a mark, so they kill only the first thread that runs them;
 * - `WORKER_BOT_CATCH=1`: the worker bot handles its own errors (bot.catch replies "caught …");
 * - `WORKER_BOT_BROKEN=1`: the file throws while it loads.
 *
 * Each text message is answered with `start <text> thread=<id> running=<n>` (`msg …` after a wait of 0-4 ms,
 * the others at once), then its command runs:
 * `slow <ms>`, `burn <ms>` (CPU), `exit-once`, `throw-once`, `poison` (process.exit every time),
 * `unnamed` (ends the thread from a timer outside every handler), `fail` (the handler throws).
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { threadId } from "node:worker_threads";
import type * as sluice from "../../src/index.js";

if (process.env.WORKER_BOT_BROKEN === "1") throw new Error("this worker file is broken on purpose");

const { BotWorker } = (
    process.env.WORKER_BOT_LIB === "reference" ? await import("@grammyjs/runner") : await import("../../src/index.js")
) as { BotWorker: typeof sluice.BotWorker };
const bot = new BotWorker(process.env.WORKER_BOT_TOKEN ?? "", { client: { apiRoot: process.env.WORKER_BOT_API_ROOT ?? "" } });

/** True the second time it is asked about an update: "once" commands kill the first thread only. */
function seenBefore(updateId: number): boolean {
    const mark = join(process.env.WORKER_BOT_DIR ?? ".", `died-${updateId}`);
    if (existsSync(mark)) return true;
    writeFileSync(mark, "");
    return false;
}

function burn(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until) {}
}

let running = 0;
let dieSoon = false;
// Started while the file loads, so outside every update's scope: an exit from here names no update.
setInterval(() => dieSoon && process.exit(5), 5).unref();

bot.on("message:text", async (ctx) => {
    running++;
    try {
        const text = ctx.message.text;
        const [command, argument] = text.split(" ");
        // Plain messages wait a little first: two of one chat running at once would then reply out of order.
        if (command === "msg") await sleep((ctx.update.update_id * 7) % 5);
        if (command !== "burn") await ctx.reply(`start ${text} thread=${threadId} running=${running}`);
        switch (command) {
            case "slow":
                await sleep(Number(argument));
                break;
            case "burn":
                burn(Number(argument));
                break;
            case "exit-once":
                if (!seenBefore(ctx.update.update_id)) process.exit(3);
                break;
            case "throw-once":
                if (!seenBefore(ctx.update.update_id)) {
                    setTimeout(() => {
                        throw new Error(`thrown by ${text}`);
                    }, 1);
                    await sleep(1_000);
                }
                break;
            case "poison":
                process.exit(9);
                break;
            case "unnamed":
                dieSoon = true;
                await sleep(1_000);
                break;
            case "fail":
                throw new Error(`handler failed on ${text}`);
        }
    } finally {
        running--;
    }
});

if (process.env.WORKER_BOT_CATCH === "1") bot.catch((error) => error.ctx.reply(`caught ${(error.error as Error).message}`));
