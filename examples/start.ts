/**
 * `npm start`. With BOT_TOKEN set, runs the example bot on Telegram until
 * Ctrl+C. Without it, runs the same bot against the built-in Bot API
 * simulator: a few hundred synthetic users chat with it while one of them
 * floods it, a progress line shows what happens, and a summary ends the run.
 */
import { Bot, type Context } from "grammy";
import { createLogger, run } from "../src/index.js";
import { createSimulator } from "../src/simulator/index.js";
import { installHandlers } from "./echo-bot.js";

const token = process.env.BOT_TOKEN;
if (token) await runForReal(token);
else await runDemo();

async function runForReal(botToken: string): Promise<void> {
    const bot = new Bot(botToken);
    installHandlers(bot);
    const handle = run(bot, { logger: createLogger({ level: "info" }) });
    console.log("Bot running. Press Ctrl+C to stop.");
    await handle.task();
    console.log("Stopped.");
}

async function runDemo(): Promise<void> {
    const QUIET_USERS = 300;
    const MESSAGES_PER_QUIET_USER = 10;
    const FLOOD_MESSAGES = 400;
    const HANDLER_WORK_MS = 20;
    const SPREAD_MS = 6_000;
    const FLOODER = 1;

    const sim = await createSimulator();
    const { token: demoToken } = sim.createBot({ username: "sluice_demo_bot" });
    const bot = new Bot(demoToken, { client: { apiRoot: sim.apiRoot } });

    const pushedAt = new Map<number, number>();
    const lastMessageOfChat = new Map<number, number>();
    const quietLatencies: number[] = [];
    let handled = 0;
    let floodHandled = 0;
    let orderViolations = 0;
    bot.use(async (ctx: Context, next) => {
        const { update_id } = ctx.update;
        const chat = ctx.chat?.id ?? 0;
        const messageId = ctx.msg?.message_id ?? 0;
        if ((lastMessageOfChat.get(chat) ?? 0) > messageId) orderViolations++;
        lastMessageOfChat.set(chat, messageId);
        if (chat === FLOODER) floodHandled++;
        else quietLatencies.push(performance.now() - pushedAt.get(update_id)!);
        pushedAt.delete(update_id);
        await next();
        handled++;
    });
    installHandlers(bot, { workMs: HANDLER_WORK_MS });

    const push = (chatId: number, text: string) => {
        const update = sim.pushMessage(demoToken, { chatId, text });
        pushedAt.set(update.update_id, performance.now());
    };
    const total = FLOOD_MESSAGES + QUIET_USERS * MESSAGES_PER_QUIET_USER;
    console.log(
        `sluice demo: ${QUIET_USERS} users send ${MESSAGES_PER_QUIET_USER} messages each over ${SPREAD_MS / 1000} s, ` +
            `while user ${FLOODER} floods the bot with ${FLOOD_MESSAGES} at once; each update takes ${HANDLER_WORK_MS} ms.`,
    );
    const started = performance.now();
    for (let i = 0; i < FLOOD_MESSAGES; i++) push(FLOODER, `flood ${i}`);
    const timers: NodeJS.Timeout[] = [];
    for (let user = 2; user < 2 + QUIET_USERS; user++) {
        for (let n = 0; n < MESSAGES_PER_QUIET_USER; n++) {
            const at = (SPREAD_MS * (n + Math.random())) / MESSAGES_PER_QUIET_USER;
            timers.push(setTimeout(() => push(user, `hello ${n}`), at));
        }
    }

    const handle = run(bot, { signals: false });
    const progress = setInterval(() => printProgress(false), 250);
    function printProgress(final: boolean) {
        const line =
            `handled ${handled}/${total}  flood ${floodHandled}/${FLOOD_MESSAGES}  ` +
            `quiet p99 so far ${percentile(quietLatencies, 0.99).toFixed(0)} ms  order violations ${orderViolations}`;
        if (process.stdout.isTTY) process.stdout.write(`\r${line}${final ? "\n" : ""}`);
        else if (final || Math.round(performance.now() - started) % 1000 < 250) console.log(line);
    }
    while (handled < total) await new Promise((resolve) => setTimeout(resolve, 20));
    clearInterval(progress);
    printProgress(true);
    await handle.stop();
    for (const timer of timers) clearTimeout(timer);
    const replies = sim.sent(demoToken).length;
    await sim.close();

    const seconds = (performance.now() - started) / 1000;
    console.log("\nSummary");
    console.log(`  updates handled            ${handled} in ${seconds.toFixed(1)} s (replies sent: ${replies})`);
    console.log(`  per-chat order violations  ${orderViolations}`);
    console.log(
        `  quiet chats' latency       p50 ${percentile(quietLatencies, 0.5).toFixed(0)} ms, ` +
            `p99 ${percentile(quietLatencies, 0.99).toFixed(0)} ms, max ${percentile(quietLatencies, 1).toFixed(0)} ms ` +
            `(from a message's arrival at the API to its handler starting)`,
    );
    console.log(`  the flooding chat         ${FLOOD_MESSAGES} updates, one at a time, in order, in its own lane`);
}

/** The q-quantile (0..1) of some numbers, nearest rank. */
function percentile(values: readonly number[], q: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}
