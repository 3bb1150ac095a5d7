/**
 * A central bot run entirely by @grammyjs/runner (its run and its
 * distribute) handing updates to test/helpers/worker-bot.ts, whose BotWorker
 * comes from `WORKER_BOT_LIB`. Prints what the worker bots sent, per chat, as
 * one JSON line, then ends the process: the reference keeps its worker
 * threads for the life of the process, so nothing else would end it.
 */
import { fileURLToPath } from "node:url";
import * as reference from "@grammyjs/runner";
import type { Context } from "grammy";
import { startRig, until } from "./bots.js";

const rig = await startRig();
Object.assign(process.env, { WORKER_BOT_TOKEN: rig.token, WORKER_BOT_API_ROOT: rig.sim.apiRoot });
const bot = rig.bot();
bot.use(reference.sequentialize((ctx: Context) => String(ctx.chat?.id)));
bot.use(reference.distribute<Context>(fileURLToPath(new URL("./worker-bot.mjs", import.meta.url)), { count: 2 }));
const handle = reference.run(bot);
for (let i = 0; i < 100; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 10), userId: 1 + (i % 10), text: `msg ${i}` });
await until(() => rig.sim.calls(rig.token, "sendMessage").length === 100, 15_000, "100 replies");
await handle.stop();
const sent: Record<string, string[]> = {};
for (const call of rig.sim.calls(rig.token, "sendMessage")) {
    (sent[String(call.payload.chat_id)] ??= []).push(String(call.payload.text).replace(/ thread=.*/, ""));
}
console.log(JSON.stringify(sent));
await rig.close();
process.exit(0);
