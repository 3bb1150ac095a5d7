/**
 * `getUpdates` as Telegram serves it, on top of each bot's update queue and
 * poll slot: offsets confirm, a long poll is answered as soon as updates are
 * pushed, only the newest poller lives (the older one gets 409), and no one
 * may poll while a webhook is set. A bot's polling loop meets exactly the
 * conflicts it meets in production.
 */
import type { ServerResponse } from "node:http";
import type { BotState } from "./bot.js";
import type { SimulatorEmitter } from "./events.js";
import { errorBody, integerParam, type Payload, stringListParam } from "./http.js";
import type { HeldPoll } from "./long-poll.js";
import type { Replies } from "./replies.js";
import type { Waiters } from "./waiters.js";

// setTimeout cannot wait longer than this; longer `timeout`s are capped.
const MAX_TIMER_MS = 2 ** 31 - 1;

const pollerConflict = errorBody(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
const webhookConflict = errorBody(
    409,
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
);

/** Serves `getUpdates` and keeps webhooks from coexisting with it, for every bot of one simulator. */
export class UpdateFeed {
    private closed = false;

    constructor(
        private readonly replies: Replies,
        private readonly events: SimulatorEmitter,
        private readonly waiters: Waiters,
    ) {}

    /** Answers a `getUpdates` call: at once when updates are pending or `timeout` is 0, else when some arrive or time is up. */
    getUpdates(bot: BotState, payload: Payload, res: ServerResponse): void {
        bot.counters.getUpdatesCalls++;
        if (bot.webhook !== undefined) {
            bot.counters.conflicts++;
            this.replies.reply(res, "getUpdates", 409, webhookConflict);
            return;
        }
        // Telegram lets only the newest poller live.
        this.refuseHeldPoll(bot, pollerConflict);

        bot.queue.setAllowedUpdates(stringListParam(payload.allowed_updates));
        const offset = integerParam(payload.offset) ?? 0;
        if (offset !== 0) bot.queue.confirm(offset);
        // Telegram accepts 1–100; 0 or a missing limit means the default of 100.
        const requested = integerParam(payload.limit) ?? 0;
        const limit = requested === 0 ? 100 : Math.min(100, Math.max(1, requested));
        const timeoutMs = Math.min(MAX_TIMER_MS, Math.max(0, Number(payload.timeout ?? 0) * 1000 || 0));
        this.waiters.check();

        if (bot.queue.size > 0 || timeoutMs === 0) this.answer(bot, { res, limit });
        else bot.poll.hold(res, limit, timeoutMs, (poll) => this.answer(bot, poll));
    }

    /** Counts `count` updates just pushed into the bot's queue and wakes its held poll. */
    pushed(bot: BotState, count: number): void {
        bot.counters.updatesPushed += count;
        // Wake the held poll on the next turn of the event loop, so a test
        // pushing in a loop delivers one batch instead of one update per poll.
        if (bot.poll.held !== undefined && bot.wake === undefined && !this.closed) {
            bot.wake = setImmediate(() => {
                bot.wake = undefined;
                if (bot.queue.size === 0) return;
                const poll = bot.poll.take();
                if (poll !== undefined) this.answer(bot, poll);
            });
        }
        this.waiters.check();
    }

    /** Sets the bot's webhook (`""` deletes it); from then on `getUpdates` is refused, a held one included. */
    setWebhook(bot: BotState, url: string): void {
        bot.webhook = url === "" ? undefined : url;
        if (bot.webhook !== undefined) this.refuseHeldPoll(bot, webhookConflict);
    }

    /** Deletes the bot's webhook, and its pending updates with `dropPending`. */
    deleteWebhook(bot: BotState, dropPending?: boolean): void {
        bot.webhook = undefined;
        if (dropPending) bot.queue.dropPending();
    }

    /** The bot's token was revoked: its held poll, if any, is answered 401 at once. */
    revoke(bot: BotState): void {
        bot.revoked = true;
        const held = bot.poll.take();
        if (held !== undefined) this.replies.reply(held.res, "getUpdates", 401, errorBody(401, "Unauthorized"));
    }

    /** Lets go of every held poll and pending wake-up; the simulator is closing. */
    close(bots: Iterable<BotState>): void {
        this.closed = true;
        for (const bot of bots) {
            bot.poll.take();
            if (bot.wake !== undefined) clearImmediate(bot.wake);
            bot.wake = undefined;
        }
    }

    private answer(bot: BotState, poll: HeldPoll): void {
        const { json, count } = bot.queue.peekJson(poll.limit);
        bot.counters.updatesDelivered += count;
        this.replies.reply(poll.res, "getUpdates", 200, `{"ok":true,"result":${json}}`);
        if (this.events.listens("updates")) this.events.emit("updates", bot.queue.peek(poll.limit), bot.account);
    }

    private refuseHeldPoll(bot: BotState, body: string): void {
        const older = bot.poll.take();
        if (older === undefined) return;
        bot.counters.conflicts++;
        this.replies.reply(older.res, "getUpdates", 409, body);
    }
}
