/**
 * Throughput: 100,000 updates over 1,000 chats, a zero-work handler behind
 * `sequentialize`, against a simulator in another process. Also measures a
 * bare loop that only calls getUpdates and parses the answer: the ceiling
 * for any runner built on grammY's client.
 */
import type { RemoteSimulator } from "../src/simulator/index.js";
import { chatAndUser, freshBot, type RunnerName, runners, start, until } from "./rig.js";

export const UPDATES = 100_000;
const CHATS = 1_000;

async function load(sim: RemoteSimulator, token: string): Promise<void> {
    const messages = Array.from({ length: UPDATES }, (_, i) => ({ chatId: 1 + (i % CHATS), text: "x" }));
    for (let i = 0; i < messages.length; i += 10_000) await sim.pushMessages(token, messages.slice(i, i + 10_000));
}

/** Updates per second for a bare getUpdates-and-parse loop. */
export async function bareLoop(sim: RemoteSimulator): Promise<number> {
    const { bot, token } = await freshBot(sim);
    await load(sim, token);
    const started = performance.now();
    let offset = 0;
    let received = 0;
    while (received < UPDATES) {
        const updates = await bot.api.getUpdates({ offset, limit: 100, timeout: 0 });
        received += updates.length;
        offset = updates[updates.length - 1]!.update_id + 1;
    }
    return UPDATES / ((performance.now() - started) / 1000);
}

/** Updates per second handled by the named runner (sluice with a journal in `store`, if given). */
export async function runnerThroughput(sim: RemoteSimulator, name: RunnerName, store?: string): Promise<number> {
    const { bot, token } = await freshBot(sim);
    await load(sim, token);
    let handled = 0;
    bot.use(runners[name].sequentialize(chatAndUser));
    bot.on("message", () => {
        handled++;
    });
    const started = performance.now();
    const handle = start(name, bot, { store });
    await until(() => handled === UPDATES);
    const rate = UPDATES / ((performance.now() - started) / 1000);
    await handle.stop();
    return rate;
}
