import { Bot, type BotConfig, type Context, GrammyError } from "grammy";
import type { Update } from "grammy/types";
import type { Cluster } from "../cluster/cluster.js";
import { type RunOptions, run } from "../run/run.js";
import { stopOnSignals } from "../run/signals.js";
import { backoffMs } from "../shared/backoff.js";
import { InvalidOptionError, SluiceError, UnauthorizedError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { milliseconds } from "../shared/options.js";
import { redactError, redactTokens } from "../shared/redact.js";
import { openStore, type Store } from "../store/store.js";
import { ExpiryQueue } from "./expiry-queue.js";
import { parseToken } from "./parse-token.js";
import { type PoolBotInfo, PooledBot, type PooledBotHooks, type StartedBot } from "./pooled-bot.js";

/**
 * What `run` gets for every bot of a pool: its options but those the pool
 * sets itself. `store`, `cluster`, `signals` and `logger` are the pool's; `admin` is
 * left out because one server per bot would need a port each.
 */
export type PoolRunOptions = Omit<RunOptions<Update>, "store" | "cluster" | "signals" | "logger" | "admin">;

/** Options of `createBotPool`. */
export interface BotPoolOptions<C extends Context = Context> {
    /**
     * One SQLite store for every bot's journal, outbox and tasks, their rows
     * keyed by bot id: a path (opened now, closed by `close()`) or an opened
     * store (left open). Without it bots run without a journal, and their
     * outboxes and tasks (if `run` asks for them) live in memory.
     * @default none
     */
    store?: string | Store;
    /**
     * Share the pool's bots with the other nodes of a cluster (see
     * `joinCluster`), in place of `store`: run the same pool with the same
     * tokens on every node. Each bot is polled by one node (its poller lease
     * is placed by rendezvous hashing over the live nodes, so bots spread
     * evenly), its updates are handled on the nodes that hold their chats'
     * partitions, and a dead node's bots are polled by another within
     * about a lease's time to live.
     * @default none
     */
    cluster?: Cluster;
    /**
     * Installs a bot's middleware: called each time a bot starts (so again
     * after a stop or a failure), after its `getMe`, before it polls. May be
     * async (per-customer settings from a database); what it throws fails
     * that bot's start.
     * @default none
     */
    setup?: (bot: Bot<C>) => void | Promise<void>;
    /**
     * `run`'s options for every bot (outbox, tasks, sink, journal, …). For
     * metrics, `{ registry }` gathers every bot's series, labelled by bot id,
     * in one registry.
     * @default {}
     */
    run?: PoolRunOptions;
    /**
     * grammY's `BotConfig` for every bot (`client.apiRoot`, `ContextConstructor`, …).
     * `botInfo` is each bot's own, from its `getMe`.
     * @default {}
     */
    botConfig?: Omit<BotConfig<C>, "botInfo">;
    /**
     * A bot only borrowed with `do()` stops after this long without a borrow
     * (a graceful stop, like `pool.stop`); `Infinity` keeps them. Bots started
     * with `start()` are never collected, and neither is a bot while borrowed.
     * In a cluster bots are never collected (every node runs every bot it shares).
     * @default 600_000 (ten minutes); `Infinity` with `cluster`
     */
    idleTimeoutMs?: number;
    /**
     * How long a bot that failed (401, 409, its start timed out) is left alone
     * before `do()` or `start()` may try it again; until then they reject
     * with its error at once, and when it ends a bot kept by `start()` is
     * started again. Doubles with each failure in a row, up to
     * `maxRetryFailedAfterMs`. More than 0.
     * @default 5_000
     */
    retryFailedAfterMs?: number;
    /** The longest wait before a failed bot is tried again. @default 300_000 (five minutes) */
    maxRetryFailedAfterMs?: number;
    /**
     * How long a bot's start (`getMe`, `setup`, opening its journal and
     * outbox) may take before it counts as failed. grammY retries `getMe`
     * through network errors and 5xx answers for as long as it is let.
     * @default 60_000
     */
    startTimeoutMs?: number;
    /**
     * Close the pool gracefully on SIGINT and SIGTERM (a second signal ends
     * the process at once).
     * @default true
     */
    signals?: boolean;
    /** pino logger for the pool and every bot's `run`; sluice's default logs warnings and errors only. Tokens are redacted either way. */
    logger?: Logger;
}

/**
 * Many bots in one process, each started when first needed: the pool
 * builds a grammY `Bot` per token, calls its `getMe` and your `setup`, and
 * runs it with `run` (journal and outbox in the pool's one store, limits per
 * bot). Every bot it holds polls.
 *
 * - A start is single-flight per token and holds no pool-wide lock: a bot
 *   whose `getMe` hangs delays only its own callers.
 * - A bot that fails (a 401, a 409, a start that timed out) fails alone, and
 *   is not tried again before its back-off (`retryFailedAfterMs`).
 * - Bots only borrowed with `do()` stop after `idleTimeoutMs` unused, never
 *   while borrowed; finding them costs nothing for the bots still in use.
 *
 * Tokens appear in no log line, error or `bots()` entry.
 */
export interface BotPool<C extends Context = Context> {
    /**
     * Starts the bot of `token` if it is not running, and keeps it polling
     * until `stop(token)` or `close()`: if it fails later (a revoked token, a
     * 409), it is started again whenever its back-off ends. Resolves once it
     * polls; rejects with the error of a failed start (or of an earlier
     * failure, within its back-off), and a bot that did not start is not kept.
     */
    start(token: string): Promise<void>;
    /**
     * Borrows the bot of `token` for `fn`, starting it first if needed; the
     * bot is not collected while `fn` runs. Concurrent calls for a cold token
     * share one start (one `getMe`), and all reject with the same error if it
     * fails. A call that meets a stop in progress waits for it and starts the
     * bot anew.
     */
    do<T>(token: string, fn: (bot: Bot<C>) => T | Promise<T>): Promise<T>;
    /**
     * Stops the bot of `token`'s bot id gracefully: waits for borrows in
     * progress (up to `run.stopTimeoutMs`), drains its handlers, confirms
     * its offset to Telegram, closes its journal and outbox. A failed bot is
     * forgotten, back-off included. Resolves at once for a bot the pool does
     * not hold.
     */
    stop(token: string): Promise<void>;
    /** The bots the pool holds, by id and username (never a token). */
    bots(): PoolBotInfo[];
    /**
     * Stops every bot gracefully, then closes the store if the pool opened
     * it. Afterwards `do()` and `start()` reject with `POOL_CLOSED`. Calling
     * it again returns the same promise.
     */
    close(): Promise<void>;
}

const DEFAULT_IDLE_TIMEOUT_MS = 600_000;
const DEFAULT_RETRY_FAILED_AFTER_MS = 5_000;
const DEFAULT_MAX_RETRY_FAILED_AFTER_MS = 300_000;
const DEFAULT_START_TIMEOUT_MS = 60_000;
/** `run`'s own default, for the wait on borrows before a stop. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/**
 * Creates a pool of bots that start on first use (`do`) or on request
 * (`start`), each on its own journal and outbox in one store.
 *
 * @example
 * ```ts
 * const pool = createBotPool({
 *     store: "bots.db",
 *     setup: (bot) => bot.on("message", (ctx) => ctx.reply("hi")),
 *     run: { outbox: true },
 * });
 * await pool.start(token);                                           // polls until stop(token) or close()
 * await pool.do(otherToken, (bot) => bot.api.sendMessage(chatId, "hi")); // starts it if needed
 * ```
 */
export function createBotPool<C extends Context = Context>(options: BotPoolOptions<C> = {}): BotPool<C> {
    if (options.cluster !== undefined && options.idleTimeoutMs !== undefined && options.idleTimeoutMs !== Number.POSITIVE_INFINITY) {
        throw new InvalidOptionError(
            "idleTimeoutMs",
            "in a cluster every node runs every bot it shares (a node's partitions hold every bot's chats), so bots are not collected; remove `idleTimeoutMs`",
        );
    }
    const idleTimeoutMs = milliseconds(
        "idleTimeoutMs",
        options.idleTimeoutMs,
        options.cluster ? Number.POSITIVE_INFINITY : DEFAULT_IDLE_TIMEOUT_MS,
        {
            unbounded: true,
        },
    );
    // Above 0: a bot kept by start() is started again when its back-off ends, and without one that is a loop.
    const retryFailedAfterMs = milliseconds("retryFailedAfterMs", options.retryFailedAfterMs, DEFAULT_RETRY_FAILED_AFTER_MS, {
        positive: true,
    });
    const maxRetryFailedAfterMs = milliseconds(
        "maxRetryFailedAfterMs",
        options.maxRetryFailedAfterMs,
        Math.max(DEFAULT_MAX_RETRY_FAILED_AFTER_MS, retryFailedAfterMs),
    );
    if (maxRetryFailedAfterMs < retryFailedAfterMs) {
        throw new InvalidOptionError("maxRetryFailedAfterMs", `expected at least retryFailedAfterMs (${retryFailedAfterMs})`);
    }
    const startTimeoutMs = milliseconds("startTimeoutMs", options.startTimeoutMs, DEFAULT_START_TIMEOUT_MS, { positive: true });
    const stopTimeoutMs = milliseconds("run.stopTimeoutMs", options.run?.stopTimeoutMs, DEFAULT_STOP_TIMEOUT_MS, { unbounded: true });
    if (options.run?.runner?.offset !== undefined) {
        throw new InvalidOptionError("run.runner.offset", "every bot of a pool resumes from its own offset; remove `run.runner.offset`");
    }
    if (options.cluster !== undefined && options.store !== undefined) {
        throw new InvalidOptionError(
            "store",
            "in a cluster, the bots' updates are kept in Redis streams instead of a journal; remove `store`",
        );
    }
    const log = componentLogger("pool", options.logger);
    const ownStore = typeof options.store === "string";
    const store = typeof options.store === "string" ? openStore(options.store) : options.store;
    const runOptions: RunOptions<Update> = { ...options.run, store, cluster: options.cluster, signals: false, logger: options.logger };

    /** One entry per bot id: two entries for one bot would be two pollers and two journals. */
    const entries = new Map<number, PooledBot<C>>();
    const expiry = new ExpiryQueue<PooledBot<C>>(nextDeadline, (entry) => {
        if (entry.state === "failed" && entry.kept) {
            log.info({ botId: entry.botId }, "trying a failed bot again, as start() asked to keep it polling");
            entry.start();
            return;
        }
        log.debug({ botId: entry.botId, state: entry.state }, "collecting an idle bot");
        void entry.stop();
    });
    let closing: Promise<void> | undefined;

    const hooks: PooledBotHooks<C> = {
        launch,
        startTimeoutMs,
        stopTimeoutMs,
        retryDelayMs: (failures) => backoffMs(failures, "exponential", retryFailedAfterMs, { maxMs: maxRetryFailedAfterMs }),
        longestRetryDelayMs: maxRetryFailedAfterMs,
        tokenFree,
        log,
        changed: (entry) => expiry.watch(entry),
        gone: (entry) => {
            if (entries.get(entry.botId) === entry) entries.delete(entry.botId);
        },
    };

    /** Builds, identifies (getMe), sets up and runs one bot; each step checks for an abort before the next. */
    async function launch(token: string, signal: AbortSignal): Promise<StartedBot<C>> {
        const bot = new Bot<C>(token, options.botConfig);
        await bot.init(signal as Parameters<Bot["init"]>[0]);
        signal.throwIfAborted();
        await options.setup?.(bot);
        signal.throwIfAborted();
        return { bot, handle: run(bot, runOptions) };
    }

    /**
     * When something is due for an entry: a bot only borrowed is collected
     * when idle; a failed bot is started again at the end of its back-off if
     * `start()` keeps it, and otherwise forgotten once it may be retried and
     * has been failed for as long as an idle bot lives.
     */
    function nextDeadline(entry: PooledBot<C>): number | undefined {
        if (entries.get(entry.botId) !== entry) return undefined;
        if (entry.state === "failed") return entry.kept ? entry.retryAt : Math.max(entry.retryAt, entry.changedAt + idleTimeoutMs);
        if (entry.state === "running" && entry.borrows === 0 && !entry.kept) return entry.lastUsed + idleTimeoutMs;
        return undefined;
    }

    /**
     * Finds the running bot of `token`, starting it if needed, and hands it
     * to `use` in the same turn, so no stop can come in between. Waits out
     * stops in progress; rejects with a failure within its back-off.
     */
    async function withRunningBot<T>(token: string, use: (entry: PooledBot<C>) => T): Promise<T> {
        const { botId } = parseToken(token);
        for (;;) {
            if (closing !== undefined) throw poolClosed();
            let entry = entries.get(botId);
            if (entry !== undefined && !entry.holds(token)) {
                if (entry.state === "failed") {
                    // A new secret for a bot whose token failed (revoked and replaced): the new one gets its own chance.
                    void entry.stop();
                    entry = undefined;
                } else if (entry.state === "stopping") {
                    await entry.whenStopped();
                    continue;
                } else {
                    throw new SluiceError(
                        "POOL_TOKEN_MISMATCH",
                        `The pool runs bot ${botId} with another token. Stop it first (pool.stop() with either token) ` +
                            "to run it with this one; a bot whose token was revoked fails with 401 and is replaced by the next call.",
                    );
                }
            }
            if (entry === undefined) {
                entry = new PooledBot(token, botId, hooks);
                entries.set(botId, entry);
                entry.start();
            }
            switch (entry.state) {
                case "running":
                    return use(entry);
                case "starting": {
                    const outcome = await entry.whenStarted();
                    if (!outcome.ok && "error" in outcome) throw outcome.error;
                    continue;
                }
                case "failed":
                    if (performance.now() < entry.retryAt) throw entry.error;
                    entry.start();
                    continue;
                default:
                    await entry.whenStopped();
            }
        }
    }

    const pool: BotPool<C> = {
        start: (token) => withRunningBot(token, (entry) => entry.keep()),
        async do(token, fn) {
            const { entry, bot } = await withRunningBot(token, (entry) => ({ entry, bot: entry.borrow() }));
            try {
                return await fn(bot);
            } finally {
                entry.release();
            }
        },
        async stop(token) {
            await entries.get(parseToken(token).botId)?.stop();
        },
        bots: () => Array.from(entries.values(), (entry) => entry.info()),
        close() {
            closing ??= (async () => {
                removeSignalHandlers();
                await Promise.all(Array.from(entries.values(), (entry) => entry.stop()));
                expiry.close();
                if (ownStore) store?.close();
            })();
            return closing;
        },
    };
    const removeSignalHandlers = options.signals === false ? () => {} : stopOnSignals(() => pool.close());
    return pool;
}

function poolClosed(): SluiceError {
    return new SluiceError("POOL_CLOSED", "The bot pool was closed; create a new one with createBotPool() to run bots again.");
}

/**
 * What a bot's start or polling threw, fit for callers and logs: sluice's
 * own errors as they are (their messages name no token), a 401 from `getMe`
 * as `UnauthorizedError`, anything else as `POOL_BOT_FAILED` whose cause is
 * a token-free copy (a network error's message quotes the URL, token and all).
 */
function tokenFree(error: unknown, botId: number): Error {
    if (error instanceof SluiceError) return error;
    if (error instanceof GrammyError && error.error_code === 401) return new UnauthorizedError({ cause: error });
    const message = error instanceof Error ? error.message : String(error);
    return new SluiceError("POOL_BOT_FAILED", `Bot ${botId} failed: ${redactTokens(message)}`, {
        cause: error instanceof Error ? redactError(error) : redactTokens(String(error)),
    });
}
