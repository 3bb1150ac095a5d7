import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Bot, GrammyError, HttpError, InputFile } from "grammy";
import type { Message, Update } from "grammy/types";
import { createSimulator, forkSimulator, type Simulator, type SimulatorOptions, syntheticTraffic } from "../src/simulator/index.js";

/** Runs `fn` with a fresh simulator and one bot; always closes the simulator. */
async function withSim(options: SimulatorOptions, fn: (sim: Simulator, token: string, bot: Bot) => Promise<void>): Promise<void> {
    const sim = await createSimulator(options);
    try {
        const { token } = sim.createBot();
        await fn(sim, token, new Bot(token, { client: { apiRoot: sim.apiRoot } }));
    } finally {
        await sim.close();
    }
}

interface Answer {
    status: number;
    body: { ok: boolean; result?: unknown; error_code?: number; description?: string; parameters?: { retry_after?: number } };
}

/** A raw Bot API call, for what grammY hides (status codes, exact bodies). */
async function api(
    sim: Simulator,
    token: string,
    method: string,
    params: Record<string, unknown> = {},
    init: { signal?: AbortSignal } = {},
): Promise<Answer> {
    const res = await fetch(`${sim.apiRoot}/bot${token}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(params),
        signal: init.signal,
    });
    return { status: res.status, body: (await res.json()) as Answer["body"] };
}

const ids = (answer: Answer) => (answer.body.result as Update[]).map((update) => update.update_id);

describe("simulator: identity and routing", () => {
    test("getMe answers the bot's user, through grammY", () =>
        withSim({}, async (sim, token, bot) => {
            const me = await bot.api.getMe();
            const [id] = token.split(":");
            assert.equal(me.id, Number(id));
            assert.equal(me.is_bot, true);
            assert.match(me.username, /bot$/);
            assert.equal(me.can_join_groups, true);
            assert.match(token, /^\d+:[A-Za-z0-9_-]{35}$/);
            assert.deepEqual(sim.calls(token), [], "getMe is not recorded");
        }));

    test("unknown token is 401, unknown method 404, method names are case-insensitive", () =>
        withSim({}, async (sim, token) => {
            const stranger = new Bot("123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", { client: { apiRoot: sim.apiRoot } });
            await assert.rejects(stranger.api.getMe(), (error: unknown) => {
                assert.ok(error instanceof GrammyError);
                assert.equal(error.error_code, 401);
                assert.equal(error.description, "Unauthorized");
                return true;
            });
            const unknown = await api(sim, token, "sendTelepathy");
            assert.deepEqual([unknown.status, unknown.body], [404, { ok: false, error_code: 404, description: "Not Found" }]);
            const lower = await api(sim, token, "sendmessage", { chat_id: 1, text: "x" });
            assert.equal(lower.status, 200);
            assert.equal(sim.calls(token)[0]?.method, "sendMessage");
        }));

    test("GET with a query string and urlencoded forms are read like JSON", () =>
        withSim({}, async (sim, token) => {
            sim.pushMessage(token, { chatId: 5, text: "a" });
            sim.pushMessage(token, { chatId: 5, text: "b" });
            const res = await fetch(`${sim.apiRoot}/bot${token}/getUpdates?offset=2&limit=5`);
            const body = (await res.json()) as { result: Update[] };
            assert.deepEqual(
                body.result.map((u) => u.update_id),
                [2],
            );
            await fetch(`${sim.apiRoot}/bot${token}/sendMessage`, {
                method: "POST",
                headers: { "content-type": "application/x-www-form-urlencoded" },
                body: new URLSearchParams({ chat_id: "-100777", text: "42", reply_markup: '{"inline_keyboard":[]}' }),
            });
            const [call] = sim.calls(token);
            assert.deepEqual(call?.payload, { chat_id: -100777, text: "42", reply_markup: { inline_keyboard: [] } });
            assert.equal(call?.chatId, -100777);
        }));
});

describe("simulator: getUpdates", () => {
    test("offset confirms, limit caps, negative offset reads from the end", () =>
        withSim({}, async (sim, token) => {
            const pushed = [1, 2, 3, 4, 5].map((n) => sim.pushMessage(token, { chatId: 10, text: `m${n}` }));
            assert.deepEqual(
                pushed.map((u) => u.update_id),
                [1, 2, 3, 4, 5],
            );
            assert.equal(pushed[1]?.message?.message_id, 2, "message ids count per chat");

            assert.deepEqual(ids(await api(sim, token, "getUpdates", { limit: 2 })), [1, 2]);
            assert.equal(sim.pending(token), 5, "reading does not confirm");
            assert.equal(sim.confirmedOffset(token), 0);

            assert.deepEqual(ids(await api(sim, token, "getUpdates", { offset: 3, limit: 100 })), [3, 4, 5]);
            assert.equal(sim.pending(token), 3);
            assert.equal(sim.confirmedOffset(token), 3);

            assert.deepEqual(ids(await api(sim, token, "getUpdates", { offset: 1 })), [3, 4, 5], "an old offset un-confirms nothing");
            assert.deepEqual(ids(await api(sim, token, "getUpdates", { offset: -1 })), [5]);
            assert.equal(sim.pending(token), 1);

            assert.deepEqual(ids(await api(sim, token, "getUpdates", { offset: 6 })), []);
            assert.equal(sim.pending(token), 0);
            assert.equal(sim.confirmedOffset(token), 6);

            const stats = sim.stats(token);
            assert.equal(stats.getUpdatesCalls, 5);
            assert.equal(stats.updatesDelivered, 9);
            assert.deepEqual(sim.calls(token), [], "getUpdates is not recorded");
        }));

    test("allowed_updates filters types and is remembered", () =>
        withSim({}, async (sim, token) => {
            sim.pushMessage(token, { chatId: 1, text: "hello" });
            sim.pushCallbackQuery(token, { chatId: 1, data: "yes" });
            const first = await api(sim, token, "getUpdates", { allowed_updates: ["callback_query"] });
            assert.deepEqual(
                (first.body.result as Update[]).map((u) => Object.keys(u)[1]),
                ["callback_query"],
            );
            sim.pushMessage(token, { chatId: 1, text: "dropped" });
            assert.equal(sim.pending(token), 1, "a message is not stored while only callback queries are allowed");
            const second = await api(sim, token, "getUpdates", {});
            assert.deepEqual(ids(second), [2]);
            await api(sim, token, "getUpdates", { allowed_updates: [] });
            // By default, like Telegram, chat_member updates must be asked for.
            sim.pushUpdate(token, { chat_member: {} as NonNullable<Update["chat_member"]> });
            sim.pushMessage(token, { chatId: 1, text: "default again" });
            const third = await api(sim, token, "getUpdates", { offset: 3 });
            assert.deepEqual(
                (third.body.result as Update[]).map((u) => [u.update_id, Object.keys(u)[1]]),
                [[5, "message"]],
            );
        }));

    test("a long poll is answered as soon as an update arrives", () =>
        withSim({}, async (sim, token) => {
            const started = Date.now();
            const poll = api(sim, token, "getUpdates", { timeout: 10 });
            await sim.waitFor(() => sim.stats(token).polling);
            sim.pushMessage(token, { chatId: 1, text: "a" });
            sim.pushMessage(token, { chatId: 1, text: "b" });
            const answer = await poll;
            assert.ok(Date.now() - started < 2000);
            assert.deepEqual(ids(answer), [1, 2], "updates pushed in one tick arrive in one batch");
            assert.equal(sim.stats(token).polling, false);
        }));

    test("a long poll without updates answers [] after its timeout", () =>
        withSim({}, async (sim, token) => {
            const started = Date.now();
            const answer = await api(sim, token, "getUpdates", { timeout: 1 });
            const elapsed = Date.now() - started;
            assert.deepEqual(answer.body, { ok: true, result: [] });
            assert.ok(elapsed >= 950 && elapsed < 2000, `answered after ${elapsed} ms`);
        }));

    test("a second poller ends the older one with 409", () =>
        withSim({}, async (sim, token) => {
            const older = api(sim, token, "getUpdates", { timeout: 10 });
            await sim.waitFor(() => sim.stats(token).polling);
            const newer = api(sim, token, "getUpdates", { timeout: 10 });
            const refused = await older;
            assert.equal(refused.status, 409);
            assert.deepEqual(refused.body, {
                ok: false,
                error_code: 409,
                description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            });
            await sim.waitFor(() => sim.stats(token).polling);
            sim.pushMessage(token, { chatId: 1, text: "for the newer" });
            assert.deepEqual(ids(await newer), [1]);
            assert.equal(sim.stats(token).conflicts, 1);
        }));

    test("an aborted long poll is dropped at once", () =>
        withSim({}, async (sim, token) => {
            const controller = new AbortController();
            const aborted = api(sim, token, "getUpdates", { timeout: 30 }, { signal: controller.signal });
            await sim.waitFor(() => sim.stats(token).polling);
            controller.abort();
            await assert.rejects(aborted);
            await sim.waitFor(() => !sim.stats(token).polling, { timeoutMs: 1000 });
            const next = await api(sim, token, "getUpdates", { timeout: 0 });
            assert.equal(next.status, 200);
            assert.equal(sim.stats(token).conflicts, 0);
        }));

    test("grammY's bot.start() polls, handles and confirms", () =>
        withSim({}, async (sim, token, bot) => {
            const seen: string[] = [];
            bot.command("start", (ctx) => ctx.reply("welcome"));
            bot.on("message:text", (ctx) => {
                seen.push(ctx.message.text);
                return ctx.reply(`echo ${ctx.message.text}`);
            });
            sim.pushMessage(token, { chatId: 42, text: "/start" });
            sim.pushMessage(token, { chatId: 42, text: "hi" });
            const done = bot.start();
            await sim.waitForCalls(token, 2, { method: "sendMessage" });
            sim.pushMessage(token, { chatId: 42, text: "late" });
            await sim.waitFor(() => seen.includes("late"));
            await bot.stop();
            await done;
            assert.deepEqual(
                sim.sent(token).map((s) => s.text),
                ["welcome", "echo hi", "echo late"],
            );
            assert.equal(sim.pending(token), 0);
            assert.equal(sim.confirmedOffset(token), 4);
        }));

    test("explicit update ids, events and waitForDrain", () =>
        withSim({}, async (sim, token, bot) => {
            const seen: string[] = [];
            sim.on("call", (call) => seen.push(call.method));
            const delivered: number[] = [];
            sim.on("updates", (updates) => delivered.push(updates.length));
            assert.equal(sim.pushUpdate(token, { update_id: 500, message: {} as NonNullable<Update["message"]> }).update_id, 500);
            assert.equal(sim.pushMessage(token, { chatId: 3, text: "next" }).update_id, 501);
            assert.throws(() => sim.pushUpdate(token, { update_id: 10, message: {} as NonNullable<Update["message"]> }), /ids only grow/);
            const drained = sim.waitForDrain(token);
            await bot.api.getUpdates({ offset: 502 });
            await drained;
            await bot.api.sendMessage(3, "x");
            assert.deepEqual(seen, ["sendMessage"]);
            assert.deepEqual(delivered, [0]);
            assert.throws(() => sim.pending("1:unknown"), /No bot with this token/);
        }));

    test("pushMessages handles 100k updates quickly", () =>
        withSim({}, async (sim, token) => {
            const specs = syntheticTraffic({ messages: 100_000, chats: 1000, floodShare: 0.2 });
            const started = Date.now();
            const updates = sim.pushMessages(token, specs);
            assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
            assert.equal(updates.at(-1)?.update_id, 100_000);
            assert.equal(sim.pending(token), 100_000);
            const answer = await api(sim, token, "getUpdates", { offset: 99_951 });
            assert.equal((answer.body.result as Update[]).length, 50);
            assert.equal(sim.pending(token), 50);
            // Traffic numbers each chat's messages, and the flooding chat sends about a fifth.
            const flood = specs.filter((spec) => spec.chatId === 1000);
            assert.ok(flood.length > 19_000 && flood.length < 22_000, `${flood.length}`);
            assert.deepEqual(
                flood.slice(0, 3).map((spec) => spec.text),
                ["#1", "#2", "#3"],
            );
        }));
});

describe("simulator: webhooks", () => {
    test("a webhook makes getUpdates 409 until deleteWebhook", () =>
        withSim({}, async (sim, token, bot) => {
            sim.pushMessage(token, { chatId: 1, text: "x" });
            await bot.api.setWebhook("https://example.com/hook");
            const refused = await api(sim, token, "getUpdates");
            assert.equal(refused.status, 409);
            assert.match(refused.body.description ?? "", /^Conflict: can't use getUpdates method while webhook is active/);
            const info = await bot.api.getWebhookInfo();
            assert.equal(info.url, "https://example.com/hook");
            assert.equal(info.pending_update_count, 1);
            await bot.api.deleteWebhook({ drop_pending_updates: true });
            assert.equal(sim.pending(token), 0);
            const allowed = await api(sim, token, "getUpdates");
            assert.deepEqual(allowed.body, { ok: true, result: [] });
            sim.setWebhook(token, "https://example.com/other");
            assert.equal((await api(sim, token, "getUpdates")).status, 409);
        }));
});

describe("simulator: sending", () => {
    test("sendMessage is recorded with its payload and a realistic result", () =>
        withSim({}, async (sim, token, bot) => {
            sim.pushMessage(token, { chatId: 77, text: "hi" });
            const reply = await bot.api.sendMessage(77, "hello", {
                reply_markup: { inline_keyboard: [[{ text: "ok", callback_data: "ok" }]] },
            });
            assert.equal(reply.message_id, 2, "after the user's message 1");
            assert.equal(reply.chat.type, "private");
            assert.deepEqual(reply.from, { id: Number(token.split(":")[0]), is_bot: true, first_name: "Sim Bot 1", username: "sim_1_bot" });
            assert.equal(reply.text, "hello");
            const group = await bot.api.sendMessage(-100123, "all");
            assert.equal(group.chat.type, "group");
            const supergroup = await bot.api.sendMessage(-1001234567890, "all");
            assert.equal(supergroup.chat.type, "supergroup");

            const [call] = sim.calls(token, "sendMessage");
            assert.equal(call?.ok, true);
            assert.equal(call?.chatId, 77);
            assert.deepEqual(call?.payload, {
                chat_id: 77,
                text: "hello",
                reply_markup: { inline_keyboard: [[{ text: "ok", callback_data: "ok" }]] },
            });
            assert.ok(call !== undefined && Math.abs(call.at - Date.now()) < 5000);
            const sent = sim.sent(token);
            assert.equal(sent.length, 3);
            assert.deepEqual(sent[0]?.message, reply);
        }));

    test("uploads, media groups, edits, copies and other methods", () =>
        withSim({}, async (sim, token, bot) => {
            const photo = await bot.api.sendPhoto(5, new InputFile(Buffer.from("fake image"), "cat.jpg"), { caption: "cat" });
            assert.equal(photo.caption, "cat");
            assert.equal(photo.photo?.length, 3);
            const upload = sim.calls(token, "sendPhoto")[0];
            assert.equal(upload?.payload.chat_id, 5);
            assert.equal(upload?.payload.caption, "cat");
            assert.match(String(upload?.payload.photo), /^attach:\/\//);

            const album = await bot.api.sendMediaGroup(5, [
                { type: "photo", media: "AgACfileid1" },
                { type: "photo", media: "AgACfileid2", caption: "two" },
            ]);
            assert.equal(album.length, 2);
            const [first, second] = album as Message[];
            assert.ok(first?.media_group_id !== undefined && first.media_group_id === second?.media_group_id);
            assert.equal(album[1]?.caption, "two");

            const edited = await bot.api.editMessageText(5, photo.message_id, "edited");
            assert.ok(edited !== true);
            assert.equal((edited as Message).text, "edited");
            assert.equal(typeof (edited as Message).edit_date, "number");
            assert.equal(await bot.api.editMessageTextInline("inline-1", "x"), true);
            assert.deepEqual(await bot.api.copyMessage(6, 5, photo.message_id), { message_id: 1 });
            assert.equal(await bot.api.deleteMessage(5, photo.message_id), true);
            assert.equal(await bot.api.sendChatAction(5, "typing"), true);
            await bot.api.setMyCommands([{ command: "start", description: "Start" }]);
            assert.deepEqual(await bot.api.getMyCommands(), [{ command: "start", description: "Start" }]);
            assert.equal(await bot.api.setChatTitle(-100, "t"), true);
            const dice = await bot.api.sendDice(5, "🎯");
            assert.ok(dice.dice !== undefined && dice.dice.value >= 1 && dice.dice.value <= 6);

            assert.deepEqual(
                sim.sent(token).map((s) => s.method),
                ["sendPhoto", "sendMediaGroup", "editMessageText", "editMessageText", "copyMessage", "sendDice"],
            );
        }));

    test("missing chat, blocked chats and lost chats fail like Telegram", () =>
        withSim({}, async (sim, token, bot) => {
            const missing = await api(sim, token, "sendMessage", { text: "x" });
            assert.deepEqual([missing.status, missing.body.description], [400, "Bad Request: chat not found"]);
            const empty = await api(sim, token, "sendMessage", { chat_id: 1, text: "" });
            assert.deepEqual([empty.status, empty.body.description], [400, "Bad Request: message text is empty"]);

            sim.blockChat(token, 9);
            await assert.rejects(bot.api.sendMessage(9, "x"), (error: unknown) => {
                assert.ok(error instanceof GrammyError);
                assert.equal(error.error_code, 403);
                assert.equal(error.description, "Forbidden: bot was blocked by the user");
                return true;
            });
            sim.setChatState(token, -100, "not_found");
            const lost = await api(sim, token, "sendMessage", { chat_id: -100, text: "x" });
            assert.deepEqual([lost.status, lost.body.description], [400, "Bad Request: chat not found"]);
            sim.setChatState(token, 9, "active");
            await bot.api.sendMessage(9, "back");

            const outcomes = sim.calls(token).map((call) => [call.ok, call.errorCode]);
            assert.deepEqual(outcomes, [
                [false, 400],
                [false, 400],
                [false, 403],
                [false, 400],
                [true, undefined],
            ]);
            assert.equal(sim.sent(token).length, 1);
        }));
});

describe("simulator: flood limits", () => {
    test("global limit answers 429 with retry_after; rejected calls do not count", () => {
        let now = 1_700_000_000_000;
        return withSim({ limits: { globalPerSecond: 3 }, clock: () => now }, async (sim, token, bot) => {
            for (const chat of [1, 2, 3]) await bot.api.sendMessage(chat, "ok");
            now += 400;
            const refused = await api(sim, token, "sendMessage", { chat_id: 4, text: "too many" });
            assert.equal(refused.status, 429);
            assert.deepEqual(refused.body, {
                ok: false,
                error_code: 429,
                description: "Too Many Requests: retry after 1",
                parameters: { retry_after: 1 },
            });
            assert.equal((await api(sim, token, "answerCallbackQuery", { callback_query_id: "1" })).status, 200, "not a message");
            now += 600; // the first three calls leave the window
            for (const chat of [4, 5, 6]) assert.equal((await api(sim, token, "sendMessage", { chat_id: chat, text: "ok" })).status, 200);
            const call = sim.calls(token, "sendMessage")[3];
            assert.deepEqual([call?.ok, call?.errorCode], [false, 429]);
            assert.equal(sim.stats(token).floodRejections, 1);
            await assert.rejects(bot.api.sendMessage(7, "x"), (error: unknown) => {
                assert.ok(error instanceof GrammyError);
                assert.equal(error.parameters.retry_after, 1);
                return true;
            });
        });
    });

    test("per-chat limit applies to private chats only, each chat on its own", () => {
        let now = 1_700_000_000_000;
        return withSim({ limits: { privatePerSecond: 1 }, clock: () => now }, async (sim, token) => {
            assert.equal((await api(sim, token, "sendMessage", { chat_id: 1, text: "a" })).status, 200);
            assert.equal((await api(sim, token, "sendMessage", { chat_id: 1, text: "b" })).status, 429);
            assert.equal((await api(sim, token, "sendMessage", { chat_id: 2, text: "c" })).status, 200);
            for (let i = 0; i < 5; i++) {
                assert.equal((await api(sim, token, "sendMessage", { chat_id: -5, text: "group" })).status, 200);
            }
            now += 1000;
            assert.equal((await api(sim, token, "sendMessage", { chat_id: 1, text: "d" })).status, 200);
        });
    });

    test("paid broadcasts pass beyond the bot's 30/s up to paidPerSecond; unpaid calls still draw 429", () => {
        const now = 1_700_000_000_000;
        return withSim(
            { limits: { globalPerSecond: 30, paidPerSecond: 1000, privatePerSecond: 1 }, clock: () => now },
            async (sim, token) => {
                const send = (chat: number, paid: boolean) =>
                    api(sim, token, "sendMessage", { chat_id: chat, text: "x", ...(paid ? { allow_paid_broadcast: true } : {}) });
                for (let chat = 1; chat <= 30; chat++) assert.equal((await send(chat, false)).status, 200);
                assert.equal((await send(31, false)).status, 429, "the 31st unpaid call in a second");
                for (let chat = 100; chat < 200; chat++) assert.equal((await send(chat, true)).status, 200, `paid call to ${chat}`);
                assert.equal((await send(100, true)).status, 429, "a chat's own limit still applies to paid calls");
                assert.equal((await send(32, false)).status, 429, "paid calls did not free the bot's window");
                assert.equal(sim.stats(token).floodRejections, 3);
            },
        );
    });

    test("per-group limit counts per minute; retry_after says how long", () => {
        let now = 1_700_000_000_000;
        return withSim({ limits: { groupPerMinute: 2 }, clock: () => now }, async (sim, token) => {
            const send = (chat: number) => api(sim, token, "sendMessage", { chat_id: chat, text: "x" });
            assert.equal((await send(-100)).status, 200);
            now += 10_000;
            assert.equal((await send(-100)).status, 200);
            now += 10_000;
            const refused = await send(-100);
            assert.equal(refused.status, 429);
            assert.equal(refused.body.parameters?.retry_after, 40);
            assert.equal((await send(-200)).status, 200, "another group has its own window");
            now += 39_500;
            assert.equal((await send(-100)).body.parameters?.retry_after, 1, "rounded up, at least 1");
            now += 500;
            assert.equal((await send(-100)).status, 200);
            sim.setLimits({});
            for (let i = 0; i < 5; i++) assert.equal((await send(-100)).status, 200);
        });
    });
});

describe("simulator: faults", () => {
    test("server errors only for the chosen methods, reproducible by seed", async () => {
        const run = async (): Promise<number[]> => {
            const statuses: number[] = [];
            await withSim({ faults: { serverErrorRate: 0.5, methods: ["sendMessage"], seed: 42 } }, async (sim, token, bot) => {
                assert.equal((await bot.api.getMe()).is_bot, true);
                for (let i = 0; i < 12; i++) statuses.push((await api(sim, token, "sendMessage", { chat_id: 1, text: "x" })).status);
                assert.equal(sim.stats(token).faults, statuses.filter((s) => s !== 200).length);
            });
            return statuses;
        };
        const first = await run();
        assert.deepEqual(await run(), first);
        assert.ok(first.some((s) => s === 500 || s === 502) && first.includes(200), first.join());
    });

    test("dropped connections, failNext and latency", () =>
        withSim({ faults: { dropRate: 1, methods: ["getChat"] } }, async (sim, token, bot) => {
            await assert.rejects(bot.api.getChat(1), (error: unknown) => error instanceof HttpError);
            assert.equal(sim.calls(token, "getChat")[0]?.dropped, true);

            sim.failNext("sendMessage", { status: 429, retryAfter: 3 });
            const limited = await api(sim, token, "sendMessage", { chat_id: 1, text: "x" });
            assert.deepEqual(limited.body, {
                ok: false,
                error_code: 429,
                description: "Too Many Requests: retry after 3",
                parameters: { retry_after: 3 },
            });
            assert.equal((await api(sim, token, "sendMessage", { chat_id: 1, text: "x" })).status, 200, "only once");
            sim.failNext("*", { status: 502, count: 2 });
            assert.equal((await api(sim, token, "getUpdates")).status, 502);
            assert.equal((await api(sim, token, "getMe")).status, 502);
            assert.equal((await api(sim, token, "getMe")).status, 200);

            sim.setFaults({ latencyMs: 150 });
            const started = Date.now();
            await bot.api.getMe();
            assert.ok(Date.now() - started >= 140);
            sim.setFaults({});
        }));

    test("delayNext holds one bot's next calls of a method, then serves them as usual", () =>
        withSim({}, async (sim, token, bot) => {
            const other = sim.createBot();
            sim.delayNext("getMe", { delayMs: 300, token });
            const started = performance.now();
            const held = bot.api.getMe();
            const otherMe = await api(sim, other.token, "getMe");
            assert.equal(otherMe.status, 200);
            assert.ok(performance.now() - started < 250, "another bot's getMe is not held");
            assert.equal((await held).id, Number(token.split(":")[0]));
            assert.ok(performance.now() - started >= 290);
            const next = performance.now();
            await bot.api.getMe();
            assert.ok(performance.now() - next < 250, "only the next call waits");
            assert.equal(sim.stats(token).getMeCalls, 2);

            sim.delayNext("getMe", { delayMs: 60_000, token });
            const controller = new AbortController();
            const abandoned = api(sim, token, "getMe", {}, { signal: controller.signal });
            await sim.waitFor(() => sim.stats(token).getMeCalls === 3);
            controller.abort();
            await assert.rejects(abandoned);
            assert.throws(() => sim.delayNext("getMee", { delayMs: 1 }), /not a Bot API method/);
        }));

    test("revokeToken answers every call 401, a held long poll at once, and keeps counting getMe", () =>
        withSim({}, async (sim, token, bot) => {
            const poll = api(sim, token, "getUpdates", { timeout: 30 });
            await sim.waitFor(() => sim.stats(token).polling);
            sim.revokeToken(token);
            assert.equal((await poll).status, 401);
            await assert.rejects(bot.api.getMe(), (error: unknown) => error instanceof GrammyError && error.error_code === 401);
            assert.equal((await api(sim, token, "sendMessage", { chat_id: 1, text: "x" })).status, 401);
            assert.equal(sim.stats(token).getMeCalls, 1);
            assert.equal(sim.stats(token).polling, false);
        }));
});

describe("simulator: lifecycle", () => {
    test("waitFor rejects on timeout and when the simulator closes", async () => {
        const sim = await createSimulator();
        const { token } = sim.createBot();
        await assert.rejects(sim.waitForCalls(token, 1, { timeoutMs: 50 }), /expected 1 calls, got 0/);
        const pending = sim.waitFor(() => false, { timeoutMs: 10_000 });
        await sim.close();
        await assert.rejects(pending, /closed/);
        await sim.close(); // twice is fine
    });

    test("close() releases everything, held long polls included, so the process exits", async () => {
        const moduleUrl = new URL("../src/simulator/index.ts", import.meta.url).href;
        const script = `
            import { createSimulator } from ${JSON.stringify(moduleUrl)};
            const sim = await createSimulator({ faults: { latencyMs: [0, 5] } });
            const { token } = sim.createBot();
            const held = fetch(sim.apiRoot + "/bot" + token + "/getUpdates?timeout=30").catch(() => "aborted");
            await sim.waitFor(() => sim.stats(token).polling);
            await fetch(sim.apiRoot + "/bot" + token + "/sendMessage?chat_id=1&text=x");
            await sim.close();
            console.log("closed", await held);
        `;
        const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
            cwd: fileURLToPath(new URL("..", import.meta.url)),
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        const exit = await new Promise<number | null | "timeout">((resolve) => {
            const timer = setTimeout(() => resolve("timeout"), 8000);
            child.once("exit", (code) => {
                clearTimeout(timer);
                resolve(code);
            });
        });
        if (exit === "timeout") child.kill("SIGKILL");
        assert.equal(exit, 0, output);
        assert.match(output, /closed aborted/);
    });

    test("forkSimulator runs the simulator in a child process", async () => {
        const remote = await forkSimulator({ limits: { privatePerSecond: 1 } });
        try {
            const { token } = await remote.createBot({ username: "remote_bot" });
            const summary = await remote.pushMessages(token, syntheticTraffic({ messages: 1000, chats: 10 }));
            assert.deepEqual(summary, { count: 1000, firstUpdateId: 1, lastUpdateId: 1000 });
            const bot = new Bot(token, { client: { apiRoot: remote.apiRoot } });
            assert.equal((await bot.api.getMe()).username, "remote_bot");
            const batch = await bot.api.getUpdates({ offset: 901 });
            assert.equal(batch.length, 100);
            assert.equal(await remote.pending(token), 100);
            await bot.api.sendMessage(1000, "one");
            await assert.rejects(bot.api.sendMessage(1000, "two"), (error: unknown) => (error as GrammyError).error_code === 429);
            const sent = await remote.sent(token);
            assert.equal((sent[0]!.result as Message).text, "one");
            const stats = await remote.stats(token);
            assert.deepEqual([stats.floodRejections, stats.confirmedOffset], [1, 901]);
            await assert.rejects(remote.pending("nope:nope"), /No bot with this token/);
        } finally {
            await remote.close();
        }
    });
});
