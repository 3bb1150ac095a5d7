import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import { run } from "../src/index.js";
import { type TestRig, startRig, until } from "./helpers/bots.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("outbox-run");
let rig: TestRig | undefined;
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

it("ctx.reply goes through the outbox, resolves with the sent message, and dead letters surface as GrammyErrors", async () => {
    rig = await startRig({ limits: { privatePerSecond: 5 } });
    rig.sim.blockChat(rig.token, 99);
    const bot = rig.bot();
    const replies: number[] = [];
    const failures: string[] = [];
    bot.on("message", async (ctx) => {
        try {
            const sent = await ctx.reply(`echo ${ctx.message.text}`);
            replies.push(sent.message_id);
        } catch (error) {
            failures.push((error as { description?: string }).description ?? String(error));
        }
    });
    for (let i = 0; i < 6; i++) rig.sim.pushMessage(rig.token, { chatId: 1, text: String(i) });
    rig.sim.pushMessage(rig.token, { chatId: 99, text: "to a blocked chat" });
    const handle = run(bot, { signals: false, store: join(dir, "reply.db"), outbox: { privatePerSecond: 4 } });
    await until(() => replies.length === 6 && failures.length === 1, 10_000, "the replies");
    const deadLetters = handle.outbox!.deadLetters();
    await handle.stop();
    assert.equal(rig.sim.stats(rig.token).floodRejections, 0);
    assert.deepEqual(
        rig.sim.sent(rig.token).map((call) => call.payload.text),
        ["echo 0", "echo 1", "echo 2", "echo 3", "echo 4", "echo 5"],
    );
    assert.match(failures[0]!, /blocked/);
    assert.equal(deadLetters[0]?.error?.errorClass, "blocked_by_user");
});

it("a replayed update's replies are not sent twice", async () => {
    rig = await startRig();
    const path = join(dir, "replay.db");
    const first = rig.bot();
    let crashed = false;
    first.on("message", async (ctx) => {
        await ctx.reply("one");
        await ctx.reply("two");
        crashed = true;
        await new Promise(() => {}); // dies here, as far as the journal knows
    });
    rig.sim.pushMessage(rig.token, { chatId: 3, text: "hi" });
    const handle = run(first, { signals: false, store: path, outbox: true, stopTimeoutMs: 50 });
    await until(() => crashed);
    await handle.stop(); // the update stays unfinished in the journal

    const second = rig.bot();
    const results: number[] = [];
    second.on("message", async (ctx) => {
        results.push((await ctx.reply("one")).message_id, (await ctx.reply("two")).message_id);
        results.push((await ctx.reply("three")).message_id);
    });
    const replay = run(second, { signals: false, store: path, outbox: true });
    await until(() => results.length === 3);
    await replay.stop();
    assert.deepEqual(
        rig.sim.sent(rig.token).map((call) => call.payload.text),
        ["one", "two", "three"],
    );
    const sentIds = rig.sim.sent(rig.token).map((call) => (call.result as { message_id: number }).message_id);
    assert.deepEqual(results, sentIds, "the replay got the stored results of the replies already sent");
});
