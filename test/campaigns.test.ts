import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { type CampaignStats, createOutbox, type Outbox, type Recipient, run, SluiceError } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("campaigns");
let rig: TestRig | undefined;
let outbox: Outbox | undefined;
afterEach(async () => {
    await outbox?.close();
    outbox = undefined;
    await rig?.close();
    rig = undefined;
});

const FAST = { globalPerSecond: 500, privatePerSecond: 100, groupPerMinute: 6000 };
const templates = {
    news: { en: "Hello, <b>{name}</b>! News for {month}.", pt: "Olá, <b>{name}</b>! Novidades de {month}.", ru: "Привет, <b>{name}</b>!" },
};
/** Texts the simulator received, by chat. */
function textsByChat(): Map<number, string[]> {
    const byChat = new Map<number, string[]>();
    for (const call of rig!.sim.sent(rig!.token)) {
        const chat = call.payload.chat_id as number;
        byChat.set(chat, [...(byChat.get(chat) ?? []), call.payload.text as string]);
    }
    return byChat;
}
function* chats(from: number, count: number): Generator<Recipient> {
    for (let n = 0; n < count; n++) yield { chatId: from + n, vars: { name: `user ${from + n}` } };
}

describe("campaigns", () => {
    it("sends every recipient one message in their locale with escaped values, and the stats add up", async () => {
        rig = await startRig();
        outbox = createOutbox({ store: join(dir, "lifecycle.db"), api: rig.bot().api, templates, ...FAST });
        const { campaigns } = outbox;
        const { id } = campaigns.create({
            name: "november-news",
            message: { template: "news", vars: { month: "November" }, parse_mode: "HTML" },
        });
        assert.equal(campaigns.stats(id).state, "draft");
        const added = await campaigns.addRecipients(id, [
            { chatId: 1, locale: "pt-BR", vars: { name: "Ana" } },
            { chatId: "2", locale: "ru", vars: { name: "<i>Eve</i> & co" } },
            { chatId: 3, locale: "de", vars: { name: "Max" } },
            { chatId: 1, vars: { name: "again" } },
            { chatId: "x" },
            { chatId: 4 },
        ]);
        assert.deepEqual({ ...added, firstErrors: added.firstErrors.length }, { added: 3, duplicates: 1, rejected: 2, firstErrors: 2 });
        assert.match(added.firstErrors[0]!.error, /not a chat id/);
        assert.match(added.firstErrors[1]!.error, /"name"/);
        campaigns.start(id);
        const stats = await campaigns.finished(id);
        assert.equal(stats.state, "finished");
        assert.deepEqual([stats.total, stats.sent, stats.failed, stats.skipped, stats.pending], [3, 3, 0, 0, 0]);
        const texts = textsByChat();
        assert.deepEqual(texts.get(1), ["Olá, <b>Ana</b>! Novidades de November."]);
        assert.deepEqual(texts.get(2), ["Привет, <b>&lt;i&gt;Eve&lt;/i&gt; &amp; co</b>!"]);
        assert.deepEqual(texts.get(3), ["Hello, <b>Max</b>! News for November."]);
        assert.equal(campaigns.list().length, 1);
    });

    it("refuses bad input with typed errors naming what was wrong", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, templates });
        const { campaigns } = outbox;
        assert.throws(() => campaigns.create({ name: "x", message: { template: "nope" } }), { code: "TEMPLATE_UNKNOWN" });
        assert.throws(() => campaigns.create({ name: "x", message: { text: "a".repeat(4097) } }), /message\.text.*4096/s);
        assert.throws(() => campaigns.create({ name: "x", message: { text: "<b>open", parse_mode: "HTML" } }), /message\.text/);
        assert.throws(() => campaigns.create({ name: "x", message: { text: "Hi!", parse_mode: "MarkdownV2" } }), /message\.text/);
        assert.throws(() => campaigns.create({ name: "", message: { text: "hi" } }), /`name`/);
        assert.throws(() => campaigns.create({ name: "x", message: { text: "hi" }, budgetStars: 10 }), /allow_paid_broadcast/);
        assert.throws(() => campaigns.stats(999), { code: "CAMPAIGN_UNKNOWN" });
        const { id } = campaigns.create({ name: "x", message: { text: "hi" } });
        campaigns.cancel(id);
        assert.throws(
            () => campaigns.resume(id),
            (error: unknown) => error instanceof SluiceError && error.code === "CAMPAIGN_STATE" && /cancelled/.test(error.message),
        );
        await assert.rejects(campaigns.addRecipients(id, [{ chatId: 1 }]), { code: "CAMPAIGN_STATE" });
        const noTemplates = createOutbox({ api: rig.bot().api });
        try {
            assert.throws(() => noTemplates.campaigns.create({ name: "x", message: { template: "news" } }), /templates/);
        } finally {
            await noTemplates.close();
        }
    });

    it("pause stops the campaign within a second, resume continues, cancel skips the rest and still adds up", async () => {
        rig = await startRig();
        rig.sim.setFaults({ latencyMs: 20, methods: ["sendMessage"] });
        outbox = createOutbox({ store: join(dir, "pause.db"), api: rig.bot().api, globalPerSecond: 100, privatePerSecond: 100 });
        const { campaigns } = outbox;
        const { id } = campaigns.create({ name: "slow", message: { text: "news" } });
        await campaigns.addRecipients(id, chats(1, 600));
        campaigns.start(id);
        const sentCount = () => rig!.sim.sent(rig!.token).length;
        await until(() => sentCount() >= 50, 10_000, "the first sends");
        campaigns.pause(id);
        assert.equal(campaigns.stats(id).state, "paused");
        await delay(200); // the calls in flight at the pause finish
        const atPause = sentCount();
        await delay(1_000);
        assert.equal(sentCount(), atPause, "nothing more of a paused campaign leaves");
        const paused = campaigns.stats(id);
        assert.equal(paused.sent + paused.failed + paused.skipped + paused.pending, paused.total);
        assert.equal(paused.sent, atPause);
        assert.equal(paused.etaMs, undefined);
        campaigns.resume(id);
        await until(() => sentCount() >= atPause + 50, 10_000, "sends after resume");
        campaigns.cancel(id);
        const stats = await campaigns.finished(id);
        assert.equal(stats.state, "cancelled");
        assert.equal(stats.pending, 0);
        assert.ok(stats.skipped > 0 && stats.byErrorClass.cancelled === stats.skipped, JSON.stringify(stats));
        assert.equal(stats.sent + stats.failed + stats.skipped, 600);
        assert.equal(stats.sent, sentCount());
        for (const [chat, texts] of textsByChat()) assert.equal(texts.length, 1, `chat ${chat} got one message`);
    });

    it("goes on after a restart; finished() of a closing outbox rejects instead of hanging", async () => {
        rig = await startRig();
        const store = join(dir, "restart.db");
        outbox = createOutbox({ store, api: rig.bot().api, globalPerSecond: 50, privatePerSecond: 50 });
        const { id } = outbox.campaigns.create({ name: "restart", message: { text: "hi" } });
        await outbox.campaigns.addRecipients(id, chats(1, 100));
        outbox.campaigns.start(id);
        // Its rejection is awaited from the start: it comes while close() is still under way.
        const waiting = assert.rejects(outbox.campaigns.finished(id), { code: "OUTBOX_CLOSED" });
        await until(() => rig!.sim.sent(rig!.token).length >= 10, 5_000, "some sends");
        await outbox.close();
        await waiting;
        outbox = createOutbox({ store, api: rig.bot().api, ...FAST });
        const stats = await outbox.campaigns.finished(id);
        assert.deepEqual([stats.sent, stats.pending], [100, 0]);
        assert.equal(textsByChat().size, 100);
        for (const texts of textsByChat().values()) assert.equal(texts.length, 1);
    });

    it("refuses the rest of an import cancelled midway, and the campaign still finishes", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, ...FAST });
        const { campaigns } = outbox;
        const { id } = campaigns.create({ name: "cut", message: { text: "hi" } });
        async function* slow(): AsyncGenerator<Recipient> {
            for (let n = 1; n <= 20_000; n++) {
                if (n === 6_000) campaigns.cancel(id);
                yield { chatId: n };
            }
        }
        await assert.rejects(campaigns.addRecipients(id, slow()), { code: "CAMPAIGN_STATE" });
        const stats = await campaigns.finished(id);
        assert.equal(stats.state, "cancelled");
        assert.equal(stats.pending, 0);
        assert.equal(stats.skipped, stats.total);
    });

    it("does not send again a message that met a 429 while its campaign was being paused", async () => {
        rig = await startRig();
        rig.sim.setFaults({ latencyMs: 300, methods: ["sendMessage"] });
        outbox = createOutbox({ api: rig.bot().api, ...FAST, maxInFlight: 1 });
        const { campaigns } = outbox;
        const { id } = campaigns.create({ name: "flood", message: { text: "hi" } });
        await campaigns.addRecipients(id, chats(1, 3));
        rig.sim.failNext("sendMessage", { status: 429, retryAfter: 1 });
        campaigns.start(id);
        await until(() => rig!.sim.calls(rig!.token, "sendMessage").length === 1, 5_000, "the first call in flight");
        campaigns.pause(id);
        await delay(1_800);
        assert.equal(rig.sim.sent(rig.token).length, 0, "nothing of a paused campaign left, the 429'd message included");
        const paused = campaigns.stats(id);
        assert.deepEqual([paused.state, paused.pending, paused.sent], ["paused", 3, 0]);
        campaigns.resume(id);
        const stats = await campaigns.finished(id);
        assert.deepEqual([stats.sent, stats.pending], [3, 0]);
    });

    it("refuses to requeue a campaign's dead letter, whose recipient already counts as failed", async () => {
        rig = await startRig();
        rig.sim.blockChat(rig.token, 2);
        outbox = createOutbox({ api: rig.bot().api, ...FAST });
        const { id } = outbox.campaigns.create({ name: "dead", message: { text: "hi" } });
        await outbox.campaigns.addRecipients(id, chats(1, 2));
        outbox.campaigns.start(id);
        await outbox.campaigns.finished(id);
        const [dead] = outbox.deadLetters();
        assert.equal(dead?.campaignId, id);
        assert.throws(() => outbox!.requeue(dead!.id), { code: "CAMPAIGN_STATE" });
        const stats = outbox.campaigns.stats(id);
        assert.deepEqual([stats.sent, stats.failed, stats.pending], [1, 1, 0]);
    });

    it("keeps per-chat order across a campaign and replies to the same chat, whatever their priorities", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, globalPerSecond: 100, privatePerSecond: 2 });
        const reply = (text: string, priority: "high" | "normal") =>
            outbox!.enqueue({ method: "sendMessage", payload: { chat_id: 7, text }, priority });
        const first = reply("reply 1", "normal");
        const { id } = outbox.campaigns.create({ name: "order", message: { text: "campaign" } });
        await outbox.campaigns.addRecipients(id, [{ chatId: 7 }, { chatId: 8 }]);
        outbox.campaigns.start(id);
        await until(() => outbox!.campaigns.stats(id).sent > 0 || rig!.sim.sent(rig!.token).length > 1, 5_000, "the campaign queued");
        const second = reply("reply 2", "high");
        await outbox.sent(second.id);
        await outbox.sent(first.id);
        await outbox.campaigns.finished(id);
        assert.deepEqual(textsByChat().get(7), ["reply 1", "campaign", "reply 2"]);
    });

    it("remembers chats that blocked the bot, skips them in later campaigns, and forgets them when they write", async () => {
        rig = await startRig();
        rig.sim.blockChat(rig.token, 3);
        rig.sim.setChatState(rig.token, 4, "not_found");
        const bot = rig.bot();
        bot.on("message", () => {});
        const handle = run(bot, { store: join(dir, "unreachable.db"), outbox: FAST, signals: false });
        try {
            const box = handle.outbox!;
            const broadcast = async (recipients: number[]) => {
                const { id } = box.campaigns.create({ name: "news", message: { text: "news" } });
                await box.campaigns.addRecipients(
                    id,
                    recipients.map((chatId) => ({ chatId })),
                );
                box.campaigns.start(id);
                return box.campaigns.finished(id);
            };
            const first = await broadcast([1, 2, 3, 4]);
            assert.deepEqual([first.sent, first.failed, first.skipped], [2, 2, 0]);
            assert.deepEqual(first.byErrorClass, { blocked_by_user: 1, chat_not_found: 1 });
            assert.deepEqual(
                // Listed by when they were marked; the two sends fail in either order.
                box
                    .unreachable()
                    .map((chat) => [chat.chat, chat.reason])
                    .sort(),
                [
                    ["3", "blocked_by_user"],
                    ["4", "chat_not_found"],
                ],
            );
            const second = await broadcast([1, 3, 4]);
            assert.deepEqual([second.sent, second.failed, second.skipped], [1, 0, 2]);
            assert.deepEqual(second.byErrorClass, { unreachable: 2 });
            rig.sim.setChatState(rig.token, 3, "active");
            rig.sim.pushMessage(rig.token, { chatId: 3, text: "I am back" });
            await until(() => box.unreachable().length === 1, 5_000, "the mark cleared by an update");
            const third = await broadcast([3, 4]);
            assert.deepEqual([third.sent, third.skipped], [1, 1]);
        } finally {
            await handle.stop();
        }
    });

    it("starts a scheduled campaign at its startAt, not before", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, ...FAST });
        const startAt = new Date(Date.now() + 500);
        const { id } = outbox.campaigns.create({ name: "later", message: { text: "later" }, startAt });
        await outbox.campaigns.addRecipients(id, chats(1, 5));
        outbox.campaigns.start(id);
        assert.equal(outbox.campaigns.stats(id).state, "scheduled");
        await delay(250);
        assert.equal(rig.sim.sent(rig.token).length, 0);
        const stats = await outbox.campaigns.finished(id);
        assert.equal(stats.sent, 5);
        assert.ok(stats.startedAt!.getTime() >= startAt.getTime());
        assert.ok(Math.min(...rig.sim.sent(rig.token).map((call) => call.at)) >= startAt.getTime() - 5);
    });

    it("pauses a paid broadcast when its Stars budget is spent", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, ...FAST, maxInFlight: 1 });
        const { id } = outbox.campaigns.create({
            name: "paid",
            message: { text: "paid", other: { allow_paid_broadcast: true } },
            budgetStars: 1,
        });
        await outbox.campaigns.addRecipients(id, chats(1, 30));
        outbox.campaigns.start(id);
        await until(() => outbox!.campaigns.stats(id).state === "paused", 5_000, "the budget pause");
        const stats = outbox.campaigns.stats(id);
        assert.equal(stats.pausedBy, "budget");
        assert.equal(stats.sent, 10, "a paid message costs 0.1 Star");
        assert.equal(stats.spentStars, 1);
        assert.equal(rig.sim.sent(rig.token).length, 10);
    });

    it("estimates the time left within 10% once 5% is done", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, globalPerSecond: 400, privatePerSecond: 100 });
        const { id } = outbox.campaigns.create({ name: "eta", message: { text: "eta" } });
        await outbox.campaigns.addRecipients(id, chats(1, 2_000));
        outbox.campaigns.start(id);
        await until(() => outbox!.campaigns.stats(id).sent >= 200, 10_000, "5% done");
        const { etaMs } = outbox.campaigns.stats(id);
        const from = Date.now();
        const stats = await outbox.campaigns.finished(id);
        const actualMs = Date.now() - from;
        assert.ok(Math.abs(etaMs! - actualMs) <= actualMs * 0.1, `estimated ${Math.round(etaMs!)} ms, took ${actualMs} ms`);
        assert.ok(stats.perSecond > 300, `rate ${stats.perSecond}`);
    });
});

describe("campaigns under real crashes", () => {
    it("sends each of 3,000 recipients one message across three SIGKILLs, repeating at most the calls in flight", async () => {
        rig = await startRig({ faults: { latencyMs: [1, 6], methods: ["sendMessage"], seed: 11 } });
        const COUNT = 3_000;
        const env = { API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, STORE: join(dir, "crash.db"), COUNT: String(COUNT) };
        const kills = 3;
        for (let kill = 0; kill < kills; kill++) {
            let sending = false;
            const child = spawnScript("test/helpers/campaign-runner.ts", env, (line) => void (line === "sending" && (sending = true)));
            await until(() => sending, 20_000, "the campaign to run");
            await delay(300 + Math.random() * 700);
            child.process.kill("SIGKILL");
            await child.exit;
        }
        let final: CampaignStats | undefined;
        const last = spawnScript("test/helpers/campaign-runner.ts", env, (line) => {
            if (line.startsWith("done ")) final = JSON.parse(line.slice(5)) as CampaignStats;
        });
        await until(() => final !== undefined, 60_000, "the campaign to finish");
        await last.exit;

        const perChat = textsByChat();
        for (let chat = 1; chat <= COUNT; chat++) assert.ok(perChat.has(chat), `chat ${chat} got its message`);
        const repeats = [...perChat.values()].filter((texts) => texts.length > 1).length;
        assert.ok(repeats <= kills * 8, `${repeats} chats got two messages; at most ${kills} kills x 8 calls in flight may`);
        assert.equal(perChat.get(42)?.[0], "Hello, #42!");
        assert.equal(final!.state, "finished");
        assert.deepEqual([final!.total, final!.sent, final!.failed, final!.skipped, final!.pending], [COUNT, COUNT, 0, 0, 0]);
    });
});

describe("Telegram's answers", () => {
    it("moves a migrated group's queue to the new supergroup, in order, without counting an attempt", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, ...FAST });
        rig.sim.failNext("sendMessage", {
            status: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat",
            parameters: { migrate_to_chat_id: -1001234 },
        });
        const ids = ["a", "b", "c"].map((text) => outbox!.enqueue({ method: "sendMessage", payload: { chat_id: -55, text } }).id);
        await Promise.all(ids.map((id) => outbox!.sent(id)));
        assert.deepEqual(textsByChat().get(-1001234), ["a", "b", "c"]);
        assert.equal(outbox.status(ids[0]!)!.attempts, 1);
    });

    it("stops sending on a 401 and keeps the queue instead of dead-lettering it", async () => {
        rig = await startRig();
        outbox = createOutbox({ store: join(dir, "revoked.db"), api: rig.bot().api, ...FAST });
        rig.sim.failNext("sendMessage", { status: 401 });
        const ids = [1, 2, 3].map((chat_id) => outbox!.enqueue({ method: "sendMessage", payload: { chat_id, text: "hi" } }).id);
        await assert.rejects(outbox.sent(ids[0]!), { code: "UNAUTHORIZED" });
        assert.equal(outbox.stoppedBy?.code, "UNAUTHORIZED");
        assert.deepEqual(
            ids.map((id) => outbox!.status(id)!.state),
            ["queued", "queued", "queued"],
        );
        assert.equal(outbox.deadLetters().length, 0);
        await outbox.close();
        outbox = createOutbox({ store: join(dir, "revoked.db"), api: rig.bot().api, ...FAST });
        await Promise.all(ids.map((id) => outbox!.sent(id)));
    });

    it("does not count a 429 as an attempt", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, ...FAST, maxRetries: 0 });
        rig.sim.failNext("sendMessage", { status: 429, retryAfter: 1, count: 2 });
        const { id } = outbox.enqueue({ method: "sendMessage", payload: { chat_id: 1, text: "hi" } });
        await outbox.sent(id);
        assert.equal(outbox.status(id)!.attempts, 1);
    });
});
