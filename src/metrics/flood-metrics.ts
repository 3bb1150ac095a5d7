import { AsyncLocalStorage } from "node:async_hooks";
import type { Counter, Registry } from "prom-client";
import { counterIn } from "./series.js";

/**
 * `sluice_telegram_429_total`. Two places see Telegram's 429s: `run`'s API
 * transformer (every call through `bot.api`, `getUpdates` included) and an
 * outbox's dispatcher (its own sends, which a standalone `createOutbox` makes
 * without any transformer). An outbox's send on a `bot.api` that carries the
 * transformer passes both; the outbox counts it, and the transformer leaves
 * it alone when that outbox counts into the transformer's registry. So every
 * 429 is counted once in each registry that measures its bot.
 */
export function floodCounter(registry: Registry): Counter<"bot_id"> {
    return counterIn(registry, "sluice_telegram_429_total", "Bot API calls Telegram answered with 429 (flood wait).", ["bot_id"]);
}

/** The registry the outbox sending now counts its 429s in. */
const sendingOutbox = new AsyncLocalStorage<Registry>();

/** Wraps an outbox's send so the API transformer knows the outbox counts this call's 429 in `registry`. */
export function floodsCountedIn<A extends unknown[], R>(registry: Registry, send: (...args: A) => R): (...args: A) => R {
    return (...args) => sendingOutbox.run(registry, send, ...args);
}

/** Whether the call being answered now is an outbox's send whose 429 that outbox counts in `registry`. */
export function outboxCountsFloodsIn(registry: Registry): boolean {
    return sendingOutbox.getStore() === registry;
}
