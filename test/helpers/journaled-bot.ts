/**
 * A bot with a journal, run in a child process by the crash tests.
 * Environment: API_ROOT, BOT_TOKEN, STORE (file), WORK_MS (handler work: "max" or "min-max" milliseconds,
 * random in between), OUTBOX (set: each handler also replies "r<update_id>" through the outbox),
 * POISON (what a message with the text "poison" does to the process, in the middle of its handler):
 *   exit     process.exit(3)                           (the default)
 *   throw    throws from a timer: an uncaught exception
 *   reject   leaves a rejected promise unhandled
 *   kill     sends SIGKILL to its own process (as the OOM killer or a native crash would end it)
 *   caught   throws, and the bot's error handler (bot.catch) ends the process with process.exit(5)
 * Writes one line per event to stdout, synchronously so that a SIGKILL loses none:
 *   s <update_id> <chat_id>   a handler started
 *   e <update_id>             a handler ended
 *   f <id>,<id>,...           done marks written to the store
 *   r                         run() has started (signal handlers are installed)
 */
import { Bot } from "grammy";
import { run } from "../../src/index.js";
import { say } from "./say.js";

const { API_ROOT, BOT_TOKEN, STORE, WORK_MS, OUTBOX, POISON } = process.env;
const [minWork, maxWork] = (WORK_MS ?? "0").includes("-") ? WORK_MS!.split("-").map(Number) : [0, Number(WORK_MS ?? 0)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const poisons: Record<string, () => void> = {
    exit: () => process.exit(3),
    throw: () =>
        void setTimeout(() => {
            throw new Error("poison thrown from a timer");
        }, 1),
    reject: () => void Promise.reject(new Error("poison left unhandled")),
    kill: () => process.kill(process.pid, "SIGKILL"),
    caught: () => {
        throw new Error("poison for bot.catch");
    },
};

const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
bot.on("message", async (ctx) => {
    say(`s ${ctx.update.update_id} ${ctx.chat.id}`);
    if (ctx.message.text === "poison") {
        poisons[POISON ?? "exit"]!();
        await sleep(1_000);
    }
    if (maxWork! > 0) await sleep(minWork! + Math.random() * (maxWork! - minWork!));
    if (OUTBOX) await ctx.reply(`r${ctx.update.update_id}`);
    say(`e ${ctx.update.update_id}`);
});
bot.catch(() => process.exit(5));
const handle = run(bot, {
    store: STORE!,
    journal: { onFlush: (ids) => say(`f ${ids.join(",")}`) },
    ...(OUTBOX ? { outbox: { globalPerSecond: 1000, privatePerSecond: 100 } } : {}),
});
say("r");
await handle.task();
