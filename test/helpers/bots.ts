import { Bot, type Context } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { createSimulator, type Simulator } from "../../src/simulator/index.js";

/** A simulator with one registered bot, closed by `close()`. */
export interface TestRig {
    sim: Simulator;
    token: string;
    botInfo: UserFromGetMe;
    /** A fresh grammY bot pointed at the simulator (no getMe round trip needed). */
    bot(): Bot<Context>;
    close(): Promise<void>;
}

/** Starts a simulator and registers a bot on it. */
export async function startRig(options: Parameters<typeof createSimulator>[0] = {}): Promise<TestRig> {
    const sim = await createSimulator(options);
    const registered = sim.createBot();
    const { botInfo } = registered;
    return {
        sim,
        token: registered.token,
        botInfo,
        bot: () => new Bot(registered.token, { client: { apiRoot: sim.apiRoot }, botInfo }),
        close: () => sim.close(),
    };
}

/** Resolves once `condition()` holds, polling every few milliseconds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
}
