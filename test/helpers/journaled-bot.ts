/**
 * A bot with a journal, run in a child process by the crash tests.
 * Environment: API_ROOT, BOT_TOKEN, STORE (file), WORK_MS (max random handler work),
 * OUTBOX (set: each handler also replies "r<update_id>" through the outbox).
 * Writes one line per event to stdout, synchronously so that a SIGKILL loses none:
 *   s <update_id> <chat_id>   a handler started
 *   e <update_id>             a handler ended
 *   f <id>,<id>,...           done marks written to the store
 *   r                         run() has started (signal handlers are installed)
 * A message with the text "poison" makes the process exit in the middle of its handler.
 */
import { writeSync } from "node:fs";
import { Bot } from "grammy";
import { run } from "../../src/index.js";

const { API_ROOT, BOT_TOKEN, STORE, WORK_MS, OUTBOX } = process.env;
const maxWork = Number(WORK_MS ?? 0);
const say = (line: string) => writeSync(1, `${line}\n`);

const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
bot.on("message", async (ctx) => {
    say(`s ${ctx.update.update_id} ${ctx.chat.id}`);
    if (ctx.message.text === "poison") process.exit(3);
    if (maxWork > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * maxWork));
    if (OUTBOX) await ctx.reply(`r${ctx.update.update_id}`);
    say(`e ${ctx.update.update_id}`);
});
const handle = run(bot, {
    store: STORE!,
    journal: { onFlush: (ids) => say(`f ${ids.join(",")}`) },
    ...(OUTBOX ? { outbox: { globalPerSecond: 1000, privatePerSecond: 100 } } : {}),
});
say("r");
await handle.task();
