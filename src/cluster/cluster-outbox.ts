import { setMaxListeners } from "node:events";
import type { Redis } from "ioredis";
import { floodsCountedIn } from "../metrics/flood-metrics.js";
import { OutboxMetrics } from "../metrics/outbox-metrics.js";
import { type Metrics, type MetricsOption, metricsOf } from "../metrics/registry.js";
import { classifyFailure } from "../outbox/failure.js";
import { type OutboxLimits, PACING_MARGIN, TIMER_SLACK_MS } from "../outbox/limiter.js";
import { dispatching, type OutboundMessage } from "../outbox/outbox.js";
import { type Enqueued, type MessageState, type MessageStatus, PRIORITIES, type Priority } from "../outbox/queue.js";
import { backoffMs } from "../shared/backoff.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { DeadLetterError, InvalidOptionError, type SendFailure, SluiceError, UnauthorizedError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { milliseconds, positiveNumber, wholeNumber } from "../shared/options.js";
import { reportedBy, settlesWithin, valueWithin } from "../shared/timing.js";
import { Waiters } from "../shared/waiters.js";
import type { Cluster } from "./cluster.js";
import { finishesUnlessSilent } from "./connections.js";
import { ClusterKeys } from "./keys.js";
import { OutageLog } from "./outage-log.js";
import { type OutboxScripts, outboxScripts } from "./outbox-scripts.js";

/**
 * A cluster's outbox: the queue of a bot's outbound calls lives in Redis,
 * shared by every node, and so do Telegram's limits. Any node may enqueue;
 * every node sends, taking chat heads under fenced leases, so one chat has
 * one call in flight in the whole cluster and its messages leave in order.
 * A node that dies loses nothing: its leases expire and its messages go
 * back to the heads of their chats. Options are those of the single-node
 * outbox where they mean the same.
 */
export interface ClusterOutboxOptions extends Omit<OutboxLimits, "paidPerSecond"> {
    /**
     * The cluster whose Redis holds the queue (`joinCluster`'s handle), or
     * the Redis URL and cluster name for an outbox without a node of its own.
     */
    cluster: Cluster | { redis: string; name?: string };
    /** The grammY API to send with (`bot.api`); its token's bot id keys the queue. */
    api: { token: string; raw: object };
    /** Network errors and 5xx answers are retried this often before a message is dead. @default 5 */
    maxRetries?: number;
    /** This node's calls in flight at once (the bot's window caps them all at `globalPerSecond`). @default 50 */
    maxInFlight?: number;
    /**
     * How long a node holds a message it sends (ms), renewed while the call
     * lasts: a node that dies holding it gives it back after this long.
     * @default 5000
     */
    leaseMs?: number;
    /** Sent messages (their results, and their idempotency keys) are kept this long. @default 86_400_000 (a day) */
    keepSentMs?: number;
    /**
     * Whether this process sends: `false` for one that only enqueues and
     * follows results (a broadcasting script beside the bot's nodes).
     * @default true
     */
    send?: boolean;
    /** @default sluice's logger */
    logger?: Logger;
    /**
     * Prometheus series of this node's part of the outbox (`sluice_outbox_…`):
     * `true` in a registry of its own, or `{ registry }` in yours; read them
     * from `outbox.metrics`. The counters count this node's sends, the
     * in-flight gauge its calls; `sluice_outbox_queued` is the bot's whole
     * queue in Redis (one read per scrape). Scrape every node.
     * @default none
     */
    metrics?: MetricsOption;
}

/** Chat heads a take looks at per priority class before it gives up on the class for this call. */
const HEADS_PER_CLASS = 50;
/** An idle node looks at the queue at least this often, though the wake channel usually calls it sooner. */
const IDLE_LOOK_MS = 1_000;
const FIRST_RETRY_MS = 500;
/** A node sends what it took only within this part of the lease, by its own clock (as the cluster's leases do). */
const LEASE_SAFETY = 0.8;
/** How long a call outside the queue (a file upload) counts in the bot's window: its answer is not reported. */
const UPLOAD_HOLD_MS = 2_000;
const DAY_MS = 86_400_000;
/** How long sends cancelled by a close get to hand their messages back before the close stops waiting for Redis. */
const ABORTED_SENDS_MS = 1_000;
/** Settings of the single-node outbox that the cluster's does not have: refused rather than ignored. */
const UNSUPPORTED = ["templates", "renderTemplate", "defaultLocale", "paidPerSecond"] as const;

/** A message this node holds a lease on. */
interface Leased {
    id: number;
    token: string;
    method: string;
    payload: Record<string, unknown>;
    attempts: number;
    /** When its answer came (this process' monotonic clock). */
    answeredAt?: number;
}

/**
 * The outbox of a bot on a cluster's Redis (see `ClusterOutboxOptions`).
 * `run(bot, { cluster, outbox: true })` creates one; `createClusterOutbox`
 * makes one for use without `run`.
 */
export class ClusterOutbox {
    readonly botId: number;
    private readonly prefix: string;
    private readonly log: Logger;
    private readonly maxRetries: number;
    private readonly maxInFlight: number;
    private readonly leaseMs: number;
    private readonly keepSentMs: number;
    private readonly limits: { global: number; limit: number; privateChat: number; group: number };
    private readonly waiting = new Waiters<unknown>();
    private readonly inFlight = new Map<number, Leased>();
    private readonly aborter = new AbortController();
    private redis: Redis | undefined;
    private subscriber: Redis | undefined;
    private scripts!: OutboxScripts;
    private stopping = false;
    private closed: Promise<void> | undefined;
    private unauthorized: UnauthorizedError | undefined;
    private wake: (() => void) | undefined;
    private woken = false;
    private loop: Promise<void> = Promise.resolve();
    private renewTimer: NodeJS.Timeout | undefined;
    private readonly globalPerSecond: number;
    /** The outbox's Prometheus series (with the `metrics` option). */
    readonly metrics: Metrics | undefined;
    private readonly sendMetrics: OutboxMetrics | undefined;
    /** Settles once the connections are open and the results channel is subscribed. */
    readonly ready: Promise<void>;

    /** @internal Use `createClusterOutbox`, or `run(bot, { cluster, outbox })`. */
    constructor(private readonly options: ClusterOutboxOptions) {
        this.botId = botIdOfToken(options.api.token, "api");
        const name = options.cluster.name ?? "sluice";
        this.prefix = new ClusterKeys(name).outbox(this.botId);
        this.log = componentLogger("cluster-outbox", options.logger).child({ botId: this.botId });
        this.maxRetries = wholeNumber("outbox.maxRetries", options.maxRetries, 5, { min: 0 });
        this.maxInFlight = wholeNumber("outbox.maxInFlight", options.maxInFlight, 50);
        this.leaseMs = milliseconds("outbox.leaseMs", options.leaseMs, 5_000, { positive: true });
        this.keepSentMs = milliseconds("outbox.keepSentMs", options.keepSentMs, DAY_MS, { positive: true });
        for (const setting of UNSUPPORTED) {
            if ((options as unknown as Record<string, unknown>)[setting] !== undefined) {
                throw new InvalidOptionError(
                    `outbox.${setting}`,
                    "the cluster's outbox in Redis has no campaigns, templates or paid broadcasts yet",
                );
            }
        }
        const globalPerSecond = positiveNumber("outbox.globalPerSecond", options.globalPerSecond, 30);
        this.globalPerSecond = globalPerSecond;
        this.limits = {
            // Spaced evenly at the limit itself, without the chats' margin: the window below is what keeps
            // every second at the server within it, whatever each call's delay on the way.
            global: Math.ceil(1_000_000 / globalPerSecond) / 1000,
            // The window counts whole sends: a fractional rate admits its whole part in any second.
            limit: Math.max(1, Math.floor(globalPerSecond)),
            privateChat: intervalMs(positiveNumber("outbox.privatePerSecond", options.privatePerSecond, 1), 1_000),
            group: intervalMs(positiveNumber("outbox.groupPerMinute", options.groupPerMinute, 20), 60_000),
        };
        setMaxListeners(this.maxInFlight + 10, this.aborter.signal);
        this.metrics = options.metrics && metricsOf(options.metrics, this.botId);
        this.sendMetrics =
            this.metrics &&
            new OutboxMetrics(this.metrics.registry, this.botId, {
                queued: () => this.queuedAtScrape(),
                inFlight: () => this.inFlight.size,
            });
        this.ready = this.open();
        // A failed open is reported by whoever awaits `ready` (every method does).
        this.ready.catch(() => {});
    }

    private async open(): Promise<void> {
        const { cluster } = this.options;
        const connect =
            "connect" in cluster
                ? () => cluster.connect()
                : await import("ioredis").then(
                      ({ Redis: Client }) =>
                          () =>
                              new Client(cluster.redis, { lazyConnect: true, maxRetriesPerRequest: null }),
                  );
        this.redis = connect();
        this.subscriber = connect();
        // On a cluster, the cluster's connections say when Redis is unreachable; on a URL, this outbox says it, once.
        if (!("connect" in cluster)) {
            new OutageLog(
                this.redis,
                this.log,
                {
                    lost: "Redis is unreachable: the outbox pauses its sends until it answers again; nothing queued is lost",
                    back: "Redis answers again: the outbox sends again",
                },
                () => this.stopping,
            );
            this.subscriber.on("error", () => {});
        }
        await Promise.all([this.redis.connect(), this.subscriber.connect()]);
        this.scripts = outboxScripts(this.redis);
        this.subscriber.on("message", (channel: string, text: string) => {
            if (channel.endsWith(":done")) this.answer(text);
            else this.nudge();
        });
        await this.subscriber.subscribe(`${this.prefix}done`, `${this.prefix}wake`);
        if (this.options.send === false) return;
        this.loop = this.sendLoop();
        this.renewTimer = setInterval(() => void this.renew(), this.leaseMs / 3).unref();
    }

    /** Stores a message for sending; resolves with its id (the earlier one's for a repeated idempotency key). */
    async enqueue(message: OutboundMessage): Promise<Enqueued> {
        return (await this.enqueueMany([message]))[0]!;
    }

    /** The same as `enqueue`: the transformer's way in (each call is one round trip to Redis). */
    enqueueGrouped(message: OutboundMessage): Promise<Enqueued> {
        return this.enqueue(message);
    }

    /** Stores many messages in one script call (atomically, in order); resolves with their ids. */
    async enqueueMany(messages: readonly OutboundMessage[]): Promise<Enqueued[]> {
        const fields = messages.flatMap((message) => {
            const chat = message.payload.chat_id;
            if (typeof chat !== "number" && typeof chat !== "string") {
                throw new InvalidOptionError("payload.chat_id", "every outbox message needs the chat_id it goes to");
            }
            const priority = PRIORITIES.indexOf(message.priority ?? "normal");
            if (priority === -1) throw new InvalidOptionError("priority", `expected one of ${PRIORITIES.join(", ")}`);
            return [
                String(chat),
                message.method,
                JSON.stringify(message.payload),
                priority,
                message.notBefore?.getTime() ?? 0,
                message.idempotencyKey ?? "",
            ];
        });
        await this.ready;
        this.refuseClosed();
        const answer = await this.scripts.enqueue(this.prefix, ...fields);
        const enqueued: Enqueued[] = [];
        for (let i = 0; i < answer.length; i += 2) enqueued.push({ id: Number(answer[i]), duplicate: answer[i + 1] === 1 });
        return enqueued;
    }

    /**
     * Resolves with Telegram's result once the message was sent, by whichever
     * node sent it; rejects with `DeadLetterError` if it never will be.
     */
    async sent(id: number): Promise<unknown> {
        await this.ready;
        if (this.unauthorized !== undefined) throw this.unauthorized;
        this.refuseClosed();
        // Waiting first, then reading: an answer published between the two is not missed.
        const waiting = this.waiting.wait(id);
        const [state, result, error] = await this.redis!.hmget(this.message(id), "state", "result", "error");
        if (state === null) this.waiting.reject(id, new InvalidOptionError("id", `no outbox message ${id}`));
        else if (state === "sent" || state === "dead") this.answer(`${id} ${state} ${state === "sent" ? result : error}`);
        return waiting;
    }

    /** Where a message is: queued, sent (with its result) or dead (with why); `undefined` if unknown or pruned. */
    async status(id: number): Promise<MessageStatus | undefined> {
        await this.ready;
        const fields = await this.redis!.hgetall(this.message(id));
        return fields.state === undefined ? undefined : statusOf(id, fields);
    }

    /** Messages given up on, oldest first; only the first `limit` when given. @param limit @default all */
    async deadLetters(limit?: number): Promise<MessageStatus[]> {
        await this.ready;
        const ids = await this.redis!.lrange(`${this.prefix}dead`, 0, limit === undefined ? -1 : limit - 1);
        const pipeline = this.redis!.pipeline();
        for (const id of ids) pipeline.hgetall(this.message(Number(id)));
        const rows = (await pipeline.exec()) ?? [];
        return ids.map((id, index) => statusOf(Number(id), rows[index]![1] as Record<string, string>));
    }

    /**
     * Sends a dead letter again, at the tail of its chat's queue, with its
     * attempts counted from zero; `false` if it is not one.
     */
    async requeue(id: number): Promise<boolean> {
        await this.ready;
        return (await this.scripts.requeue(this.prefix, id)) === 1;
    }

    /** Deletes every dead letter; resolves with how many. */
    async purgeDeadLetters(): Promise<number> {
        await this.ready;
        const dead = `${this.prefix}dead`;
        const ids = await this.redis!.lrange(dead, 0, -1);
        // A dead letter requeued meanwhile is no longer in the list: only those still dead are deleted.
        let purged = 0;
        for (const id of ids) {
            if ((await this.redis!.lrem(dead, 1, id)) === 0) continue;
            const key = await this.redis!.hget(this.message(Number(id)), "key");
            await this.redis!.del(this.message(Number(id)), ...(key === null ? [] : [`${this.prefix}k:${key}`]));
            purged++;
        }
        return purged;
    }

    /** How many messages wait in the bot's queue, over all nodes (those in flight included). */
    async queuedCount(): Promise<number> {
        return (await this.queuedByPriority()).reduce((sum, [, count]) => sum + count, 0);
    }

    /** The bot's queue over all nodes by priority (those in flight included): one read of a hash in Redis. */
    async queuedByPriority(): Promise<[Priority, number][]> {
        await this.ready;
        const counts = await this.redis!.hmget(`${this.prefix}depth`, ...PRIORITIES.map((_, priority) => String(priority)));
        return PRIORITIES.map((priority, index) => [priority, Number(counts[index] ?? 0)]);
    }

    /** How many dead letters there are (without reading them). */
    async deadLetterCount(): Promise<number> {
        await this.ready;
        return this.redis!.llen(`${this.prefix}dead`);
    }

    /** The bot-wide limit this outbox's sends are paced to, over all nodes. */
    get rates(): { globalPerSecond: number } {
        return { globalPerSecond: this.globalPerSecond };
    }

    /**
     * The queue for `sluice_outbox_queued`: nothing while Redis does not
     * answer (within a second), since a command would wait for it to come
     * back (ioredis keeps commands while it reconnects) and hold up the whole
     * scrape, the `sluice_cluster_redis_up` that tells of the outage included.
     */
    private async queuedAtScrape(): Promise<[Priority, number][]> {
        if (this.redis?.status !== "ready") return [];
        return (await reportedBy(() => this.queuedByPriority())) ?? [];
    }

    /**
     * Waits until the cluster's limits admit one call to `chat` now and
     * counts it: for calls that bypass the queue (file uploads).
     */
    async admit(chat: string, signal?: AbortSignal): Promise<void> {
        await this.ready;
        for (;;) {
            const { global, limit, privateChat, group } = this.limits;
            const interval = /^\d+$/.test(chat) ? privateChat : group;
            const waitMs = await this.scripts.admit(this.prefix, chat, global, limit, interval, TIMER_SLACK_MS, UPLOAD_HOLD_MS);
            if (waitMs === 0 || signal?.aborted) return;
            await new Promise((resolve) => setTimeout(resolve, waitMs));
        }
    }

    /** Why the outbox stopped sending on its own (Telegram rejected the token), if it did. */
    get stoppedBy(): SluiceError | undefined {
        return this.unauthorized;
    }

    /**
     * Stops sending on this node (idempotent). Sends in flight get up to
     * `timeoutMs` to finish; those still out are then cancelled and their
     * messages go back to the heads of their chats at once, for any node.
     * Callers still waiting in `sent` here are answered with
     * `SluiceError("OUTBOX_CLOSED")` (the message is still sent, by another node).
     */
    close(timeoutMs = Infinity): Promise<void> {
        this.closed ??= this.shutDown(timeoutMs);
        return this.closed;
    }

    private async shutDown(timeoutMs: number): Promise<void> {
        this.stopping = true;
        this.nudge();
        const deadline = performance.now() + timeoutMs;
        const left = () => Math.max(0, deadline - performance.now());
        // The loop and the sends wait on Redis, which may not answer before the deadline, or for a lease (an outage).
        const loopEnded =
            (await settlesWithin(this.ready, left())) &&
            (await valueWithin(finishesUnlessSilent(this.loop, this.leaseMs, this.silence()), left())) === true;
        clearInterval(this.renewTimer);
        if (!loopEnded || !(await settlesWithin(this.whenIdle(), left()))) {
            this.aborter.abort();
            // Cancelled sends hand their messages back; a hand-back Redis does not take lets the lease lapse instead.
            await settlesWithin(this.whenIdle(), ABORTED_SENDS_MS);
            this.inFlight.clear();
        }
        this.waiting.rejectAll(
            new SluiceError("OUTBOX_CLOSED", "This node's outbox closed before the message was sent; it stays queued for the other nodes."),
        );
        this.sendMetrics?.close();
        // A QUIT to a Redis that does not answer would wait for it to come back.
        for (const connection of [this.redis, this.subscriber]) {
            if (connection?.status === "ready") await connection.quit().catch(() => {});
            else connection?.disconnect();
        }
    }

    /** For how long this outbox's connection has been down (0 while it is up), measured from the first look. */
    private silence(): () => number {
        let since: number | undefined;
        return () => {
            if (this.redis?.status === "ready") since = undefined;
            else since ??= performance.now();
            return since === undefined ? 0 : performance.now() - since;
        };
    }

    private refuseClosed(): void {
        if (this.stopping) throw new SluiceError("OUTBOX_CLOSED", "This outbox is closed; enqueue through a running one.");
    }

    private message(id: number): string {
        return `${this.prefix}m:${id}`;
    }

    /** An answer from the `done` channel (or read back): "<id> <sent|dead> <JSON>". */
    private answer(text: string): void {
        const first = text.indexOf(" ");
        const second = text.indexOf(" ", first + 1);
        const id = Number(text.slice(0, first));
        const state = text.slice(first + 1, second);
        const value = text.slice(second + 1);
        try {
            if (state === "sent") this.waiting.resolve(id, JSON.parse(value));
            else this.waiting.reject(id, new DeadLetterError(id, JSON.parse(value) as SendFailure));
        } catch (error) {
            this.log.error({ err: error, messageId: id }, "could not read a message's result");
        }
    }

    /** Wakes the send loop. */
    private nudge(): void {
        this.woken = true;
        this.wake?.();
    }

    /** Sleeps up to `ms`, or until nudged (a local send ended, or another node published on the wake channel). */
    private async idle(ms: number): Promise<void> {
        if (this.woken || this.stopping) {
            this.woken = false;
            return;
        }
        await new Promise<void>((resolve) => {
            const timer = setTimeout(done, ms);
            function done() {
                clearTimeout(timer);
                resolve();
            }
            this.wake = done;
        });
        this.wake = undefined;
        this.woken = false;
    }

    /**
     * Takes what this node may send now and sends it, for as long as it
     * runs. It is started outside any handler's update scope (at open), so
     * its calls are never taken for a handler's.
     */
    private async sendLoop(): Promise<void> {
        const { global, limit, privateChat, group } = this.limits;
        while (!this.stopping && this.unauthorized === undefined) {
            const room = this.maxInFlight - this.inFlight.size;
            if (room <= 0) {
                await this.idle(IDLE_LOOK_MS);
                continue;
            }
            let answer: (string | number)[];
            // Before the round trip: the leases it answers with started no earlier than this.
            const askedAt = performance.now();
            try {
                answer = await this.scripts.take(
                    this.prefix,
                    this.leaseMs,
                    room,
                    global,
                    limit,
                    privateChat,
                    group,
                    TIMER_SLACK_MS,
                    HEADS_PER_CLASS,
                );
            } catch (error) {
                if (this.stopping) break;
                this.log.error({ err: error }, "could not take messages from Redis; trying again in a second");
                await this.idle(IDLE_LOOK_MS);
                continue;
            }
            const waitMs = Number(answer[0]);
            // A node stalled (paused, swapping) since it asked sends nothing: its leases may have
            // passed to another node, and its call would fall outside the bot's window.
            const stale = performance.now() - askedAt > this.leaseMs * LEASE_SAFETY;
            let taken = 0;
            for (let i = 1; i < answer.length; i += 6) {
                const [id, token, method, payload, to, attempts] = answer.slice(i, i + 6) as [
                    string,
                    string,
                    string,
                    string,
                    string,
                    number,
                ];
                const parsed = JSON.parse(payload) as Record<string, unknown>;
                parsed.chat_id = /^-?\d+$/.test(to) ? Number(to) : to;
                const message = { id: Number(id), token, method, payload: parsed, attempts: Number(attempts) };
                if (stale) void this.finish(message, "release", "").catch(() => {});
                else this.send(message);
                taken++;
            }
            if (taken >= room) continue;
            if (taken === 0 || waitMs !== 0) await this.idle(waitMs < 0 ? IDLE_LOOK_MS : Math.min(Math.max(waitMs, 1), IDLE_LOOK_MS));
        }
    }

    private send(message: Leased): void {
        this.inFlight.set(message.id, message);
        const raw = this.options.api.raw as Record<string, (payload: unknown, signal: AbortSignal) => Promise<unknown>>;
        const { signal } = this.aborter;
        const call = () => raw[message.method]!(message.payload, signal);
        // This outbox counts its sends' 429s; run's API transformer, which they also pass, must not count them again.
        const counted = this.metrics === undefined ? call : floodsCountedIn(this.metrics.registry, call);
        dispatching
            .run(true, counted)
            .then(
                (result) => {
                    message.answeredAt = performance.now();
                    return this.finish(message, "sent", JSON.stringify(result ?? true), () => this.sendMetrics?.sent(message.method));
                },
                (error: unknown) => {
                    message.answeredAt = performance.now();
                    return signal.aborted ? this.finish(message, "release", "") : this.failed(message, error);
                },
            )
            .catch((error: unknown) => {
                // Not recorded: the lease runs out and the message goes again (the at-least-once edge).
                this.log.error({ err: error, messageId: message.id }, "could not record a send's end in Redis");
            })
            .finally(() => {
                this.inFlight.delete(message.id);
                this.nudge();
            });
    }

    private async failed(message: Leased, error: unknown): Promise<void> {
        const failure = classifyFailure(error);
        switch (failure.kind) {
            case "unauthorized":
                // Every message would fail the same way: stop, and keep them all queued for a good token.
                this.unauthorized = new UnauthorizedError();
                this.log.error("Telegram rejected the bot token (401); this node's outbox stopped sending and keeps the queue");
                this.waiting.rejectAll(this.unauthorized);
                return this.finish(message, "release", "");
            case "migrated":
                this.log.info({ to: failure.migrateTo }, "group became a supergroup; its queue moved");
                return this.finish(message, "migrated", String(failure.migrateTo));
            case "flood":
                this.sendMetrics?.flooded();
                return this.finish(message, "flood", String(failure.retryAfterSeconds));
            case "transient":
                if (message.attempts <= this.maxRetries) {
                    const delay = backoffMs(message.attempts, "exponential", FIRST_RETRY_MS, { jitter: "spread" });
                    this.log.warn(
                        { messageId: message.id, attempt: message.attempts, error: failure.cause.description },
                        "send failed; will retry",
                    );
                    return this.finish(message, "retry", String(Math.round(delay)), () => this.sendMetrics?.retried());
                }
                return this.dead(message, failure.cause);
            case "permanent":
                return this.dead(message, failure.cause);
        }
    }

    private dead(message: Leased, failure: SendFailure): Promise<void> {
        return this.finish(message, "dead", JSON.stringify(failure), () => this.sendMetrics?.failed(failure.errorClass));
    }

    /**
     * Records how a send ended, if this node still holds its lease; then calls
     * `recorded` (the series count outcomes Redis took, so the nodes' counters
     * add up to the queue's: a send whose lease had lapsed goes again and is
     * counted by the node that records it).
     */
    private async finish(message: Leased, outcome: string, value: string, recorded?: () => void): Promise<void> {
        const { privateChat, group } = this.limits;
        // The script counts the answer from when it came here, not from when Redis hears of it.
        const answeredAgoMs = Math.floor(performance.now() - (message.answeredAt ?? performance.now()));
        const held = await this.scripts.finish(
            this.prefix,
            message.id,
            message.token,
            outcome,
            value,
            this.keepSentMs,
            privateChat,
            group,
            answeredAgoMs,
        );
        if (held === 0)
            this.log.warn({ messageId: message.id, outcome }, "a send ended after its lease had expired; another node sends it again");
        else recorded?.();
    }

    /** Extends the leases of this node's sends in flight. */
    private async renew(): Promise<void> {
        if (this.inFlight.size === 0 || this.stopping) return;
        const pairs = [...this.inFlight.values()].flatMap((message) => [message.id, message.token]);
        try {
            await this.scripts.renew(this.prefix, this.leaseMs, ...pairs);
        } catch (error) {
            this.log.warn({ err: error }, "could not renew the outbox's leases; they expire unless the next renewal works");
        }
    }

    private whenIdle(): Promise<void> {
        return (async () => {
            while (this.inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
        })();
    }
}

/** GCRA's interval for `limit` sends per `periodMs`, paced under it (rounded up to a microsecond). */
function intervalMs(limit: number, periodMs: number): number {
    return Math.ceil((periodMs * PACING_MARGIN * 1000) / limit) / 1000;
}

function statusOf(id: number, fields: Record<string, string>): MessageStatus {
    const status: MessageStatus = {
        id,
        state: fields.state as MessageState,
        method: fields.method ?? "",
        chat: fields.chat ?? "",
        attempts: Number(fields.att ?? 0),
    };
    if (fields.result !== undefined) status.result = JSON.parse(fields.result);
    if (fields.error !== undefined) status.error = JSON.parse(fields.error) as SendFailure;
    return status;
}

/**
 * Opens a bot's outbox on a cluster's Redis and starts sending on this
 * node; resolves once it is connected.
 *
 * ```ts
 * const cluster = await joinCluster({ redis: "redis://10.0.0.5:6379" });
 * const outbox = await createClusterOutbox({ cluster, api: bot.api });
 * const { id } = await outbox.enqueue({ method: "sendMessage", payload: { chat_id, text: "hi" } });
 * const message = await outbox.sent(id);
 * ```
 */
export async function createClusterOutbox(options: ClusterOutboxOptions): Promise<ClusterOutbox> {
    const outbox = new ClusterOutbox(options);
    try {
        await outbox.ready;
    } catch (error) {
        await outbox.close(0);
        throw new SluiceError("CLUSTER_UNREACHABLE", `The cluster outbox could not reach Redis: ${(error as Error).message}`, {
            cause: error,
        });
    }
    return outbox;
}
