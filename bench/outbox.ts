/**
 * The outbox against `@grammyjs/transformer-throttler` + `@grammyjs/auto-retry`
 * on the same simulator, whose flood limits are Telegram's (30/s for the bot,
 * 1/s per private chat, 20/min per group, 1000/s for paid broadcasts, sliding
 * windows): how close each gets to the allowed rate and how many 429s it
 * draws. Also the enqueue rate into a store file, the latency the queue adds
 * when no limit is near, and a broadcast with a million messages queued.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { autoRetry } from "@grammyjs/auto-retry";
import { apiThrottler } from "@grammyjs/transformer-throttler";
import { createOutbox } from "../src/index.js";
import type { RemoteSimulator } from "../src/simulator/index.js";
import { freshBot } from "./rig.js";

/** Telegram's limits, as the simulator enforces them in this comparison. */
export const TELEGRAM_LIMITS = { globalPerSecond: 30, paidPerSecond: 1000, privatePerSecond: 1, groupPerMinute: 20 };

/** Who sends: the outbox, or the reference pair of transformers. */
export type Sender = "sluice" | "throttler";

/** Delivered rate as a share of the allowed rate, and the 429s drawn. */
export interface DeliveryResult {
    shareOfAllowed: number;
    floodRejections: number;
    seconds: number;
}

/**
 * Sends `chats.length` messages (one per entry, so a chat can repeat) as fast
 * as the sender allows and compares the delivered rate with `allowedPerSecond`.
 */
export async function delivery(sim: RemoteSimulator, sender: Sender, chats: number[], allowedPerSecond: number): Promise<DeliveryResult> {
    const { bot, token } = await freshBot(sim);
    const started = performance.now();
    if (sender === "throttler") {
        bot.api.config.use(apiThrottler());
        bot.api.config.use(autoRetry());
        await Promise.all(chats.map((chat_id, n) => bot.api.sendMessage(chat_id, `#${n}`)));
    } else {
        const outbox = createOutbox({ api: bot.api });
        const ids = chats.map((chat_id, n) => outbox.enqueue({ method: "sendMessage", payload: { chat_id, text: `#${n}` } }).id);
        await Promise.all(ids.map((id) => outbox.sent(id)));
        await outbox.close();
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = await sim.stats(token);
    return { shareOfAllowed: chats.length / seconds / allowedPerSecond, floodRejections: stats.floodRejections, seconds };
}

/** How messages are handed to the outbox in `enqueueRate`. */
export type EnqueueMode = "one by one" | "grouped per turn" | "1,000 per call";

/**
 * Messages enqueued per second into an outbox on a store file (its
 * dispatcher holding them back): `enqueue` one by one (a commit each),
 * `enqueueGrouped` (as handlers' replies are stored: one commit per
 * event-loop turn, here 1,000 calls a turn), or `enqueueMany`.
 */
export async function enqueueRate(sim: RemoteSimulator, mode: EnqueueMode, count = 100_000): Promise<number> {
    const { bot } = await freshBot(sim);
    const dir = mkdtempSync(join(tmpdir(), "sluice-outbox-bench-"));
    const outbox = createOutbox({ store: join(dir, "outbox.db"), api: bot.api });
    const later = new Date(Date.now() + 3_600_000);
    const message = (n: number) => ({ method: "sendMessage", payload: { chat_id: 1 + (n % 1000), text: `#${n}` }, notBefore: later });
    const started = performance.now();
    for (let first = 0; first < count; first += 1000) {
        const messages = Array.from({ length: Math.min(1000, count - first) }, (_, i) => message(first + i));
        if (mode === "1,000 per call") outbox.enqueueMany(messages);
        else if (mode === "one by one") for (const m of messages) outbox.enqueue(m);
        else await Promise.all(messages.map((m) => outbox.enqueueGrouped(m)));
    }
    const rate = count / ((performance.now() - started) / 1000);
    await outbox.close();
    rmSync(dir, { recursive: true, force: true });
    return rate;
}

/** Mean milliseconds per sendMessage, direct and through the outbox, one after another to fresh chats. */
export async function replyLatency(sim: RemoteSimulator, count = 300): Promise<{ directMs: number; outboxMs: number }> {
    const direct = (await freshBot(sim)).bot;
    let started = performance.now();
    for (let n = 0; n < count; n++) await direct.api.sendMessage(10_000 + n, "hi");
    const directMs = (performance.now() - started) / count;
    const queued = (await freshBot(sim)).bot;
    const outbox = createOutbox({ api: queued.api, globalPerSecond: 100_000, privatePerSecond: 100_000 });
    started = performance.now();
    for (let n = 0; n < count; n++)
        await outbox.sent(outbox.enqueue({ method: "sendMessage", payload: { chat_id: 10_000 + n, text: "hi" } }).id);
    const outboxMs = (performance.now() - started) / count;
    await outbox.close();
    return { directMs, outboxMs };
}

/** Messages per `enqueueMany` call when a broadcast is queued. */
const BROADCAST_BATCH = 10_000;
/** Seconds of sending before a broadcast's window opens: the JIT and the HTTP connections settle. */
const WARM_UP_SECONDS = 5;

/** A broadcast's enqueue rate, and how it sends with everything queued. */
export interface BroadcastResult {
    /** Messages per second stored by `enqueueMany`, `BROADCAST_BATCH` a call, while the dispatcher sends. */
    enqueuePerSecond: number;
    /** Messages delivered per second in the window, as a share of the allowed rate. */
    shareOfAllowed: number;
    /** 429s drawn in the window. */
    floodRejections: number;
    /** 429s drawn before it, while enqueuing and warming up (an enqueue batch holds the thread while sends are on their way). */
    floodRejectionsBefore: number;
    /** This process's CPU time in the window (user and system), as a share of one core. */
    cpuShare: number;
    /** Resident memory of this process before the enqueue and at the end of the window. */
    rssBefore: number;
    rssAfter: number;
    /** Length of the window. */
    seconds: number;
}

/**
 * Queues `count` messages to as many private chats in an outbox on a store
 * file (paid broadcasts if `paid`), then, after a warm-up, measures the
 * delivered rate, this process's CPU and its memory over `seconds` (ending
 * early if the queue runs dry). The queue is far longer than the window, so
 * every send picks from a full queue: the cost that must not grow with it.
 */
export async function broadcast(
    sim: RemoteSimulator,
    options: { count: number; paid: boolean; allowedPerSecond: number; seconds: number },
): Promise<BroadcastResult> {
    const { count, paid, allowedPerSecond, seconds } = options;
    const { bot, token } = await freshBot(sim);
    const dir = mkdtempSync(join(tmpdir(), "sluice-broadcast-bench-"));
    const outbox = createOutbox({ store: join(dir, "outbox.db"), api: bot.api });
    try {
        const rssBefore = process.memoryUsage().rss;
        const extra = paid ? { allow_paid_broadcast: true } : {};
        let started = performance.now();
        for (let first = 0; first < count; first += BROADCAST_BATCH) {
            const size = Math.min(BROADCAST_BATCH, count - first);
            outbox.enqueueMany(
                Array.from({ length: size }, (_, i) => ({
                    method: "sendMessage",
                    payload: { chat_id: 1 + first + i, text: `#${first + i}`, ...extra },
                })),
            );
            // A bot enqueues between other work: the dispatcher keeps its turns.
            await new Promise((resolve) => setImmediate(resolve));
        }
        const enqueuePerSecond = count / ((performance.now() - started) / 1000);
        await delay(WARM_UP_SECONDS * 1000);
        const before = await sim.stats(token);
        const cpu = process.cpuUsage();
        started = performance.now();
        let after = before;
        // Checked once a second: a queue that runs dry ends the window (within that second).
        for (let second = 0; second < seconds && after.sent < count; second++) {
            await delay(1000);
            after = await sim.stats(token);
        }
        const elapsed = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        return {
            enqueuePerSecond,
            shareOfAllowed: (after.sent - before.sent) / elapsed / allowedPerSecond,
            floodRejections: after.floodRejections - before.floodRejections,
            floodRejectionsBefore: before.floodRejections,
            cpuShare: (used.user + used.system) / 1e6 / elapsed,
            rssBefore,
            rssAfter: process.memoryUsage().rss,
            seconds: elapsed,
        };
    } finally {
        await outbox.close(1000);
        rmSync(dir, { recursive: true, force: true });
    }
}
