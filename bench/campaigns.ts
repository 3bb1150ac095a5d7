/**
 * Broadcasts at the scale of a million recipients: how fast `addRecipients`
 * imports them (and what that costs in resident memory), and how long a new
 * update's `ctx.reply` waits while a million-message campaign runs at the
 * bot's limit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOutbox, type Recipient, run } from "../src/index.js";
import type { RemoteSimulator } from "../src/simulator/index.js";
import { TELEGRAM_LIMITS } from "./outbox.js";
import { freshBot } from "./rig.js";
import { percentile } from "./stats.js";

const TEMPLATES = { news: { en: "Hello, {name}! Our November news.", de: "Hallo, {name}! Neues im November." } };

async function* recipients(count: number): AsyncGenerator<Recipient> {
    for (let n = 1; n <= count; n++) yield { chatId: n, locale: n % 4 === 0 ? "de" : "en", vars: { name: `user ${n}` } };
}

/** Peak resident memory above the level at the start, sampled every 50 ms while `work` runs. */
async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    try {
        const result = await work();
        return { result, growth: Math.max(peak, process.memoryUsage.rss()) - baseline };
    } finally {
        clearInterval(sampler);
    }
}

/** Recipients per second `addRecipients` stores from an async generator into a store file, and the peak RSS growth. */
export async function importRate(sim: RemoteSimulator, count: number): Promise<{ perSecond: number; rssGrowth: number }> {
    const { bot } = await freshBot(sim);
    const dir = mkdtempSync(join(tmpdir(), "sluice-campaign-bench-"));
    const outbox = createOutbox({ store: join(dir, "campaign.db"), api: bot.api, templates: TEMPLATES });
    try {
        const { id } = outbox.campaigns.create({ name: "import", message: { template: "news" } });
        const started = performance.now();
        const { result, growth } = await peakRssGrowth(() => outbox.campaigns.addRecipients(id, recipients(count)));
        if (result.added !== count) throw new Error(`added ${result.added} of ${count}`);
        return { perSecond: count / ((performance.now() - started) / 1000), rssGrowth: growth };
    } finally {
        await outbox.close();
        rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Milliseconds from `ctx.reply` to Telegram's answer for replies to new
 * updates (one every 200 ms for `seconds`), while a campaign of `campaignSize`
 * recipients runs at Telegram's 30/s; the simulator enforces the limits.
 */
export async function replyLatencyDuringCampaign(
    sim: RemoteSimulator,
    campaignSize: number,
    seconds: number,
): Promise<{ p50: number; p99: number; replies: number; campaignShare: number; floodRejections: number }> {
    const { bot, token } = await freshBot(sim);
    const dir = mkdtempSync(join(tmpdir(), "sluice-campaign-bench-"));
    const latencies: number[] = [];
    bot.on("message", async (ctx) => {
        const started = performance.now();
        await ctx.reply("got it");
        latencies.push(performance.now() - started);
    });
    const handle = run(bot, { store: join(dir, "bot.db"), outbox: { templates: TEMPLATES }, signals: false });
    try {
        const campaigns = handle.outbox!.campaigns;
        const { id } = campaigns.create({ name: "big", message: { template: "news" } });
        await campaigns.addRecipients(id, recipients(campaignSize));
        campaigns.start(id);
        // Warm-up: the campaign reaches its pace before replies are timed.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        const sentBefore = campaigns.stats(id).sent;
        const started = performance.now();
        for (let n = 0; n < seconds * 5; n++) {
            await sim.pushMessage(token, { chatId: 2_000_000_000 + n, text: "hi" });
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
        const elapsed = (performance.now() - started) / 1000;
        const campaignRate = (campaigns.stats(id).sent - sentBefore) / elapsed;
        latencies.sort((a, b) => a - b);
        const { floodRejections } = await sim.stats(token);
        return {
            p50: percentile(latencies, 0.5),
            p99: percentile(latencies, 0.99),
            replies: latencies.length,
            campaignShare: campaignRate / TELEGRAM_LIMITS.globalPerSecond,
            floodRejections,
        };
    } finally {
        await handle.stop();
        rmSync(dir, { recursive: true, force: true });
    }
}
