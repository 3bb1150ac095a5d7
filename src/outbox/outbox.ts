import { AsyncLocalStorage } from "node:async_hooks";
import type { Registry } from "prom-client";
import { floodsCountedIn } from "../metrics/flood-metrics.js";
import { OutboxMetrics } from "../metrics/outbox-metrics.js";
import { type Metrics, type MetricsOption, metricsOf } from "../metrics/registry.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { DeadLetterError, InvalidOptionError, SluiceError, UnauthorizedError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { milliseconds, wholeNumber } from "../shared/options.js";
import { sleep } from "../shared/timing.js";
import { TurnBatch } from "../shared/turn-batch.js";
import { Waiters } from "../shared/waiters.js";
import { OwnerLock } from "../store/owner-lock.js";
import { onStore, type Store } from "../store/store.js";
import { CampaignStore } from "./campaigns/campaign-store.js";
import { Campaigns } from "./campaigns/campaigns.js";
import { Dispatcher, type SendCall, type SendResult } from "./dispatcher.js";
import { UNREACHABLE_CLASSES } from "./failure.js";
import { Limiter, type OutboxLimits } from "./limiter.js";
import {
    type Ending,
    type Enqueued,
    type MessageStatus,
    type NewMessage,
    OutboxQueue,
    PRIORITIES,
    type Priority,
    type QueuedMessage,
} from "./queue.js";
import { type MessageTemplates, type TemplateMap, type TemplateRenderer, Templates } from "./templates/templates.js";
import { type UnreachableChat, UnreachableChats } from "./unreachable.js";

/**
 * How an outbox sends: Telegram's limits as it should keep them, and its
 * retries and retention. The same shape for `run(bot, { outbox })` and
 * `createOutbox`.
 */
export interface OutboxSettings extends OutboxLimits {
    /** Network errors and 5xx answers are retried this often before a message is dead. @default 5 */
    maxRetries?: number;
    /** Calls in flight at once, over all chats (at least 1). @default 50 */
    maxInFlight?: number;
    /**
     * Sent and cancelled messages are kept this long (their results answer a
     * repeated idempotency key, and `status`), then deleted, checked hourly.
     * Dead letters stay until purged.
     * @default 86_400_000 (a day)
     */
    keepSentMs?: number;
    /**
     * Campaign templates: a YAML file's path or an object,
     * `{ news: { en: "Hello, {name}!", ru: "Привет, {name}!" } }`.
     * @default none (campaigns send texts or method calls)
     */
    templates?: string | TemplateMap;
    /** The locale templates fall back to last. @default "en" */
    defaultLocale?: string;
    /**
     * Renders campaign templates instead of `templates` (for @grammyjs/i18n,
     * Fluent, …); its output is checked against Telegram's limits and sent as is.
     * @default sluice's `{name}` templates
     */
    renderTemplate?: TemplateRenderer;
}

/** Options of `createOutbox`: where the queue lives, what it sends with, and its settings. */
export interface OutboxOptions extends OutboxSettings {
    /**
     * Where the queue lives: a SQLite path or an opened store (shared with
     * the journal). Without it, the queue is in memory and dies with the process.
     */
    store?: string | Store;
    /** The grammY API to send with (`bot.api`); its token's bot id keys the queue. */
    api: { token: string; raw: object };
    /** Time source, for tests. @default Date.now */
    clock?: () => number;
    /** pino logger; sluice's quiet default otherwise. */
    logger?: Logger;
    /**
     * Prometheus series of this outbox (`sluice_outbox_…`, `sluice_campaign_recipients`):
     * `true` in a registry of its own, or `{ registry }` in yours; read them from `outbox.metrics`.
     * @default none
     */
    metrics?: MetricsOption;
}

/** @internal What `Outbox.guest` opens an outbox with: its settings and the bot it writes for. */
interface GuestOptions extends OutboxSettings {
    guestOf: number;
    clock?: () => number;
    logger?: Logger;
    metrics?: undefined;
}

/** A message for the outbox. */
export interface OutboundMessage {
    /** A Bot API method, e.g. `"sendMessage"`. */
    method: string;
    /** Its parameters; `chat_id` decides the chat's queue and limits. */
    payload: Record<string, unknown>;
    /** @default "normal" */
    priority?: Priority;
    /** A key unique per message: enqueuing it again returns the first message instead of sending twice. */
    idempotencyKey?: string;
    /** Do not send before this time. */
    notBefore?: Date;
}

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Set while the outbox itself sends: its calls go through `bot.api` like any
 * other, and the transformer must let them pass instead of queueing them again.
 */
export const dispatching = new AsyncLocalStorage<boolean>();

/**
 * A persistent, rate-limited, ordered queue of outbound Bot API calls.
 * Messages to one chat leave in the order they were enqueued, one at a time;
 * the bot-wide and per-chat limits are never exceeded; 429s are waited out,
 * network errors and 5xx retried with backoff, and 400/403 answers moved to
 * the dead letters with their reason.
 */
export class Outbox {
    private readonly queue: OutboxQueue;
    /** Sends; a guest has none. */
    private readonly dispatcher: Dispatcher | undefined;
    private readonly limiter: Limiter;
    private readonly lock: OwnerLock | undefined;
    private readonly clock: () => number;
    private readonly log: Logger;
    /** Messages from `enqueueGrouped`, stored together once per event-loop turn. */
    private readonly grouped = new TurnBatch<OutboundMessage, Enqueued>((messages) => this.enqueueMany(messages));
    private readonly keepSentMs: number;
    private pruneTimer: NodeJS.Timeout | undefined;
    private stopWatching = () => {};
    private readonly waiting = new Waiters<unknown>();
    private closed: Promise<void> | undefined;
    private unauthorized: UnauthorizedError | undefined;
    private readonly unreachableChats: UnreachableChats;
    /** Broadcasts to many recipients through this outbox: create, add recipients, start, pause, stats. */
    readonly campaigns: Campaigns;
    /** The outbox's Prometheus series (with the `metrics` option). */
    readonly metrics: Metrics | undefined = undefined;
    private readonly sendMetrics: OutboxMetrics | undefined = undefined;

    /** @internal Use `createOutbox` (an owner) or `Outbox.guest`. */
    constructor(
        private readonly store: Store,
        private readonly ownsStore: boolean,
        options: OutboxOptions | GuestOptions,
    ) {
        const guest = "guestOf" in options;
        const botId = guest ? options.guestOf : botIdOfToken(options.api.token, "api");
        this.keepSentMs = milliseconds("outbox.keepSentMs", options.keepSentMs, DAY_MS);
        const maxRetries = wholeNumber("outbox.maxRetries", options.maxRetries, 5, { min: 0 });
        const maxInFlight = wholeNumber("outbox.maxInFlight", options.maxInFlight, 50);
        this.limiter = new Limiter(options);
        this.clock = options.clock ?? Date.now;
        this.log = componentLogger("outbox", options.logger);
        const templates = templatesOf(options);
        // In memory nothing is shared; on a file, a second dispatcher would send every message twice.
        this.lock = store.inMemory || guest ? undefined : OwnerLock.acquire(store, botId, "outbox");
        this.queue = new OutboxQueue(store, botId, {
            headWritten: (priority, readyAt) => this.dispatcher?.headWritten(priority, readyAt),
            ended: (message, ending, now) => this.messageEnded(message, ending, now),
        });
        this.unreachableChats = new UnreachableChats(store, botId);
        this.campaigns = new Campaigns({
            store: new CampaignStore(store, botId),
            queue: this.queue,
            unreachable: this.unreachableChats,
            templates,
            clock: this.clock,
            limits: this.limiter.rates,
            // A guest cannot see the owner's sends: any queued message may be in flight there, so it withdraws none.
            isInFlight: (id) => this.dispatcher?.isInFlight(id) ?? true,
            feeds: !guest,
            log: this.log,
        });
        if (guest) return;
        this.metrics = options.metrics && metricsOf(options.metrics, botId);
        this.sendMetrics = this.metrics && this.measure(this.metrics.registry, botId);
        const raw = options.api.raw as Record<string, (payload: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>>;
        const call: SendCall = (method, payload, signal) => raw[method]!(payload, signal);
        // This outbox counts its sends' 429s; run's API transformer, which they also pass, must not count them again.
        const counted = this.metrics === undefined ? call : floodsCountedIn(this.metrics.registry, call);
        const send: SendCall = (method, payload, signal) => dispatching.run(true, counted, method, payload, signal);
        this.dispatcher = new Dispatcher({
            send,
            queue: this.queue,
            limiter: this.limiter,
            clock: this.clock,
            maxRetries,
            maxInFlight,
            log: this.log,
            onFinished: (id, result) => this.answerWaiters(id, result),
            onReturned: (message) => this.campaigns.messageReturned(message),
            events: this.sendMetrics,
            onUnauthorized: () => this.stopUnauthorized(),
        });
        this.dispatcher.start();
        this.campaigns.open();
        this.stopWatching = store.onExternalChange(() => this.externalChange());
        this.pruneSent();
        this.pruneTimer = setInterval(() => {
            try {
                this.pruneSent();
            } catch (error) {
                // A throw from a timer would end the process; old rows can wait for the next hour.
                this.log.error({ err: error }, "could not delete old sent messages; will try again in an hour");
            }
        }, PRUNE_EVERY_MS).unref();
    }

    /**
     * The outbox of a bot for a process that does not send for it (the
     * `sluice` command on a store a bot may be running on): it writes
     * messages, requeues, campaigns and their states, and the bot's own
     * outbox picks them up within a second (or at its next start). It never
     * sends, and takes no lock.
     */
    static guest(store: Store, botId: number, settings: OutboxSettings = {}): Outbox {
        return new Outbox(store, false, { ...settings, guestOf: botId });
    }

    /** Another connection wrote to the store: messages to send, campaigns started, paused or cancelled. */
    private externalChange(): void {
        try {
            this.dispatcher?.storeChanged();
            this.campaigns.reconcile();
        } catch (error) {
            // From the store's watch, a throw would end the process; the next change looks again.
            this.log.error({ err: error }, "could not pick up what another process wrote to the outbox");
        }
    }

    private measure(registry: Registry, botId: number): OutboxMetrics {
        return new OutboxMetrics(registry, botId, {
            queued: () => this.queue.queuedByPriority().map((count, priority) => [PRIORITIES[priority]!, count]),
            inFlight: () => this.dispatcher?.inFlightCount ?? 0,
            campaigns: (endedWithinMs) => this.campaigns.recipientsSince(this.clock() - endedWithinMs),
        });
    }

    /** Stores a message for sending; returns its id (the earlier one's for a repeated idempotency key). */
    enqueue(message: OutboundMessage): Enqueued {
        return this.enqueueMany([message])[0]!;
    }

    /**
     * Stores a message together with every other one enqueued this way in the
     * same turn of the event loop, in one transaction; resolves once it is
     * stored. For callers that wait anyway: a burst of handlers replying at
     * once costs one commit, not one each (the transformer uses it for every
     * `ctx.reply`). `enqueue` is stored when it returns, at one commit a
     * call; a message it stores in the same turn leaves before these.
     */
    enqueueGrouped(message: OutboundMessage): Promise<Enqueued> {
        return this.grouped.add(message);
    }

    /**
     * Stores many messages in one transaction (much faster than one by one,
     * for broadcasts); returns their ids in order.
     */
    enqueueMany(messages: readonly OutboundMessage[]): Enqueued[] {
        const now = this.clock();
        const queued = this.queue.enqueue(
            messages.map((message) => this.toQueued(message, now)),
            now,
        );
        if (queued.some((entry) => !entry.duplicate)) this.dispatcher?.nudge();
        return queued;
    }

    private toQueued(message: OutboundMessage, now: number): NewMessage {
        const chat = message.payload.chat_id;
        if (typeof chat !== "number" && typeof chat !== "string") {
            throw new InvalidOptionError("payload.chat_id", "every outbox message needs the chat_id it goes to");
        }
        const priority = PRIORITIES.indexOf(message.priority ?? "normal");
        if (priority === -1) throw new InvalidOptionError("priority", `expected one of ${PRIORITIES.join(", ")}`);
        return {
            chat: String(chat),
            method: message.method,
            payload: message.payload,
            priority,
            notBefore: message.notBefore?.getTime() ?? now,
            idempotencyKey: message.idempotencyKey,
        };
    }

    /** Resolves with Telegram's result once the message was sent; rejects with `DeadLetterError` if it never will be. */
    sent(id: number): Promise<unknown> {
        const status = this.queue.status(id);
        if (status === undefined) return Promise.reject(new InvalidOptionError("id", `no outbox message ${id}`));
        if (status.state === "sent") return Promise.resolve(status.result);
        if (status.state !== "queued") return Promise.reject(new DeadLetterError(id, status.error!));
        if (this.unauthorized !== undefined) return Promise.reject(this.unauthorized);
        return this.waiting.wait(id);
    }

    /** Where a message is: queued, sent (with its result), dead (with why) or cancelled. */
    status(id: number): MessageStatus | undefined {
        return this.queue.status(id);
    }

    /** Cancels a queued message not yet in flight; `false` if it is too late (or unknown). */
    cancel(id: number): boolean {
        const cancelled = this.queue.cancel(id, this.clock(), (message) => this.dispatcher?.isInFlight(message) ?? true);
        if (cancelled) this.answerWaiters(id, { sent: false, failure: this.queue.status(id)!.error! });
        return cancelled;
    }

    /**
     * Chats that answered "blocked", "deactivated" or "not found", which
     * campaigns skip; an update from one of them clears its mark.
     */
    unreachable(): UnreachableChat[] {
        return this.unreachableChats.list();
    }

    /**
     * Tells the outbox these chats wrote to the bot (run() does, for every
     * update it fetches): they are reachable again. Returns how many were not.
     */
    heardFrom(chats: Iterable<string | number>): number {
        return this.unreachableChats.clear(chats);
    }

    /** A message left the queue (inside the transaction recording it): campaigns count it, refusals mark the chat. */
    private messageEnded(message: QueuedMessage, ending: Ending, now: number): void {
        if (ending.state === "dead" && UNREACHABLE_CLASSES.has(ending.failure.errorClass)) {
            this.unreachableChats.mark(message.chat, ending.failure.errorClass, now);
        }
        this.campaigns.messageEnded(message, ending, now);
    }

    /**
     * Messages given up on, oldest first; only the first `limit` when given
     * (a broadcast to many blocked chats can leave a great many).
     * @param limit @default all
     */
    deadLetters(limit?: number): MessageStatus[] {
        return this.queue.deadLetters(limit);
    }

    /** How many dead letters there are, without reading them. */
    deadLetterCount(): number {
        return this.queue.deadLetterCount();
    }

    /** How many chats are marked unreachable, without reading them. */
    unreachableCount(): number {
        return this.unreachableChats.size();
    }

    /** Sends per second this outbox allows the whole bot: `globalPerSecond`, and `paidPerSecond` for paid broadcasts. */
    get rates(): { globalPerSecond: number; paidPerSecond: number } {
        return this.limiter.rates;
    }

    /**
     * Sends a dead letter again, in its original place in its chat's queue
     * (before the messages enqueued after it); `false` if it is not one. A
     * campaign's dead letter is refused (`CAMPAIGN_STATE`): its recipient is
     * counted as failed in the campaign's final numbers.
     */
    requeue(id: number): boolean {
        const campaignId = this.queue.status(id)?.campaignId;
        if (campaignId !== undefined) {
            throw new SluiceError(
                "CAMPAIGN_STATE",
                `Message ${id} belongs to campaign ${campaignId}, whose numbers count its recipient as failed; send to that chat with a new message instead.`,
            );
        }
        const requeued = this.queue.requeue(id, this.clock());
        if (requeued) this.dispatcher?.nudge();
        return requeued;
    }

    /** Deletes sent and cancelled messages older than `keepSentMs` now (it also runs hourly); returns how many. */
    pruneSent(): number {
        return this.queue.prune(this.clock() - this.keepSentMs);
    }

    /** Deletes every dead letter; returns how many. */
    purgeDeadLetters(): number {
        return this.queue.purge();
    }

    /**
     * Waits until the limits admit one call to `chat` now and counts it: for
     * calls that bypass the queue (file uploads) but must not break the limits.
     */
    async admit(chat: string, signal?: AbortSignal): Promise<void> {
        for (;;) {
            const now = this.clock();
            const waitMs = this.limiter.waitMs(chat, false, now);
            if (waitMs === 0) return this.limiter.consume(chat, false, now);
            await sleep(waitMs, signal);
            if (signal?.aborted) return;
        }
    }

    /**
     * Stops sending and closes a store it opened (idempotent). Sends in flight
     * get up to `timeoutMs` to finish and are then cancelled; what is queued,
     * cancelled sends included, stays for the next start. Callers still
     * waiting in `sent` are answered with `SluiceError("OUTBOX_CLOSED")`.
     */
    close(timeoutMs = Infinity): Promise<void> {
        this.closed ??= this.shutDown(timeoutMs);
        return this.closed;
    }

    private async shutDown(timeoutMs: number): Promise<void> {
        this.grouped.flush();
        clearInterval(this.pruneTimer);
        this.sendMetrics?.close();
        this.campaigns.close(
            new SluiceError("OUTBOX_CLOSED", "The outbox closed before this campaign finished; it goes on at the next start."),
        );
        this.stopWatching();
        await this.dispatcher?.stop(timeoutMs);
        const closed = new SluiceError(
            "OUTBOX_CLOSED",
            "The outbox closed before this message was sent; it stays queued for the next start.",
        );
        this.waiting.rejectAll(closed);
        this.lock?.release();
        if (this.ownsStore) this.store.close();
    }

    /**
     * Telegram rejected the token while sending: every message would fail the
     * same way, so nothing more is sent and nothing is given up. What is
     * queued stays for a restart with a good token; waiting callers hear why.
     */
    private stopUnauthorized(): void {
        this.unauthorized = new UnauthorizedError();
        this.log.error("Telegram rejected the bot token (401); the outbox stopped sending and keeps its queue");
        this.waiting.rejectAll(this.unauthorized);
    }

    /** Why the outbox stopped sending on its own (Telegram rejected the token), if it did. */
    get stoppedBy(): SluiceError | undefined {
        return this.unauthorized;
    }

    private answerWaiters(id: number, result: SendResult): void {
        if (result.sent) this.waiting.resolve(id, result.result);
        else this.waiting.reject(id, new DeadLetterError(id, result.failure));
    }
}

function templatesOf(options: OutboxSettings): MessageTemplates | undefined {
    if (options.renderTemplate !== undefined) {
        if (options.templates !== undefined) {
            throw new InvalidOptionError("outbox.renderTemplate", "give either `templates` or `renderTemplate`, not both");
        }
        return Templates.custom(options.renderTemplate);
    }
    const { defaultLocale } = options;
    return options.templates === undefined
        ? undefined
        : Templates.load(options.templates, defaultLocale === undefined ? {} : { defaultLocale });
}

/**
 * Creates an outbox for a bot and starts sending what it holds, including
 * what an earlier process left queued.
 *
 * ```ts
 * const outbox = createOutbox({ store: "bot.db", api: bot.api });
 * const { id } = outbox.enqueue({ method: "sendMessage", payload: { chat_id, text: "hi" } });
 * const message = await outbox.sent(id);
 * ```
 */
export function createOutbox(options: OutboxOptions): Outbox {
    return onStore(options.store, (store, ownsStore) => new Outbox(store, ownsStore, options));
}
