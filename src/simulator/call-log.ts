/**
 * The calls the simulator answered, kept per bot for tests to read back:
 * `sim.calls()`, `sim.sent()`, `waitForCalls` and the `call` event. Keeping
 * them can be turned off for long benchmarks, where memory would grow with
 * every call; the counters count either way.
 */
import type { Message } from "grammy/types";
import type { ApiCall, BotState, SentCall } from "./bot.js";
import type { SimulatorEmitter } from "./events.js";
import { isMessageMethod } from "./methods.js";
import type { Waiters } from "./waiters.js";

/** Records the calls of every bot of one simulator and reads them back. */
export class CallLog {
    constructor(
        private readonly keep: boolean,
        private readonly events: SimulatorEmitter,
        private readonly waiters: Waiters,
    ) {}

    /** Counts an answered call, keeps it, tells `call` listeners and re-checks waiters. */
    record(bot: BotState, call: ApiCall): void {
        bot.counters.calls++;
        if (this.keep) {
            bot.calls.push(call);
            bot.callCounts.set(call.method, (bot.callCounts.get(call.method) ?? 0) + 1);
        }
        this.events.emit("call", call, bot.account);
        this.waiters.check();
    }

    /** The bot's recorded calls in arrival order, optionally of one method. */
    calls(bot: BotState, method?: string): ApiCall[] {
        return method === undefined ? bot.calls.slice() : bot.calls.filter((call) => call.method === method);
    }

    /** How many calls `calls` would return, without copying or scanning them. */
    count(bot: BotState, method?: string): number {
        return method === undefined ? bot.calls.length : (bot.callCounts.get(method) ?? 0);
    }

    /** The bot's successful message calls with their results, in arrival order. */
    sent(bot: BotState): SentCall[] {
        const sent: SentCall[] = [];
        for (const call of bot.calls) {
            if (!call.ok || !isMessageMethod(call.method)) continue;
            const result = call.result;
            const message = typeof result === "object" && result !== null && "chat" in result ? (result as Message) : undefined;
            const text = call.payload.text ?? call.payload.caption;
            sent.push({
                ...(call as SentCall),
                ...(message === undefined ? {} : { message }),
                ...(typeof text === "string" ? { text } : {}),
            });
        }
        return sent;
    }

    /** Forgets the bot's recorded calls (counters stay). */
    clear(bot: BotState): void {
        bot.calls.length = 0;
        bot.callCounts.clear();
    }
}
