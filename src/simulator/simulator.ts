/**
 * The simulator's public face: `createSimulator` and the `Simulator` class a
 * test drives. It owns the HTTP server and the registered bots and wires the
 * parts together (router, update feed, call log, waiters); what a request or
 * a call does is decided in those parts, so this class stays a list of the
 * operations a test has.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Message, Update } from "grammy/types";
import { InvalidOptionError, SluiceError } from "../shared/errors.js";
import { type ApiCall, BotState, type BotStats, type CreateBotOptions, type SentCall, type SimulatedBot } from "./bot.js";
import { CallLog } from "./call-log.js";
import { type ChatState, inferChatType } from "./chats.js";
import { SimulatorEmitter, type SimulatorEvents } from "./events.js";
import { type DelayNextOptions, type FailNextOptions, FaultInjector, type Faults } from "./faults.js";
import { FloodLimiter, type FloodLimits } from "./flood-limits.js";
import { UpdateFeed } from "./get-updates.js";
import { newIdentity } from "./identity.js";
import { findMethod } from "./methods.js";
import { Replies } from "./replies.js";
import { Router } from "./router.js";
import type { UpdateInput } from "./update-queue.js";
import { type CallbackQuerySpec, type MessageSpec, makeCallbackQuery, makeTextMessage } from "./users.js";
import { Waiters, type WaitOptions } from "./waiters.js";

/** Options of `createSimulator`. */
export interface SimulatorOptions {
    /** TCP port on 127.0.0.1. @default 0 (a free port; read it from `sim.apiRoot`) */
    port?: number;
    /** Interface to listen on. @default "127.0.0.1" */
    host?: string;
    /** Flood limits per bot token. @default none */
    limits?: FloodLimits;
    /** Random faults (latency, 5xx, dropped connections). @default none */
    faults?: Faults;
    /**
     * Record every call's payload and result for `sim.calls()`/`sim.sent()`.
     * Turn off for long benchmarks; counters in `sim.stats()` keep working.
     * @default true
     */
    recordCalls?: boolean;
    /** Time source (ms since the epoch) for flood windows, call times and message dates. @default Date.now */
    clock?: () => number;
}

/**
 * A local Telegram Bot API server for tests, demos and benchmarks. grammY
 * (or any client) talks to it over real HTTP on 127.0.0.1, exactly as it
 * talks to Telegram: point `client.apiRoot` at `sim.apiRoot`.
 *
 * It implements `getUpdates` with Telegram's semantics (offsets, long
 * polling, one poller per token, `allowed_updates`), webhooks as far as they
 * conflict with polling, and plausible answers to every other method, which
 * it records. Flood limits, blocked chats and injected faults let a test
 * drive a bot through the failures it meets in production.
 *
 * Create one with {@link createSimulator}; always `await sim.close()`.
 *
 * @example
 * ```ts
 * const sim = await createSimulator();
 * const { token } = sim.createBot();
 * const bot = new Bot(token, { client: { apiRoot: sim.apiRoot } });
 * bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
 * sim.pushMessage(token, { chatId: 42, text: "hi" });
 * void bot.start();
 * const [reply] = await sim.waitForCalls(token, 1, { method: "sendMessage" });
 * await bot.stop();
 * await sim.close();
 * ```
 */
export class Simulator {
    /** Base URL for `new Bot(token, { client: { apiRoot } })`, e.g. `http://127.0.0.1:40123`. */
    readonly apiRoot: string;
    /** The port the simulator listens on. */
    readonly port: number;

    private readonly bots = new Map<string, BotState>();
    private limits: FloodLimits;
    private readonly clock: () => number;
    private readonly faults: FaultInjector;
    private readonly events = new SimulatorEmitter();
    private readonly waiters = new Waiters();
    private readonly replies: Replies;
    private readonly feed: UpdateFeed;
    private readonly callLog: CallLog;
    private readonly router: Router;
    private closing: Promise<void> | undefined;

    private constructor(
        private readonly server: Server,
        options: SimulatorOptions,
    ) {
        const address = server.address() as AddressInfo;
        this.port = address.port;
        const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
        this.apiRoot = `http://${host}:${address.port}`;
        this.faults = new FaultInjector(options.faults);
        this.limits = { ...options.limits };
        new FloodLimiter(this.limits); // validates the limits up front
        this.clock = options.clock ?? Date.now;
        this.replies = new Replies(this.faults);
        this.feed = new UpdateFeed(this.replies, this.events, this.waiters);
        this.callLog = new CallLog(options.recordCalls ?? true, this.events, this.waiters);
        this.router = new Router({
            bots: this.bots,
            faults: this.faults,
            replies: this.replies,
            feed: this.feed,
            callLog: this.callLog,
            clock: this.clock,
        });
        server.on("request", (req, res) => this.router.serve(req, res));
    }

    /** Starts a simulator; prefer {@link createSimulator}. */
    static async start(options: SimulatorOptions = {}): Promise<Simulator> {
        const server = createServer();
        // Long polls may legitimately stay open for minutes.
        server.requestTimeout = 0;
        // Clients keep connections alive between calls; Node's 5 s default
        // would close them under a client that pauses, causing reset races.
        server.keepAliveTimeout = 30_000;
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
                server.off("error", reject);
                resolve();
            });
        });
        try {
            return new Simulator(server, options);
        } catch (error) {
            server.close();
            throw error;
        }
    }

    // ---------------------------------------------------------------- bots

    /** Registers a bot and returns its token and identity. */
    createBot(options: CreateBotOptions = {}): SimulatedBot {
        const account = newIdentity(options, this.bots);
        this.bots.set(account.token, new BotState(account, this.limits, options.firstUpdateId));
        return account;
    }

    // ------------------------------------------------------------- updates

    /**
     * Adds an update for the bot and wakes its long poll. `update_id` is
     * assigned (the next one) unless given, in which case it must be higher
     * than every earlier one. Returns the complete update.
     */
    pushUpdate(token: string, update: UpdateInput): Update {
        const bot = this.bot(token);
        const full = bot.queue.push(update);
        this.feed.pushed(bot, 1);
        return full;
    }

    /** `pushUpdate` for many updates, waking the long poll once. */
    pushUpdates(token: string, updates: readonly UpdateInput[]): Update[] {
        const bot = this.bot(token);
        const full = updates.map((update) => bot.queue.push(update));
        this.feed.pushed(bot, full.length);
        return full;
    }

    /**
     * Adds a text message from a user, as Telegram would deliver it: message
     * ids count per chat, `from` and `chat` are filled in, a leading command
     * gets its entity. Returns the update.
     */
    pushMessage(token: string, message: MessageSpec): Update {
        return this.pushMessages(token, [message])[0] as Update;
    }

    /**
     * Adds many text messages at once, in order, waking the long poll once.
     * Built for volume: 100k messages take well under a second.
     */
    pushMessages(token: string, messages: readonly MessageSpec[]): Update[] {
        const bot = this.bot(token);
        const now = this.nowSeconds();
        const updates = bot.queue.pushBuilt(messages, "message", (spec, updateId) => {
            const chat = bot.chats.chat(spec.chatId, spec.chatType ?? inferChatType(spec.chatId));
            const message = makeTextMessage(spec, chat, bot.chats.nextMessageId(spec.chatId), now);
            return { update_id: updateId, message } as Update;
        });
        this.feed.pushed(bot, updates.length);
        return updates;
    }

    /**
     * Adds a callback query: a user pressed an inline button under a message
     * of the bot in `chatId`. Returns the update.
     */
    pushCallbackQuery(token: string, query: CallbackQuerySpec): Update {
        const bot = this.bot(token);
        const chat = bot.chats.chat(query.chatId, query.chatType ?? inferChatType(query.chatId));
        const messageId = query.messageId ?? Math.max(1, bot.chats.lastMessageId(query.chatId));
        const message = { message_id: messageId, from: bot.sender, chat, date: this.nowSeconds(), text: "…" } as Message;
        const id = `${bot.account.id}${String(bot.nextSerial()).padStart(9, "0")}`;
        return this.pushUpdate(token, { callback_query: makeCallbackQuery(query, id, message) });
    }

    /** Number of updates not yet confirmed by a `getUpdates` offset. */
    pending(token: string): number {
        return this.bot(token).queue.size;
    }

    /** Highest offset confirmed by a `getUpdates` call (0 before the first confirmation). */
    confirmedOffset(token: string): number {
        return this.bot(token).queue.confirmedOffset;
    }

    // --------------------------------------------------------- inspection

    /** Recorded calls of the bot in arrival order, optionally of one method. Not `getUpdates`/`getMe`. */
    calls(token: string, method?: string): ApiCall[] {
        return this.callLog.calls(this.bot(token), method);
    }

    /** Successful message calls (sends, copies, forwards, edits) with their results, in arrival order. */
    sent(token: string): SentCall[] {
        return this.callLog.sent(this.bot(token));
    }

    /** Forgets the recorded calls of the bot (counters stay). */
    clearCalls(token: string): void {
        this.callLog.clear(this.bot(token));
    }

    /** Counters of the bot. */
    stats(token: string): BotStats {
        return this.bot(token).stats();
    }

    // ------------------------------------------------------ configuration

    /** Sets a webhook, as the `setWebhook` method would: `getUpdates` then answers 409. An empty url deletes it. */
    setWebhook(token: string, url: string): void {
        this.feed.setWebhook(this.bot(token), url);
    }

    /** Deletes the webhook, as the `deleteWebhook` method would. */
    deleteWebhook(token: string, options: { dropPendingUpdates?: boolean } = {}): void {
        this.feed.deleteWebhook(this.bot(token), options.dropPendingUpdates);
    }

    /**
     * Revokes the bot's token, as @BotFather's `/revoke` does: from now on
     * every call with it is answered 401 Unauthorized, a held long poll at
     * once. Its counters stay readable (`getMeCalls` keeps counting).
     */
    revokeToken(token: string): void {
        this.feed.revoke(this.bot(token));
    }

    /** Makes calls into `chatId` fail with 403 `Forbidden: bot was blocked by the user`. */
    blockChat(token: string, chatId: number | string): void {
        this.setChatState(token, chatId, "blocked");
    }

    /**
     * Sets how calls into `chatId` are answered: `"blocked"` (403),
     * `"not_found"` (400 `Bad Request: chat not found`) or `"active"`.
     */
    setChatState(token: string, chatId: number | string, state: ChatState): void {
        this.bot(token).chats.setState(chatId, state);
    }

    /** Replaces the flood limits of every bot (windows start empty). */
    setLimits(limits: FloodLimits): void {
        const limiters = [...this.bots.values()].map((bot) => [bot, new FloodLimiter(limits)] as const);
        this.limits = { ...limits };
        for (const [bot, limiter] of limiters) bot.limiter = limiter;
    }

    /** Replaces the random faults (`{}` turns them off). One-shot `failNext` failures stay queued. */
    setFaults(faults: Faults): void {
        this.faults.set(faults);
    }

    /**
     * Makes the next call(s) of `method` (`"*"`: any method) fail: with
     * `status` (default 500; 429 carries `retry_after`), or by dropping the
     * connection (`drop: true`).
     *
     * @example
     * ```ts
     * sim.failNext("sendMessage", { status: 429, retryAfter: 2 });
     * sim.failNext("getUpdates", { drop: true, count: 3 });
     * ```
     */
    failNext(method: string, options: FailNextOptions = {}): void {
        const canonical = method === "*" ? "*" : findMethod(method)?.name;
        if (canonical === undefined) throw new InvalidOptionError("method", `\`${method}\` is not a Bot API method`);
        this.faults.failNext(canonical, options);
    }

    /**
     * Makes the next call(s) of `method` (`"*"`: any method) wait `delayMs`
     * before they are served as usual: a `getMe` that hangs while a bot
     * starts, a slow send. A client that gives up meanwhile gets nothing.
     *
     * @example
     * ```ts
     * sim.delayNext("getMe", { delayMs: 30_000, token });
     * ```
     */
    delayNext(method: string, options: DelayNextOptions): void {
        const canonical = method === "*" ? "*" : findMethod(method)?.name;
        if (canonical === undefined) throw new InvalidOptionError("method", `\`${method}\` is not a Bot API method`);
        this.faults.delayNext(canonical, options);
    }

    // ------------------------------------------------------------- waiting

    /**
     * Resolves with the first truthy value of `predicate`, checked after
     * every simulator event and every few ms; rejects after `timeoutMs`.
     *
     * @example
     * ```ts
     * await sim.waitFor(() => sim.sent(token).length >= 3);
     * ```
     */
    waitFor<T>(predicate: () => T | false | undefined | null, options: WaitOptions = {}): Promise<T> {
        return this.waiters.wait(predicate, options);
    }

    /**
     * Resolves with the bot's recorded calls (of `method`, if given) once
     * there are at least `count`; rejects after `timeoutMs`.
     */
    async waitForCalls(token: string, count: number, options: WaitOptions & { method?: string } = {}): Promise<ApiCall[]> {
        const bot = this.bot(token);
        const method = options.method;
        try {
            await this.waitFor(() => this.callLog.count(bot, method) >= count, options);
        } catch (error) {
            if (!(error instanceof SluiceError) || error.code !== "SIMULATOR_TIMEOUT") throw error;
            const what = method === undefined ? "calls" : `${method} calls`;
            throw new SluiceError("SIMULATOR_TIMEOUT", `waitForCalls: expected ${count} ${what}, got ${this.callLog.count(bot, method)}`);
        }
        return this.callLog.calls(bot, method);
    }

    /** Resolves once every pushed update of the bot has been confirmed; rejects after `timeoutMs`. */
    async waitForDrain(token: string, options: WaitOptions = {}): Promise<void> {
        const queue = this.bot(token).queue;
        await this.waitFor(() => queue.size === 0, options);
    }

    // ---------------------------------------------------- events, closing

    /** Subscribes to simulator events. */
    on<E extends keyof SimulatorEvents>(event: E, listener: SimulatorEvents[E]): this {
        this.events.on(event, listener);
        return this;
    }

    /** Unsubscribes from simulator events. */
    off<E extends keyof SimulatorEvents>(event: E, listener: SimulatorEvents[E]): this {
        this.events.off(event, listener);
        return this;
    }

    /**
     * Stops the server and destroys every connection, held long polls
     * included; clears all timers. Afterwards nothing of the simulator keeps
     * the process alive. Pending `waitFor`s reject. Safe to call twice.
     */
    close(): Promise<void> {
        if (this.closing !== undefined) return this.closing;
        this.router.close();
        this.feed.close(this.bots.values());
        this.replies.close();
        this.waiters.close();
        this.closing = new Promise((resolve) => this.server.close(() => resolve()));
        this.server.closeAllConnections();
        return this.closing;
    }

    private bot(token: string): BotState {
        const bot = this.bots.get(token);
        if (bot === undefined)
            throw new SluiceError("SIMULATOR_UNKNOWN_BOT", "No bot with this token; create it first with `sim.createBot()`.");
        return bot;
    }

    private nowSeconds(): number {
        return Math.floor(this.clock() / 1000);
    }
}

/**
 * Starts a simulator listening on 127.0.0.1 (a random free port unless
 * `port` is given). Close it with `await sim.close()`.
 */
export function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
    return Simulator.start(options);
}
