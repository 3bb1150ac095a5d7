import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { ConflictError, createLogger, run, UnauthorizedError } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";

let rig: TestRig | undefined;
const quiet = createLogger({ level: "silent" });
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

describe("run(bot) against the simulator", () => {
    it("handles every update once and replies in per-chat order", async () => {
        rig = await startRig();
        const bot = rig.bot();
        bot.on("message", async (ctx) => {
            await delay(Math.random() * 3);
            await ctx.reply(`echo ${ctx.message.text}`);
        });
        for (let i = 0; i < 300; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 30), text: String(i) });
        const handle = run(bot, { signals: false });
        await until(() => rig!.sim.sent(rig!.token).length === 300, 10_000, "300 replies");
        await handle.stop();
        const byChat = new Map<number, number[]>();
        for (const call of rig.sim.sent(rig.token)) {
            const chat = Number(call.payload.chat_id);
            const n = Number(String(call.payload.text).slice("echo ".length));
            byChat.set(chat, [...(byChat.get(chat) ?? []), n]);
        }
        assert.equal(byChat.size, 30);
        for (const [chat, seen] of byChat) {
            assert.deepEqual(
                seen,
                [...seen].sort((a, b) => a - b),
                `chat ${chat} replied out of order`,
            );
            assert.equal(seen.length, 10);
        }
    });

    it("stop confirms the handled offset, so a restart does not receive the last batch again", async () => {
        rig = await startRig();
        const handled: number[] = [];
        const first = rig.bot();
        first.on("message", (ctx) => {
            handled.push(ctx.update.update_id);
        });
        for (let i = 0; i < 5; i++) rig.sim.pushMessage(rig.token, { chatId: 7, text: `m${i}` });
        const handle = run(first, { signals: false });
        await until(() => handled.length === 5);
        await handle.stop();
        assert.equal(handle.isRunning(), false);
        assert.equal(rig.sim.pending(rig.token), 0, "nothing left unconfirmed at Telegram");
        assert.equal(rig.sim.confirmedOffset(rig.token), 6);

        const second = rig.bot();
        const again: number[] = [];
        second.on("message", (ctx) => {
            again.push(ctx.update.update_id);
        });
        const restarted = run(second, { signals: false });
        rig.sim.pushMessage(rig.token, { chatId: 7, text: "new" });
        await until(() => again.length === 1);
        await delay(50);
        await restarted.stop();
        assert.deepEqual(again, [6]);
    });

    it("stop resolves when a handler hangs and the sink is full", async () => {
        rig = await startRig();
        const bot = rig.bot();
        const started: number[] = [];
        bot.on("message", async (ctx) => {
            started.push(ctx.update.update_id);
            await new Promise(() => {}); // never ends
        });
        for (let i = 0; i < 5; i++) rig.sim.pushMessage(rig.token, { chatId: 1, text: "x" });
        const handle = run(bot, { signals: false, stopTimeoutMs: 200, sink: { concurrency: 1, maxWaiting: 1 } });
        await until(() => started.length === 1);
        const begun = Date.now();
        await handle.stop();
        assert.ok(Date.now() - begun < 2_000, "stop gave up on the hung handler after its timeout");
        assert.equal(handle.task(), undefined);
        assert.equal(handle.size(), 5, "the hung update and those behind it in its chat stay unfinished");
        assert.deepEqual(started, [1], "nothing new starts after the stop");
    });

    it("waits for in-flight handlers before stop resolves", async () => {
        rig = await startRig();
        const bot = rig.bot();
        let finished = 0;
        bot.on("message", async () => {
            await delay(100);
            finished++;
        });
        for (let i = 0; i < 20; i++) rig.sim.pushMessage(rig.token, { chatId: 100 + i, text: "x" });
        const handle = run(bot, { signals: false });
        await until(() => handle.size() === 20);
        await handle.stop();
        assert.equal(finished, 20);
        assert.equal(rig.sim.confirmedOffset(rig.token), 21);
    });

    it("ends with UnauthorizedError on 401, without the token in the error or the logs", async () => {
        rig = await startRig();
        const lines: string[] = [];
        const logger = createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } });
        const bogus = `${rig.botInfo.id}:AAbogusbogusbogusbogusbogusbogusbogus`;
        const { Bot } = await import("grammy");
        const bot = new Bot(bogus, { client: { apiRoot: rig.sim.apiRoot }, botInfo: rig.botInfo });
        const handle = run(bot, { signals: false, logger });
        await assert.rejects(handle.task()!, (error: unknown) => {
            assert.ok(error instanceof UnauthorizedError);
            assert.equal(error.code, "UNAUTHORIZED");
            assert.ok(!error.message.includes(bogus));
            return true;
        });
        assert.ok(lines.length > 0, "the failure was logged");
        assert.ok(!lines.join("\n").includes("AAbogusbogus"), "no token in the logs");
        assert.equal(handle.isRunning(), false);
    });

    it("ends with ConflictError('webhook') when a webhook is set", async () => {
        rig = await startRig();
        rig.sim.setWebhook(rig.token, "https://example.invalid/hook");
        const handle = run(rig.bot(), { signals: false, logger: quiet });
        await assert.rejects(handle.task()!, (error: unknown) => {
            assert.ok(error instanceof ConflictError);
            assert.equal(error.reason, "webhook");
            assert.match(error.message, /deleteWebhook/);
            return true;
        });
    });

    it("ends with ConflictError('poller') when another process polls with the same token", async () => {
        rig = await startRig();
        const handle = run(rig.bot(), { signals: false, logger: quiet });
        await delay(100); // our long poll is open now
        const other = fetch(`${rig.sim.apiRoot}/bot${rig.token}/getUpdates`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ timeout: 1 }),
        });
        await assert.rejects(handle.task()!, (error: unknown) => {
            assert.ok(error instanceof ConflictError);
            assert.equal(error.reason, "poller");
            return true;
        });
        await other;
    });

    it("retries through 5xx answers, dropped connections and 429 on getUpdates without losing or repeating updates", async () => {
        rig = await startRig({ faults: { serverErrorRate: 0.3, dropRate: 0.1, methods: ["getUpdates"], seed: 7 } });
        const bot = rig.bot();
        const seen: number[] = [];
        bot.on("message", (ctx) => {
            seen.push(ctx.update.update_id);
        });
        for (let i = 0; i < 200; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 10), text: "x" });
        const handle = run(bot, { signals: false, runner: { retryInterval: 10, silent: true } });
        await until(() => seen.length >= 200, 20_000, "200 updates");
        rig.sim.setFaults({});
        rig.sim.failNext("getUpdates", { status: 429, retryAfter: 1, token: rig.token });
        rig.sim.pushMessage(rig.token, { chatId: 1, text: "after 429" });
        const before = Date.now();
        await until(() => seen.length === 201, 5_000, "the update after the 429");
        assert.ok(Date.now() - before >= 900, "waited out retry_after");
        await handle.stop();
        assert.deepEqual(
            [...seen].sort((a, b) => a - b),
            Array.from({ length: 201 }, (_, i) => i + 1),
        );
    });

    it("forwards allowed_updates and the long-poll timeout to getUpdates", async () => {
        rig = await startRig();
        const bot = rig.bot();
        const kinds: string[] = [];
        bot.on("message", () => void kinds.push("message"));
        bot.on("callback_query", () => void kinds.push("callback_query"));
        rig.sim.pushMessage(rig.token, { chatId: 1, text: "dropped by allowed_updates" });
        rig.sim.pushUpdate(rig.token, {
            callback_query: {
                id: "1",
                from: { id: 1, is_bot: false, first_name: "A" },
                chat_instance: "1",
                data: "x",
            },
        });
        const handle = run(bot, { signals: false, runner: { fetch: { allowed_updates: ["callback_query"], timeout: 1 } } });
        await until(() => kinds.length === 1);
        await delay(50);
        await handle.stop();
        assert.deepEqual(kinds, ["callback_query"]);
    });
});
