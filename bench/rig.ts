import * as reference from "@grammyjs/runner";
import { Bot, type Context } from "grammy";
import * as sluice from "../src/index.js";
import type { RemoteSimulator } from "../src/simulator/index.js";

/** The two runners measured side by side. */
export const runners = { reference, sluice } as const;
export type RunnerName = keyof typeof runners;

/** A grammY bot on a fresh simulator bot, with `botInfo` filled in so no getMe call is needed. */
export async function freshBot(sim: RemoteSimulator): Promise<{ bot: Bot<Context>; token: string }> {
    const registered = await sim.createBot();
    const { botInfo } = registered;
    return { token: registered.token, bot: new Bot(registered.token, { client: { apiRoot: sim.apiRoot }, botInfo }) };
}

/**
 * Starts `bot` under the named runner; with `store`, sluice journals to that
 * file. sluice's signal handlers stay off in benchmarks.
 */
export function start(name: RunnerName, bot: Bot<Context>, options: { store?: string } = {}) {
    return name === "sluice" ? sluice.run(bot, { signals: false, stopTimeoutMs: 100, store: options.store }) : reference.run(bot);
}

/** The chat-and-user constraint, spelled the same way for both runners' `sequentialize`. */
export const chatAndUser = (ctx: Context) => [String(ctx.chat?.id), String(ctx.from?.id)];

/** Resolves once `condition()` holds, checking every millisecond. */
export async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}
