import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createOutbox, type Outbox, type Recipient, run, SluiceError } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
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
});
