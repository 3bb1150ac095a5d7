import assert from "node:assert/strict";
import { it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import * as reference from "@grammyjs/runner";
import type { Bot, Context } from "grammy";
import * as sluice from "../src/index.js";
import { startRig, until } from "./helpers/bots.js";

type Runner = typeof reference | typeof sluice;

/** One bot's code, written against whichever runner module it is given. */
function installBot(bot: Bot<Context>, lib: Runner): void {
    bot.use(lib.sequentialize((ctx: Context) => [String(ctx.chat?.id), String(ctx.from?.id)]));
    const counters = new Map<number, number>();
    bot.command("start", (ctx) => ctx.reply("welcome"));
    bot.on("message:text", async (ctx) => {
        const n = (counters.get(ctx.chat.id) ?? 0) + 1;
        counters.set(ctx.chat.id, n);
        await delay((ctx.message.message_id * 7) % 5);
        await ctx.reply(`#${n}: ${ctx.message.text.toUpperCase()}`);
    });
    bot.on("callback_query:data", (ctx) => ctx.answerCallbackQuery({ text: ctx.callbackQuery.data }));
}

/** What a bot did, per chat, in order: the texts it sent and the callbacks it answered. */
async function behaviourUnder(lib: Runner): Promise<{ sent: Record<string, string[]>; handle: string[] }> {
    const rig = await startRig();
    try {
        const bot = rig.bot();
        installBot(bot, lib);
        for (let i = 0; i < 400; i++) {
            const chatId = i % 4 === 0 ? -(1000 + (Math.floor(i / 4) % 8)) : 1 + (i % 40);
            rig.sim.pushMessage(rig.token, { chatId, userId: 1 + (i % 40), text: i % 50 === 0 ? "/start" : `msg ${i}` });
        }
        rig.sim.pushUpdate(rig.token, {
            callback_query: { id: "cb1", from: { id: 5, is_bot: false, first_name: "E" }, chat_instance: "x", data: "yes" },
        });
        const observed: string[] = [];
        const handle = lib.run(bot, { sink: { concurrency: 50 } });
        observed.push(`running:${handle.isRunning()}`, `task:${handle.task() instanceof Promise}`);
        await until(() => rig.sim.calls(rig.token).length === 401, 20_000, "all replies");
        observed.push(`size:${typeof handle.size()}`);
        await handle.stop();
        observed.push(`running:${handle.isRunning()}`);
        const sent: Record<string, string[]> = {};
        for (const call of rig.sim.calls(rig.token)) {
            const key = call.method === "answerCallbackQuery" ? "callbacks" : String(call.payload.chat_id);
            (sent[key] ??= []).push(String(call.payload.text));
        }
        return { sent, handle: observed };
    } finally {
        await rig.close();
    }
}

it("the same bot does the same things under @grammyjs/runner and under sluice", async () => {
    const underReference = await behaviourUnder(reference);
    const underSluice = await behaviourUnder(sluice);
    assert.equal(Object.keys(underReference.sent).length, 39); // 30 private chats, 8 groups, callbacks
    assert.deepEqual(underSluice.sent, underReference.sent);
    assert.deepEqual(underSluice.handle, underReference.handle);
});
