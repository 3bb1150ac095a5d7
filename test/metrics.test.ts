import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import { Bot, GrammyError } from "grammy";
import type { Update } from "grammy/types";
import { Counter, Registry } from "prom-client";
import type { ClusterBotStatus } from "../src/cluster/cluster.js";
import { createOutbox, createTasks, joinCluster, type Metrics, openStore, run } from "../src/index.js";
import { OutboxQueue } from "../src/outbox/queue.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { quarantineUpdate } from "./helpers/quarantine.js";
import { forgetClusters, REDIS } from "./helpers/redis.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("metrics");
const ADMIN_TOKEN = "an-admin-token-of-the-metrics-test";
let rig: TestRig | undefined;
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

/** One line of Prometheus' text format: `name{label="value",…} number`. */
interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

/** Reads the exposition text into samples (comments skipped); label values here never hold `",`. */
function parseExposition(text: string): Sample[] {
    const samples: Sample[] = [];
    for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        const space = line.lastIndexOf(" ");
        const series = line.slice(0, space);
        const value = Number(line.slice(space + 1));
        const brace = series.indexOf("{");
        if (brace === -1) {
            samples.push({ name: series, labels: {}, value });
            continue;
        }
        const labels: Record<string, string> = {};
        for (const pair of series.slice(brace + 1, -2).split('",')) {
            const equals = pair.indexOf("=");
            labels[pair.slice(0, equals)] = pair.slice(equals + 2);
        }
        samples.push({ name: series.slice(0, brace), labels, value });
    }
    return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
    return samples
        .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
        .reduce((sum, sample) => sum + sample.value, 0);
}

/** Scrapes until `condition` holds for the samples (counters move when handlers end, a moment after their replies). */
async function scrapeUntil(metrics: Metrics, condition: (samples: Sample[]) => boolean): Promise<Sample[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
        const samples = parseExposition(await metrics.text());
        if (condition(samples)) return samples;
        if (Date.now() > deadline) throw new Error(`the metrics never got there:\n${await metrics.text()}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

/** A promise handlers wait on until the test releases them. */
function gate(): { released: Promise<void>; release: () => void } {
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    return { released, release };
}

it("counts fetched, handled and sent updates, times every API call, and never shows the token", async () => {
    rig = await startRig();
    const bot = rig.bot();
    bot.on("message", (ctx) => ctx.reply(`echo ${ctx.message.text}`));
    for (let i = 0; i < 6; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 2), text: String(i) });
    const handle = run(bot, { signals: false, store: join(dir, "counts.db"), outbox: true, metrics: true });
    const bot_id = String(rig.botInfo.id);
    // The journal records handlers' ends in group commits, a few milliseconds after the handled counter moves.
    const samples = await scrapeUntil(
        handle.metrics!,
        (s) => total(s, "sluice_updates_handled_total", { result: "ok" }) === 6 && total(s, "sluice_journal_unfinished") === 0,
    );
    const text = await handle.metrics!.text();
    await handle.stop();

    assert.equal(total(samples, "sluice_updates_fetched_total", { bot_id }), 6);
    assert.equal(total(samples, "sluice_update_handling_seconds_count", { bot_id }), 6);
    assert.equal(total(samples, "sluice_outbox_sent_total", { bot_id, method: "sendMessage" }), 6);
    assert.equal(total(samples, "sluice_outbox_queued", { bot_id }), 0);
    assert.equal(total(samples, "sluice_journal_unfinished", { bot_id }), 0);
    assert.ok(total(samples, "sluice_journal_append_seconds_count", { bot_id }) >= 1);
    assert.ok(total(samples, "sluice_api_request_seconds_count", { bot_id, method: "getUpdates", result: "ok" }) > 0);
    assert.equal(total(samples, "sluice_api_request_seconds_count", { bot_id, method: "sendMessage", result: "ok" }), 6);
    for (const name of ["sluice_sink_running", "sluice_sink_waiting", "sluice_journal_quarantined", "sluice_outbox_in_flight"]) {
        assert.ok(
            samples.some((sample) => sample.name === name && sample.labels.bot_id === bot_id),
            `${name} is reported`,
        );
    }
    for (const sample of samples) assert.equal(sample.labels.bot_id, bot_id, `${sample.name} is labelled with the bot id`);
    assert.ok(!text.includes(rig.token.split(":")[1]!), "the token's secret is not in the exposition");
});

it("counts a handler that throws as an error", async () => {
    rig = await startRig();
    const bot = rig.bot();
    bot.on("message", () => {
        throw new Error("handler failed");
    });
    bot.catch(() => {});
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "boom" });
    const handle = run(bot, { signals: false, metrics: true });
    const samples = await scrapeUntil(handle.metrics!, (s) => total(s, "sluice_updates_handled_total", { result: "error" }) === 1);
    await handle.stop();
    assert.equal(total(samples, "sluice_updates_handled_total", { result: "ok" }), 0);
});

it("counts a handler that outlives the sink's timeout once, as a timeout, and not again when it ends", async () => {
    rig = await startRig();
    const bot = rig.bot();
    const { released, release } = gate();
    bot.on("message", () => released);
    let timedOut: Promise<void> | undefined;
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "slow" });
    const handle = run(bot, {
        signals: false,
        metrics: true,
        sink: { timeout: { milliseconds: 50, handler: (_update, task) => void (timedOut = task) } },
    });
    const samples = await scrapeUntil(handle.metrics!, (s) => total(s, "sluice_updates_handled_total", { result: "timeout" }) === 1);
    assert.equal(total(samples, "sluice_updates_handled_total"), 1);
    assert.equal(total(samples, "sluice_update_handling_seconds_count"), 1);
    assert.equal(total(samples, "sluice_sink_running"), 0, "a timed-out handler no longer holds its slot");
    // The sink's task is the measured handling: once it settles, its end has been seen (and must not count).
    release();
    await timedOut;
    const after = parseExposition(await handle.metrics!.text());
    await handle.stop();
    assert.equal(total(after, "sluice_updates_handled_total"), 1);
    assert.equal(total(after, "sluice_updates_handled_total", { result: "timeout" }), 1);
    assert.equal(total(after, "sluice_update_handling_seconds_count"), 1);
});

it("reports handlers running and updates waiting for their chat, and the journal's unfinished updates, as they move", async () => {
    rig = await startRig();
    const bot = rig.bot();
    const { released, release } = gate();
    bot.on("message", () => released);
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "first" });
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "second, after the first" });
    const handle = run(bot, { signals: false, store: join(dir, "depths.db"), metrics: true });
    const busy = await scrapeUntil(handle.metrics!, (s) => total(s, "sluice_sink_running") === 1 && total(s, "sluice_sink_waiting") === 1);
    assert.equal(total(busy, "sluice_journal_unfinished"), 2);
    release();
    const idle = await scrapeUntil(
        handle.metrics!,
        (s) => total(s, "sluice_updates_handled_total", { result: "ok" }) === 2 && total(s, "sluice_journal_unfinished") === 0,
    );
    await handle.stop();
    assert.equal(total(idle, "sluice_sink_running"), 0);
    assert.equal(total(idle, "sluice_sink_waiting"), 0);
});

it("counts every 429 once: one to getUpdates, to a direct call, and to an outbox send (which passes the API transformer too)", async () => {
    rig = await startRig();
    const bot = rig.bot();
    rig.sim.failNext("getUpdates", { status: 429, retryAfter: 1 });
    const handle = run(bot, { signals: false, outbox: true, metrics: true });
    const metrics = handle.metrics!;
    try {
        // Not a queued method: it goes straight to Telegram, and its caller gets the 429.
        rig.sim.failNext("sendChatAction", { status: 429, retryAfter: 1 });
        await assert.rejects(
            bot.api.sendChatAction(1, "typing"),
            (error: unknown) => error instanceof GrammyError && error.error_code === 429,
        );
        // Queued: the outbox waits the 429 out and sends again.
        rig.sim.failNext("sendMessage", { status: 429, retryAfter: 1 });
        await bot.api.sendMessage(1, "after a flood wait");
        const samples = await scrapeUntil(
            metrics,
            (s) => total(s, "sluice_api_request_seconds_count", { method: "getUpdates", result: "error" }) === 1,
        );
        assert.equal(total(samples, "sluice_telegram_429_total"), 3);
        assert.equal(total(samples, "sluice_api_request_seconds_count", { method: "sendChatAction", result: "error" }), 1);
        assert.equal(total(samples, "sluice_api_request_seconds_count", { method: "sendMessage", result: "error" }), 1);
        assert.equal(total(samples, "sluice_api_request_seconds_count", { method: "sendMessage", result: "ok" }), 1);
        assert.equal(total(samples, "sluice_outbox_sent_total", { method: "sendMessage" }), 1);
    } finally {
        await handle.stop();
    }
});

it("registers sluice's series in the user's registry, next to the user's own", async () => {
    rig = await startRig();
    const registry = new Registry();
    new Counter({ name: "my_bot_jokes_total", help: "Jokes told.", registers: [registry] }).inc();
    const bot = rig.bot();
    bot.on("message", () => {});
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "hi" });
    const handle = run(bot, { signals: false, metrics: { registry }, tasks: { handlers: { noop: async () => {} } } });
    assert.equal(handle.metrics!.registry, registry);
    const samples = await scrapeUntil(handle.metrics!, (s) => total(s, "sluice_updates_handled_total") === 1);
    await handle.stop();
    assert.equal(total(samples, "my_bot_jokes_total"), 1);
    assert.equal(total(samples, "sluice_tasks", { bot_id: String(rig.botInfo.id), state: "queued" }), 0);
    assert.ok(samples.some((sample) => sample.name === "sluice_tasks" && sample.labels.state === "dead"));
});

it("counts a standalone outbox's sends, retries, 429s and dead letters by class, and its campaigns and tasks", async () => {
    rig = await startRig();
    rig.sim.blockChat(rig.token, 3);
    const outbox = createOutbox({ api: rig.bot().api, globalPerSecond: 500, privatePerSecond: 100, metrics: true });
    const tasks = createTasks({ handlers: { noop: () => {} }, metrics: { registry: outbox.metrics!.registry } });
    try {
        rig.sim.failNext("sendMessage", { status: 429, retryAfter: 1 });
        rig.sim.failNext("sendMessage", { status: 502 });
        const { id } = outbox.campaigns.create({ name: "counted", message: { text: "hi" } });
        await outbox.campaigns.addRecipients(id, [{ chatId: 1 }, { chatId: 2 }, { chatId: 3 }]);
        outbox.campaigns.start(id);
        await outbox.campaigns.finished(id);
        await tasks.done((await tasks.add("noop", {})).id);
        const samples = parseExposition(await outbox.metrics!.text());
        assert.equal(total(samples, "sluice_outbox_sent_total", { method: "sendMessage" }), 2);
        assert.equal(total(samples, "sluice_outbox_failed_total", { error_class: "blocked_by_user" }), 1);
        assert.equal(total(samples, "sluice_telegram_429_total"), 1);
        assert.equal(total(samples, "sluice_outbox_retried_total"), 1);
        assert.equal(total(samples, "sluice_outbox_queued"), 0);
        assert.equal(total(samples, "sluice_campaign_recipients", { campaign: String(id), state: "sent" }), 2);
        assert.equal(total(samples, "sluice_campaign_recipients", { campaign: String(id), state: "failed" }), 1);
        assert.equal(total(samples, "sluice_tasks", { state: "done" }), 1);
    } finally {
        await tasks.close();
        await outbox.close();
    }
});

it("counts queued messages by priority, those another connection wrote included, and not those of a rolled-back enqueue", async () => {
    rig = await startRig();
    const path = join(dir, "queued.db");
    const outbox = createOutbox({ api: rig.bot().api, store: path, metrics: true });
    const other = openStore(path);
    try {
        const later = Date.now() + 3_600_000; // queued, not sent, while the test looks
        const queued = async () => parseExposition(await outbox.metrics!.text());
        assert.equal(total(await queued(), "sluice_outbox_queued"), 0);
        outbox.enqueue({ method: "sendMessage", payload: { chat_id: 1, text: "mine" }, notBefore: new Date(later) });
        // What the sluice command would do to the store a running bot owns: another connection writes its queue.
        const message = { method: "sendMessage", payload: { chat_id: 2, text: "theirs" }, notBefore: later };
        new OutboxQueue(other, rig.botInfo.id, { headWritten: () => {}, ended: () => {} }).enqueue(
            [
                { ...message, chat: "2", priority: 0 },
                { ...message, chat: "3", priority: 0 },
                { ...message, chat: "4", priority: 2 },
            ],
            Date.now(),
        );
        let samples = await queued();
        assert.equal(total(samples, "sluice_outbox_queued", { priority: "high" }), 2);
        assert.equal(total(samples, "sluice_outbox_queued", { priority: "normal" }), 1);
        assert.equal(total(samples, "sluice_outbox_queued", { priority: "low" }), 1);
        // The second message cannot be stored (JSON has no BigInt): the first is rolled back with it.
        assert.throws(() =>
            outbox.enqueueMany([
                { method: "sendMessage", payload: { chat_id: 5, text: "rolled back" }, notBefore: new Date(later) },
                { method: "sendMessage", payload: { chat_id: 6, text: "unstorable", n: 1n } },
            ]),
        );
        samples = await queued();
        assert.equal(total(samples, "sluice_outbox_queued", { priority: "normal" }), 1);
        assert.equal(total(samples, "sluice_outbox_queued"), 4);
    } finally {
        other.close();
        await outbox.close();
    }
});

it("keeps a campaign's series while it is not ended and for an hour after it ended, then drops them", async () => {
    rig = await startRig();
    let stopped: number | undefined; // the outbox's clock runs until the test stops it here
    const outbox = createOutbox({ api: rig.bot().api, clock: () => stopped ?? Date.now(), metrics: true });
    try {
        const ended = outbox.campaigns.create({ name: "ended", message: { text: "hi" } });
        await outbox.campaigns.addRecipients(ended.id, [{ chatId: 1 }, { chatId: 2 }]);
        outbox.campaigns.start(ended.id);
        const { finishedAt } = await outbox.campaigns.finished(ended.id);
        const draft = outbox.campaigns.create({ name: "not started", message: { text: "hi" } });
        await outbox.campaigns.addRecipients(draft.id, [{ chatId: 3 }]);
        const campaigns = async () => {
            const samples = parseExposition(await outbox.metrics!.text());
            return (id: number, state: string) =>
                samples.find((s) => s.name === "sluice_campaign_recipients" && s.labels.campaign === String(id) && s.labels.state === state)
                    ?.value;
        };
        // An hour after the end: still shown.
        stopped = finishedAt!.getTime() + 3_600_000;
        let recipients = await campaigns();
        assert.equal(recipients(ended.id, "sent"), 2);
        assert.equal(recipients(ended.id, "pending"), 0);
        assert.equal(recipients(draft.id, "pending"), 1);
        stopped += 1;
        recipients = await campaigns();
        for (const state of ["sent", "failed", "skipped", "pending"]) assert.equal(recipients(ended.id, state), undefined, state);
        assert.equal(recipients(draft.id, "pending"), 1, "a campaign not ended stays however old");
    } finally {
        await outbox.close();
    }
});

it("reports the outbox's calls in flight while Telegram has not answered", async () => {
    rig = await startRig();
    rig.sim.setFaults({ latencyMs: 1_000, methods: ["sendMessage"] }); // answers held back while the test looks
    const outbox = createOutbox({ api: rig.bot().api, metrics: true });
    try {
        const { id } = outbox.enqueue({ method: "sendMessage", payload: { chat_id: 1, text: "slow answer" } });
        const sending = await scrapeUntil(outbox.metrics!, (s) => total(s, "sluice_outbox_in_flight") === 1);
        assert.equal(total(sending, "sluice_outbox_queued", { priority: "normal" }), 1, "queued until Telegram accepted it");
        await outbox.sent(id);
        const sent = parseExposition(await outbox.metrics!.text());
        assert.equal(total(sent, "sluice_outbox_in_flight"), 0);
        assert.equal(total(sent, "sluice_outbox_queued"), 0);
    } finally {
        await outbox.close();
    }
});

it("reports the journal's quarantined updates, and none once the one there is was retried", async () => {
    rig = await startRig();
    const path = join(dir, "quarantine.db");
    const chat = { id: 9, type: "private", first_name: "A" };
    quarantineUpdate(path, rig.botInfo.id, { update_id: 1, message: { message_id: 1, date: 0, chat, text: "poison" } } as Update);
    const bot = rig.bot();
    bot.on("message", () => {});
    const handle = run(bot, { signals: false, store: path, metrics: true });
    try {
        assert.equal(total(parseExposition(await handle.metrics!.text()), "sluice_journal_quarantined"), 1);
        assert.equal(handle.retryQuarantined(1), true);
        const samples = await scrapeUntil(handle.metrics!, (s) => total(s, "sluice_updates_handled_total", { result: "ok" }) === 1);
        assert.equal(total(samples, "sluice_journal_quarantined"), 0);
    } finally {
        await handle.stop();
    }
});

it("reports tasks queued, running, done and dead as they move", async () => {
    const { released, release } = gate();
    const tasks = createTasks({
        handlers: {
            slow: () => released,
            failing: () => {
                throw new Error("always fails");
            },
            later: () => {},
        },
        metrics: true,
    });
    const states = async () => {
        const samples = parseExposition(await tasks.metrics!.text());
        return Object.fromEntries(["queued", "running", "done", "dead"].map((state) => [state, total(samples, "sluice_tasks", { state })]));
    };
    try {
        const slow = await tasks.add("slow", {});
        const failing = await tasks.add("failing", {}, { maxAttempts: 1 });
        await assert.rejects(tasks.done(failing.id));
        await tasks.add("later", {}, { delayMs: 3_600_000 });
        assert.deepEqual(await states(), { queued: 1, running: 1, done: 0, dead: 1 });
        release();
        await tasks.done(slow.id);
        assert.deepEqual(await states(), { queued: 1, running: 0, done: 1, dead: 1 });
    } finally {
        await tasks.close();
    }
});

it("keeps several bots apart in one registry by bot id, and drops a stopped bot's gauges while its counters keep their totals", async () => {
    rig = await startRig();
    const registry = new Registry();
    const other = rig.sim.createBot();
    const bots = [rig.bot(), new Bot(other.token, { client: { apiRoot: rig.sim.apiRoot }, botInfo: other.botInfo })];
    const [first, second] = bots.map((bot) => String(bot.botInfo.id));
    for (const bot of bots) bot.on("message", () => {});
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "to the first" });
    rig.sim.pushMessages(other.token, [
        { chatId: 1, text: "to the second" },
        { chatId: 2, text: "to the second again" },
    ]);
    const [one, two] = [
        run(bots[0]!, { signals: false, store: join(dir, "first.db"), metrics: { registry } }),
        run(bots[1]!, { signals: false, metrics: { registry } }),
    ];
    try {
        const samples = await scrapeUntil(
            one.metrics!,
            (s) =>
                total(s, "sluice_updates_handled_total", { bot_id: first! }) === 1 &&
                total(s, "sluice_updates_handled_total", { bot_id: second! }) === 2,
        );
        assert.equal(total(samples, "sluice_updates_fetched_total", { bot_id: first! }), 1);
        assert.equal(total(samples, "sluice_updates_fetched_total", { bot_id: second! }), 2);
        await one.stop();
        const after = parseExposition(await two.metrics!.text());
        const reported = (name: string, bot_id: string) => after.some((s) => s.name === name && s.labels.bot_id === bot_id);
        assert.ok(!reported("sluice_sink_running", first!), "a stopped bot's journal and sink are not read");
        assert.ok(!reported("sluice_journal_unfinished", first!));
        assert.ok(reported("sluice_sink_running", second!));
        assert.equal(total(after, "sluice_updates_handled_total", { bot_id: first! }), 1, "counters keep their totals");
    } finally {
        await Promise.all([one.stop(), two.stop()]);
    }
});

/** A series as the README's metrics table documents it: its type, and its labels besides `bot_id` with their values where listed. */
interface DocumentedSeries {
    type: string;
    labels: Map<string, string[]>;
}

/** Reads the README's metrics table: rows like "| `name` | type, … | `label` (note), `other` = `a`, `b` | meaning |". */
function documentedSeries(): Map<string, DocumentedSeries> {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const series = new Map<string, DocumentedSeries>();
    for (const [, name, type, labelCell] of readme.matchAll(/^\| `(sluice_\w+)` \| (\w+)[^|]*\|([^|]*)\|/gm)) {
        const labels = new Map<string, string[]>();
        for (const [, label, values] of labelCell!.matchAll(/`(\w+)`(?: \([^)]*\))?(?: = ((?:`\w+`(?:, )?)+))?/g)) {
            labels.set(label!, values === undefined ? [] : [...values.matchAll(/`(\w+)`/g)].map((value) => value[1]!));
        }
        series.set(name!, { type: type!, labels });
    }
    return series;
}

it("lists in the README every series sluice emits, with its type, labels and label values", async () => {
    rig = await startRig();
    rig.sim.blockChat(rig.token, 3);
    const bot = rig.bot();
    bot.on("message", (ctx) => ctx.reply("hi"));
    bot.catch(() => {});
    rig.sim.pushMessage(rig.token, { chatId: 1, text: "answered" });
    rig.sim.pushMessage(rig.token, { chatId: 3, text: "the answer is refused" });
    const handle = run(bot, {
        signals: false,
        store: join(dir, "readme.db"),
        outbox: true,
        tasks: { handlers: { noop: () => {} } },
        metrics: true,
    });
    try {
        handle.outbox!.campaigns.create({ name: "drafted", message: { text: "hi" } });
        await handle.tasks!.done((await handle.tasks!.add("noop", {})).id);
        const samples = await scrapeUntil(handle.metrics!, (s) => total(s, "sluice_updates_handled_total") === 2);
        const text = await handle.metrics!.text();
        const emitted = new Map([...text.matchAll(/^# TYPE (sluice_\w+) (\w+)$/gm)].map(([, name, type]) => [name!, type!]));
        const documented = documentedSeries();
        // The cluster's series are checked by the cluster's test below.
        assert.deepEqual([...documented.keys()].filter((name) => !name.startsWith("sluice_cluster_")).sort(), [...emitted.keys()].sort());
        for (const [name, type] of emitted) assert.equal(documented.get(name)!.type, type, `${name}'s type`);
        for (const sample of samples) {
            const { labels } = documented.get(sample.name.replace(/_(bucket|sum|count)$/, ""))!;
            for (const [label, value] of Object.entries(sample.labels)) {
                if (label === "bot_id" || label === "le") continue;
                assert.ok(labels.has(label), `${sample.name} has the documented label ${label}`);
                const values = labels.get(label)!;
                assert.ok(values.length === 0 || values.includes(value), `${sample.name}{${label}="${value}"} is a documented value`);
            }
        }
        assert.ok(
            samples.some((s) => s.name === "sluice_outbox_failed_total"),
            "a labelled counter was among the samples checked",
        );
    } finally {
        await handle.stop();
    }
});

it("in a cluster, /v1/status and the documented sluice_cluster_ series show this node's part: partitions, polling, lag", async () => {
    rig = await startRig();
    const name = `metrics-${process.pid}`;
    const cluster = await joinCluster({ redis: REDIS, name, partitions: 8, signals: false }).catch((error) => {
        throw new Error(`this test needs Redis on 127.0.0.1:6379: install redis-server and start it (see .ci/run): ${error}`);
    });
    const bot = rig.bot();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    bot.on("message", () => held);
    const handle = run(bot, { cluster, signals: false, admin: { token: ADMIN_TOKEN, port: 0 } });
    try {
        const { url } = await handle.admin!;
        const status = async () => {
            const response = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
            return ((await response.json()) as { cluster: ClusterBotStatus }).cluster;
        };
        await until(() => cluster.status().partitions.length === 8 && cluster.status().leases.length === 9, 10_000, "the leases");
        // Five updates of one chat: the first is held in its handler, all five are read and not acknowledged.
        rig.sim.pushMessages(
            rig.token,
            Array.from({ length: 5 }, () => ({ chatId: 1, text: "x" })),
        );
        let seen = await status();
        for (const deadline = Date.now() + 10_000; (seen.lag?.pending ?? 0) < 5 && Date.now() < deadline; ) seen = await status();
        assert.equal(seen.node, cluster.nodeId);
        assert.deepEqual(seen.nodes, [cluster.nodeId]);
        assert.deepEqual(seen.partitions, [0, 1, 2, 3, 4, 5, 6, 7]);
        assert.equal(seen.polling, true);
        assert.equal(seen.redisReachable, true);
        assert.deepEqual(seen.lag, { waiting: 0, pending: 5 });
        const samples = parseExposition(await handle.metrics!.text());
        const cluster_ = samples.filter((sample) => sample.name.startsWith("sluice_cluster_"));
        assert.equal(total(cluster_, "sluice_cluster_partitions"), 8);
        assert.equal(total(cluster_, "sluice_cluster_polling"), 1);
        assert.equal(total(cluster_, "sluice_cluster_nodes"), 1);
        assert.equal(total(cluster_, "sluice_cluster_redis_up"), 1);
        assert.equal(total(cluster_, "sluice_cluster_lag", { state: "pending" }), 5);
        const documented = [...documentedSeries()].filter(([series]) => series.startsWith("sluice_cluster_"));
        assert.deepEqual(documented.map(([series]) => series).sort(), [...new Set(cluster_.map((sample) => sample.name))].sort());
        for (const sample of cluster_) {
            const { type, labels } = new Map(documented).get(sample.name)!;
            assert.equal(type, "gauge");
            for (const label of Object.keys(sample.labels)) assert.ok(label === "bot_id" || labels.has(label), `${sample.name}'s ${label}`);
        }
        release();
        for (const deadline = Date.now() + 10_000; (seen.lag?.pending ?? 1) > 0 && Date.now() < deadline; ) seen = await status();
        assert.deepEqual(seen.lag, { waiting: 0, pending: 0 }, "acknowledged once handled");
    } finally {
        release();
        await handle.stop();
        await cluster.leave();
        await forgetClusters([name]);
    }
});
