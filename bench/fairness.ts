/**
 * Flood fairness: one chat sends 1,000 updates, then 100 other chats send 10
 * each; every update takes 20 ms. Measures how long the quiet chats wait:
 * the time from when all updates were queued at the API until each quiet
 * update's handler finished.
 */
import type { RemoteSimulator } from "../src/simulator/index.js";
import { chatAndUser, freshBot, type RunnerName, runners, start, until } from "./rig.js";
import { percentile } from "./stats.js";

const FLOOD = 1_000;
const QUIET_CHATS = 100;
const PER_QUIET_CHAT = 10;
const WORK_MS = 20;
const FLOODER = 1;

/** p99 latency of the quiet chats' updates, in milliseconds. */
export async function quietP99(sim: RemoteSimulator, name: RunnerName): Promise<number> {
    const { bot, token } = await freshBot(sim);
    const messages = Array.from({ length: FLOOD }, () => ({ chatId: FLOODER, text: "flood" }));
    for (let chat = 2; chat < 2 + QUIET_CHATS; chat++) {
        for (let n = 0; n < PER_QUIET_CHAT; n++) messages.push({ chatId: chat, text: "hi" });
    }
    await sim.pushMessages(token, messages);
    const latencies: number[] = [];
    bot.use(runners[name].sequentialize(chatAndUser));
    bot.on("message", async (ctx) => {
        await new Promise((resolve) => setTimeout(resolve, WORK_MS));
        if (ctx.chat.id !== FLOODER) latencies.push(performance.now() - queued);
    });
    const queued = performance.now();
    const handle = start(name, bot);
    await until(() => latencies.length === QUIET_CHATS * PER_QUIET_CHAT);
    await handle.stop();
    return percentile(latencies, 0.99);
}
