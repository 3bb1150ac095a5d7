import { EventEmitter } from "node:events";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Message, Update, UserFromGetMe } from "grammy/types";
import { InvalidOptionError, SluiceError } from "../shared/errors.js";
import { componentLogger } from "../shared/logger.js";
import { type ApiCall, type BotStats, BotState, type CreateBotOptions, type SentCall, type SimulatedBot } from "./bot.js";
import { type ChatState, inferChatType } from "./chats.js";
import { type FailNextOptions, FaultInjector, type Faults } from "./faults.js";
import { FloodLimiter, type FloodLimits } from "./flood-limits.js";
import { type Payload, UnreadableRequest, errorBody, okBody, readPayload, writeJson } from "./http.js";
import type { HeldPoll } from "./long-poll.js";
import { canonicalMethod, isChatMethod, isMessageMethod } from "./methods.js";
import { botIdCandidate, seededRandom, tokenSecret } from "./random.js";
import { type Outcome, type ResultContext, resultFor } from "./results.js";
import type { UpdateInput } from "./update-queue.js";
import { type CallbackQuerySpec, type MessageSpec, makeCallbackQuery, makeTextMessage } from "./users.js";

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

/** Options of the `waitFor*` helpers. */
export interface WaitOptions {
    /** Reject after this many ms. @default 5000 */
    timeoutMs?: number;
}

/**
 * Events of a simulator. Listeners run synchronously while the request is
 * being answered, so keep them cheap.
 */
export interface SimulatorEvents {
    /** A recorded call was answered (every method except `getUpdates` and `getMe`). */
    call: (call: ApiCall, bot: SimulatedBot) => void;
    /** A `getUpdates` request was answered with these updates (possibly none). */
    updates: (updates: readonly Update[], bot: SimulatedBot) => void;
}

const ROUTE = /^\/bot([^/]+)\/([^/]*)$/;
// setTimeout cannot wait longer than this; longer `timeout`s are capped.
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_WAIT_MS = 5000;
// Waiters are re-checked on every simulator event and, for predicates over
// state outside the simulator (a handler's array), at this interval.
const WAIT_INTERVAL_MS = 10;
const TOKEN_SHAPE = /^(\d+):[A-Za-z0-9_-]+$/;

interface Waiter {
    check(): boolean;
    reject(error: Error): void;
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
    private readonly faults: FaultInjector;
    private limits: FloodLimits;
    private readonly recordCalls: boolean;
    private readonly clock: () => number;
    private readonly emitter = new EventEmitter();
    private readonly timers = new Set<NodeJS.Timeout>();
    private readonly waiters = new Set<Waiter>();
    private waitTicker: NodeJS.Timeout | undefined;
    private readonly random = seededRandom();
    private readonly log = componentLogger("simulator");
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
        this.recordCalls = options.recordCalls ?? true;
        this.clock = options.clock ?? Date.now;
        server.on("request", (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
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
        const n = this.bots.size + 1;
        let token: string;
        let id: number;
        if (options.token !== undefined) {
            const match = TOKEN_SHAPE.exec(options.token);
            if (match === null) throw new InvalidOptionError("token", "expected `<digits>:<secret>`");
            if (this.bots.has(options.token)) throw new InvalidOptionError("token", "a bot with this token already exists");
            token = options.token;
            id = Number(match[1]);
        } else {
            const used = new Set([...this.bots.values()].map((bot) => bot.account.id));
            do id = botIdCandidate();
            while (used.has(id));
            token = `${id}:${tokenSecret()}`;
        }
        const username = options.username ?? `sim_${n}_bot`;
        const firstName = options.firstName ?? `Sim Bot ${n}`;
        const user = {
            id,
            is_bot: true,
            first_name: firstName,
            username,
            can_join_groups: true,
            can_read_all_group_messages: false,
            supports_inline_queries: false,
            can_connect_to_business: false,
            has_main_web_app: false,
            has_topics_enabled: false,
            allows_users_to_create_topics: false,
            can_manage_bots: false,
            supports_join_request_queries: false,
        } as UserFromGetMe;
        const account: SimulatedBot = { token, id, username, firstName, botInfo: user };
        this.bots.set(token, new BotState(account, user, this.limits, options.firstUpdateId));
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
        bot.counters.updatesPushed++;
        this.afterPush(bot);
        return full;
    }

    /** `pushUpdate` for many updates, waking the long poll once. */
    pushUpdates(token: string, updates: readonly UpdateInput[]): Update[] {
        const bot = this.bot(token);
        const full = updates.map((update) => bot.queue.push(update));
        bot.counters.updatesPushed += full.length;
        this.afterPush(bot);
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
        bot.counters.updatesPushed += updates.length;
        this.afterPush(bot);
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
        const calls = this.bot(token).calls;
        return method === undefined ? calls.slice() : calls.filter((call) => call.method === method);
    }

    /** Successful message calls (sends, copies, forwards, edits) with their results, in arrival order. */
    sent(token: string): SentCall[] {
        const sent: SentCall[] = [];
        for (const call of this.bot(token).calls) {
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

    /** Forgets the recorded calls of the bot (counters stay). */
    clearCalls(token: string): void {
        const bot = this.bot(token);
        bot.calls.length = 0;
        bot.callCounts.clear();
    }

    /** Counters of the bot. */
    stats(token: string): BotStats {
        return this.bot(token).stats();
    }

    // ------------------------------------------------------ configuration

    /** Sets a webhook, as the `setWebhook` method would: `getUpdates` then answers 409. An empty url deletes it. */
    setWebhook(token: string, url: string): void {
        const bot = this.bot(token);
        bot.webhook = url === "" ? undefined : url;
        if (bot.webhook !== undefined) this.refuseHeldPoll(bot, webhookConflict);
    }

    /** Deletes the webhook, as the `deleteWebhook` method would. */
    deleteWebhook(token: string, options: { dropPendingUpdates?: boolean } = {}): void {
        const bot = this.bot(token);
        bot.webhook = undefined;
        if (options.dropPendingUpdates) bot.queue.dropPending();
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
        const canonical = method === "*" ? "*" : canonicalMethod(method);
        if (canonical === undefined) throw new InvalidOptionError("method", `\`${method}\` is not a Bot API method`);
        this.faults.failNext(canonical, options);
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
        const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
        return new Promise<T>((resolve, reject) => {
            if (this.closing !== undefined) return reject(closedError());
            let timer: NodeJS.Timeout | undefined;
            const waiter: Waiter = {
                check: () => {
                    let value: T | false | undefined | null;
                    try {
                        value = predicate();
                    } catch (error) {
                        waiter.reject(error as Error);
                        return true;
                    }
                    if (!value) return false;
                    this.dropWaiter(waiter, timer);
                    resolve(value);
                    return true;
                },
                reject: (error) => {
                    this.dropWaiter(waiter, timer);
                    reject(error);
                },
            };
            if (waiter.check()) return;
            timer = setTimeout(
                () => waiter.reject(new SluiceError("SIMULATOR_TIMEOUT", `waitFor: condition not met within ${timeoutMs} ms`)),
                timeoutMs,
            );
            this.waiters.add(waiter);
            this.waitTicker ??= setInterval(() => this.checkWaiters(), WAIT_INTERVAL_MS);
        });
    }

    /**
     * Resolves with the bot's recorded calls (of `method`, if given) once
     * there are at least `count`; rejects after `timeoutMs`.
     */
    async waitForCalls(token: string, count: number, options: WaitOptions & { method?: string } = {}): Promise<ApiCall[]> {
        const bot = this.bot(token);
        const method = options.method;
        const recorded = () => (method === undefined ? bot.calls.length : (bot.callCounts.get(method) ?? 0));
        try {
            await this.waitFor(() => recorded() >= count, options);
        } catch (error) {
            if (!(error instanceof SluiceError) || error.code !== "SIMULATOR_TIMEOUT") throw error;
            const what = method === undefined ? "calls" : `${method} calls`;
            throw new SluiceError("SIMULATOR_TIMEOUT", `waitForCalls: expected ${count} ${what}, got ${recorded()}`);
        }
        return this.calls(token, method);
    }

    /** Resolves once every pushed update of the bot has been confirmed; rejects after `timeoutMs`. */
    async waitForDrain(token: string, options: WaitOptions = {}): Promise<void> {
        const queue = this.bot(token).queue;
        await this.waitFor(() => queue.size === 0, options);
    }

    /** Subscribes to simulator events. */
    on<E extends keyof SimulatorEvents>(event: E, listener: SimulatorEvents[E]): this {
        this.emitter.on(event, listener);
        return this;
    }

    /** Unsubscribes from simulator events. */
    off<E extends keyof SimulatorEvents>(event: E, listener: SimulatorEvents[E]): this {
        this.emitter.off(event, listener);
        return this;
    }

    /**
     * Stops the server and destroys every connection, held long polls
     * included; clears all timers. Afterwards nothing of the simulator keeps
     * the process alive. Pending `waitFor`s reject. Safe to call twice.
     */
    close(): Promise<void> {
        if (this.closing !== undefined) return this.closing;
        for (const bot of this.bots.values()) {
            bot.poll.take();
            if (bot.wake !== undefined) clearImmediate(bot.wake);
            bot.wake = undefined;
        }
        for (const timer of this.timers) clearTimeout(timer);
        this.timers.clear();
        for (const waiter of [...this.waiters]) waiter.reject(closedError());
        this.closing = new Promise((resolve) => this.server.close(() => resolve()));
        this.server.closeAllConnections();
        return this.closing;
    }

    // ---------------------------------------------------------- internals

    private bot(token: string): BotState {
        const bot = this.bots.get(token);
        if (bot === undefined) throw new SluiceError("SIMULATOR_UNKNOWN_BOT", "No bot with this token; create it first with `sim.createBot()`.");
        return bot;
    }

    private nowSeconds(): number {
        return Math.floor(this.clock() / 1000);
    }

    private afterPush(bot: BotState): void {
        // Wake the held poll on the next turn of the event loop, so a test
        // pushing in a loop delivers one batch instead of one update per poll.
        if (bot.poll.held !== undefined && bot.wake === undefined && this.closing === undefined) {
            bot.wake = setImmediate(() => {
                bot.wake = undefined;
                if (bot.queue.size === 0) return;
                const poll = bot.poll.take();
                if (poll !== undefined) this.answerUpdates(bot, poll);
            });
        }
        this.checkWaiters();
    }

    private onRequest(req: IncomingMessage, res: ServerResponse): void {
        this.handle(req, res).catch((error: unknown) => {
            if (error instanceof UnreadableRequest) {
                writeJson(res, error.status, errorBody(error.status, error.message));
                return;
            }
            this.log.error({ err: error }, "simulator failed to answer a request");
            writeJson(res, 500, errorBody(500, "Internal Server Error"));
        });
    }

    private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const url = req.url ?? "/";
        const queryStart = url.indexOf("?");
        const route = ROUTE.exec(queryStart === -1 ? url : url.slice(0, queryStart));
        if (route === null) return writeJson(res, 404, errorBody(404, "Not Found"));
        const payload = await readPayload(req, queryStart === -1 ? "" : url.slice(queryStart + 1));
        if (this.closing !== undefined) return;
        const bot = this.bots.get(decodeURIComponent(route[1] as string));
        if (bot === undefined) return writeJson(res, 401, errorBody(401, "Unauthorized"));
        const method = canonicalMethod(route[2] as string);
        if (method === undefined) return writeJson(res, 404, errorBody(404, "Not Found"));
        const at = this.clock();

        const fault = this.faults.active ? this.faults.decide(method, bot.account.token) : undefined;
        if (fault !== undefined) {
            bot.counters.faults++;
            if (fault.kind === "drop") {
                this.record(bot, { method, payload, at, ok: false, dropped: true });
                this.later(method, () => req.socket.destroy());
            } else {
                this.record(bot, { method, payload, at, ok: false, errorCode: fault.status, description: fault.description });
                this.reply(res, method, fault.status, errorBody(fault.status, fault.description, fault.retryAfter));
            }
            return;
        }

        switch (method) {
            case "getUpdates":
                return this.getUpdates(bot, payload, res);
            case "getMe":
                return this.reply(res, method, 200, okBody(bot.user));
            default:
                return this.answerCall(bot, method, payload, at, res);
        }
    }

    private getUpdates(bot: BotState, payload: Payload, res: ServerResponse): void {
        bot.counters.getUpdatesCalls++;
        if (bot.webhook !== undefined) {
            bot.counters.conflicts++;
            return this.reply(res, "getUpdates", 409, webhookConflict);
        }
        // Telegram lets only the newest poller live.
        this.refuseHeldPoll(bot, pollerConflict);

        bot.queue.setAllowedUpdates(stringList(payload.allowed_updates));
        const offset = integer(payload.offset) ?? 0;
        if (offset !== 0) bot.queue.confirm(offset);
        // Telegram accepts 1–100; 0 or a missing limit means the default of 100.
        const requested = integer(payload.limit) ?? 0;
        const limit = requested === 0 ? 100 : Math.min(100, Math.max(1, requested));
        const timeoutMs = Math.min(MAX_TIMER_MS, Math.max(0, Number(payload.timeout ?? 0) * 1000 || 0));
        this.checkWaiters();

        if (bot.queue.size > 0 || timeoutMs === 0) return this.answerUpdates(bot, { res, limit });
        bot.poll.hold(res, limit, timeoutMs, (poll) => this.answerUpdates(bot, poll));
    }

    private answerUpdates(bot: BotState, poll: HeldPoll): void {
        const { json, count } = bot.queue.peekJson(poll.limit);
        bot.counters.updatesDelivered += count;
        this.reply(poll.res, "getUpdates", 200, `{"ok":true,"result":${json}}`);
        if (this.emitter.listenerCount("updates") > 0) this.emitter.emit("updates", bot.queue.peek(poll.limit), bot.account);
    }

    private refuseHeldPoll(bot: BotState, body: string): void {
        const older = bot.poll.take();
        if (older === undefined) return;
        bot.counters.conflicts++;
        this.reply(older.res, "getUpdates", 409, body);
    }

    private answerCall(bot: BotState, method: string, payload: Payload, at: number, res: ServerResponse): void {
        const outcome = this.outcome(bot, method, payload, at);
        const chatId = chatIdOf(payload.chat_id);
        const call: ApiCall = { method, payload, at, ok: outcome.ok };
        if (chatId !== undefined) call.chatId = chatId;
        if (outcome.ok) {
            call.result = outcome.result;
            if (isMessageMethod(method)) bot.counters.sent++;
            this.reply(res, method, 200, okBody(outcome.result));
        } else {
            call.errorCode = outcome.status;
            call.description = outcome.description;
            this.reply(res, method, outcome.status, errorBody(outcome.status, outcome.description, outcome.retryAfter));
        }
        this.record(bot, call);
    }

    private outcome(bot: BotState, method: string, payload: Payload, at: number): Outcome & { retryAfter?: number } {
        switch (method) {
            case "setWebhook": {
                if (typeof payload.url !== "string") return { ok: false, status: 400, description: "Bad Request: bad webhook: url is required" };
                this.setWebhook(bot.account.token, payload.url);
                bot.queue.setAllowedUpdates(stringList(payload.allowed_updates));
                if (payload.drop_pending_updates === true) bot.queue.dropPending();
                return { ok: true, result: true };
            }
            case "deleteWebhook":
                this.deleteWebhook(bot.account.token, { dropPendingUpdates: payload.drop_pending_updates === true });
                return { ok: true, result: true };
            case "getWebhookInfo": {
                const allowed = bot.queue.allowedUpdates;
                return {
                    ok: true,
                    result: {
                        url: bot.webhook ?? "",
                        has_custom_certificate: false,
                        pending_update_count: bot.queue.size,
                        ...(allowed === undefined ? {} : { allowed_updates: allowed }),
                    },
                };
            }
            case "setMyCommands":
                bot.commands = Array.isArray(payload.commands) ? payload.commands : [];
                return { ok: true, result: true };
            case "deleteMyCommands":
                bot.commands = [];
                return { ok: true, result: true };
        }

        const chatId = chatIdOf(payload.chat_id);
        const chatBound = isChatMethod(method) && payload.inline_message_id === undefined;
        if (chatBound) {
            if (chatId === undefined) return { ok: false, status: 400, description: "Bad Request: chat not found" };
            const refusal = chatRefusal(bot, chatId);
            if (refusal !== undefined) return refusal;
        }
        if (isMessageMethod(method)) {
            const retryAfter = bot.limiter.admit(chatBound ? chatId : undefined, at);
            if (retryAfter > 0) {
                bot.counters.floodRejections++;
                return { ok: false, status: 429, description: `Too Many Requests: retry after ${retryAfter}`, retryAfter };
            }
        }
        const context: ResultContext = {
            bot: bot.sender,
            chats: bot.chats,
            now: Math.floor(at / 1000),
            random: this.random,
            nextSerial: () => bot.nextSerial(),
            commands: bot.commands,
        };
        return resultFor(context, method, payload);
    }

    private record(bot: BotState, call: ApiCall): void {
        bot.counters.calls++;
        if (this.recordCalls) {
            bot.calls.push(call);
            bot.callCounts.set(call.method, (bot.callCounts.get(call.method) ?? 0) + 1);
        }
        if (this.emitter.listenerCount("call") > 0) this.emitter.emit("call", call, bot.account);
        this.checkWaiters();
    }

    /** Writes an answer, after the injected latency for `method` if any. */
    private reply(res: ServerResponse, method: string, status: number, body: string): void {
        this.later(method, () => writeJson(res, status, body));
    }

    private later(method: string, action: () => void): void {
        const delay = this.faults.active ? this.faults.latencyMs(method) : 0;
        if (delay <= 0) return action();
        const timer = setTimeout(() => {
            this.timers.delete(timer);
            action();
        }, delay);
        this.timers.add(timer);
    }

    private checkWaiters(): void {
        if (this.waiters.size === 0) return;
        for (const waiter of [...this.waiters]) waiter.check();
    }

    private dropWaiter(waiter: Waiter, timer: NodeJS.Timeout | undefined): void {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (this.waiters.size === 0 && this.waitTicker !== undefined) {
            clearInterval(this.waitTicker);
            this.waitTicker = undefined;
        }
    }
}

/**
 * Starts a simulator listening on 127.0.0.1 (a random free port unless
 * `port` is given). Close it with `await sim.close()`.
 */
export function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
    return Simulator.start(options);
}

const pollerConflict = errorBody(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
const webhookConflict = errorBody(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");

function closedError(): SluiceError {
    return new SluiceError("SIMULATOR_CLOSED", "The simulator was closed.");
}

// Telegram's errors for a chat that cannot receive messages, by chat type.
function chatRefusal(bot: BotState, chatId: number | string): Outcome | undefined {
    const state = bot.chats.state(chatId);
    if (state === "active") return undefined;
    if (state === "not_found") return { ok: false, status: 400, description: "Bad Request: chat not found" };
    const type = bot.chats.chat(chatId).type;
    const description =
        type === "private"
            ? "Forbidden: bot was blocked by the user"
            : type === "channel"
              ? "Forbidden: bot is not a member of the channel chat"
              : `Forbidden: bot was kicked from the ${type === "supergroup" ? "supergroup" : "group"} chat`;
    return { ok: false, status: 403, description };
}

function chatIdOf(value: unknown): number | string | undefined {
    if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
    if (typeof value !== "string" || value === "") return undefined;
    return /^-?\d+$/.test(value) ? Number(value) : value;
}

function integer(value: unknown): number | undefined {
    const number = typeof value === "string" ? Number(value) : value;
    return typeof number === "number" && Number.isFinite(number) ? Math.trunc(number) : undefined;
}

function stringList(value: unknown): string[] | undefined {
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : undefined;
}
