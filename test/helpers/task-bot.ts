/**
 * A bot with a journal and durable tasks, run in a child process to replay an
 * update that added tasks. Environment: API_ROOT, BOT_TOKEN, STORE (file),
 * CRASH (set: the handler ends the process with SIGKILL once its tasks are
 * added, so the next life replays the update).
 * Each message's handler adds a task "welcome", waits until it is done (its
 * own handler adds a task "followUp"), then adds a task "remind", and prints
 * "added <welcome id> <remind id>"; without CRASH it prints "handled" after.
 */
import { Bot } from "grammy";
import { run } from "../../src/index.js";
import { say } from "./say.js";

const { API_ROOT, BOT_TOKEN, STORE, CRASH } = process.env;

const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
bot.on("message", async (ctx) => {
    const tasks = handle.tasks!;
    const welcome = await tasks.add("welcome", { chat: ctx.chat.id });
    await tasks.done(welcome.id);
    const remind = await tasks.add("remind", { chat: ctx.chat.id });
    say(`added ${welcome.id} ${remind.id}`);
    if (CRASH) process.kill(process.pid, "SIGKILL");
    say("handled");
});
const handle = run(bot, {
    store: STORE!,
    tasks: {
        handlers: {
            welcome: async (payload: { chat: number }) => void (await handle.tasks!.add("followUp", payload)),
            remind: () => {},
            followUp: () => {},
        },
    },
    signals: false,
});
