import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import { Counter, Registry } from "prom-client";
import { createOutbox, createTasks, type Metrics, run } from "../src/index.js";
import { startRig, type TestRig } from "./helpers/bots.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("metrics");
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
