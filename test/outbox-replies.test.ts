import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import { GrammyError } from "grammy";
import { createLogger, run } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("outbox-replies");
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

it("stop() keeps its deadline while a send is in flight, and the cancelled send stays queued for the next start", async () => {
    rig = await startRig({ faults: { latencyMs: 8_000, methods: ["sendMessage"] } });
    const path = join(dir, "slow-send.db");
    const bot = rig.bot();
    let replying = false;
    bot.on("message", async (ctx) => {
        replying = true;
        await ctx.reply("slow");
    });
    rig.sim.pushMessage(rig.token, { chatId: 7, text: "hi" });
    const handle = run(bot, { signals: false, store: path, outbox: true, stopTimeoutMs: 200 });
    await until(
        () => replying && rig!.sim.calls(rig!.token).some((call) => call.method === "sendMessage"),
        5_000,
        "the send to be in flight",
    );
    const started = performance.now();
    await handle.stop();
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 1_500, `stop() took ${Math.round(tookMs)} ms with stopTimeoutMs 200 and an 8 s send in flight`);

    rig.sim.setFaults({});
    const again = run(rig.bot(), { signals: false, store: path, outbox: true });
    assert.equal(again.outbox!.status(1)?.state, "queued", "the cancelled send was kept");
    await again.outbox!.sent(1);
    await again.stop();
    // The simulator, like Telegram, had already taken the first request: the documented at-least-once edge.
    const texts = rig.sim.sent(rig.token).map((call) => call.payload.text);
    assert.ok(texts.length >= 1 && texts.length <= 2 && texts.every((text) => text === "slow"), JSON.stringify(texts));
});

it("hands a handler Telegram's own error for a dead letter: its code and description, also after retries ran out", async () => {
    rig = await startRig();
    const bot = rig.bot();
    const errors: unknown[] = [];
    bot.on("message", async (ctx) => {
        try {
            await ctx.reply(ctx.message.text ?? "");
        } catch (error) {
            errors.push(error);
        }
    });
    rig.sim.failNext("sendMessage", { status: 502, count: 2 }); // both attempts maxRetries 1 allows
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "through a broken gateway" });
    const handle = run(bot, { signals: false, outbox: { maxRetries: 1 } });
    await until(() => errors.length === 1, 10_000, "the dead letter");
    rig.sim.failNext("sendMessage", { status: 400, description: "Bad Request: message thread not found" });
    rig.sim.pushMessage(rig.token, { chatId: 2, text: "to a closed topic" });
    await until(() => errors.length === 2, 10_000, "the second dead letter");
    const [dead] = handle.outbox!.deadLetters();
    await handle.stop();
    const [exhausted, refused] = errors as GrammyError[];
    assert.ok(exhausted instanceof GrammyError);
    assert.equal(exhausted.error_code, 502, "the 5xx Telegram answered, not a made-up 400");
    assert.match(exhausted.description, /Bad Gateway/);
    assert.ok(refused instanceof GrammyError);
    assert.equal(refused.error_code, 400);
    assert.equal(refused.description, "Bad Request: message thread not found");
    assert.deepEqual(dead?.error, { errorClass: "retries_exhausted", description: exhausted.description, errorCode: 502 });
});

it("refuses options that would silently override others, and says what closed when a stopped handle is started again", async () => {
    rig = await startRig();
    const path = join(dir, "options.db");
    assert.throws(() => run(rig!.bot(), { signals: false, store: path, runner: { offset: 5 } }), {
        code: "INVALID_OPTION",
        message: /runner\.offset.*journal keeps the offset/,
    });
    const logger = createLogger({ level: "silent" });
    assert.throws(() => run(rig!.bot(), { signals: false, logger, runner: { logger: createLogger({ level: "silent" }) } }), {
        code: "INVALID_OPTION",
        message: /runner\.logger/,
    });
    for (const [outbox, option] of [
        [{ globalPerSecond: 0 }, "outbox.globalPerSecond"],
        [{ privatePerSecond: Number.NaN }, "outbox.privatePerSecond"],
        [{ maxInFlight: 0 }, "outbox.maxInFlight"],
        [{ keepSentMs: -1 }, "outbox.keepSentMs"],
    ] as const) {
        assert.throws(() => run(rig!.bot(), { signals: false, outbox }), {
            code: "INVALID_OPTION",
            message: new RegExp(`\`${option.replace(".", "\\.")}\`: expected`),
        });
    }
    const handle = run(rig.bot(), { signals: false, outbox: true });
    await handle.stop();
    assert.throws(() => handle.start(), { code: "HANDLE_STOPPED", message: /closed its outbox when it stopped/ });
});
