import type { Api } from "grammy";
import type { Update } from "grammy/types";
import { backoffMs, type RetryGrowth } from "../shared/backoff.js";
import { ConflictError, InvalidOptionError, SluiceError, UnauthorizedError, WorkerCannotPollError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { milliseconds, wholeNumber } from "../shared/options.js";
import { readTelegramError, retryAfterSeconds } from "../shared/telegram-error.js";
import { sleep } from "../shared/timing.js";

/**
 * The part of a bot that `run` needs. Every grammY `Bot` has this shape; so
 * can anything else that fetches and handles updates.
 */
export interface BotAdapter<Y, R> {
    /** The bot token; with a store, its bot id (before the colon) keys the journal. */
    token?: string;
    init?: () => Promise<void>;
    handleUpdate: (update: Y) => Promise<void>;
    errorHandler: (error: R) => unknown;
    api: {
        getUpdates: (args: { offset: number; limit: number; timeout: number }, signal: ApiSignal) => Promise<Y[]>;
    };
}

/**
 * grammY types abort signals with the `abort-controller` shim it ships for
 * old Node versions; at run time a standard `AbortSignal` is what it gets.
 */
type ApiSignal = NonNullable<Parameters<Api["getUpdates"]>[1]>;

/**
 * Forwarded to `getUpdates` as they are; the runner controls `offset` and
 * `limit` itself.
 */
export interface FetchOptions {
    /** Long-polling timeout in seconds. @default 30 */
    timeout?: number;
    /**
     * Update types to receive, e.g. `["message", "callback_query"]`. An empty
     * list means all but `chat_member`; leaving it out keeps Telegram's
     * previous setting.
     */
    allowed_updates?: ReadonlyArray<Exclude<keyof Update, "update_id">>;
}

/** How updates are fetched and how failed `getUpdates` calls are retried. */
export interface RunnerOptions {
    /** Forwarded to every `getUpdates` call. */
    fetch?: FetchOptions;
    /**
     * How long to keep retrying failed `getUpdates` calls (network errors,
     * 5xx, 429) before giving up, in milliseconds.
     * @default 15 hours
     */
    maxRetryTime?: number;
    /**
     * Wait between retries: a fixed number of milliseconds, or
     * `"exponential"` (doubling) / `"quadratic"` (growing by 100 ms) from
     * 100 ms. A single wait never exceeds one minute.
     * @default "exponential"
     */
    retryInterval?: RetryGrowth;
    /** Do not log failed `getUpdates` calls. @default false */
    silent?: boolean;
    /** Logger for fetch errors; defaults to sluice's quiet pino logger. */
    logger?: Logger;
    /** Offset of the first `getUpdates` call, e.g. restored from a journal. @default 0 */
    offset?: number;
}

/**
 * Fetches the next batch of updates, retrying as configured, and moves the
 * offset past every batch it returns, so successive calls never repeat one.
 */
export interface UpdateFetcher<Y> {
    (batchSize: number, signal: AbortSignal): Promise<Y[]>;
    /** The offset the next call sends: one past the newest update received. */
    readonly offset: number;
    /**
     * Tells Telegram that every update below `offset` was received, with one
     * short `getUpdates` call, so a restart is not handed them again.
     */
    confirm(offset: number): Promise<void>;
    /**
     * Skips every update Telegram holds right now: asks for the newest one
     * and moves the offset past it, so the next call starts after it.
     */
    skipPending(signal: AbortSignal): Promise<void>;
}

const DEFAULT_LONG_POLL_SECONDS = 30;
const DEFAULT_MAX_RETRY_MS = 15 * 60 * 60 * 1000;
const FIRST_RETRY_MS = 100;
const CONFIRM_TIMEOUT_MS = 5_000;
/** Telegram never returns more than this many updates per call. */
const MAX_BATCH = 100;

/**
 * Creates a retrying, offset-tracking `getUpdates` function for a bot.
 * A 401 fails with `UnauthorizedError`, a 409 with `ConflictError` (saying
 * whether a webhook or another poller is in the way), and other 4xx answers
 * with a `SluiceError`: retrying those cannot help.
 */
export function createUpdateFetcher<Y extends { update_id: number }, R>(
    bot: BotAdapter<Y, R>,
    options: RunnerOptions = {},
): UpdateFetcher<Y> {
    const { fetch: fetchOptions, retryInterval = "exponential", silent = false } = options;
    const maxRetryTime = milliseconds("runner.maxRetryTime", options.maxRetryTime, DEFAULT_MAX_RETRY_MS, { unbounded: true });
    if (typeof retryInterval === "number") milliseconds("runner.retryInterval", retryInterval, 0);
    else if (retryInterval !== "exponential" && retryInterval !== "quadratic") {
        throw new InvalidOptionError(
            "runner.retryInterval",
            `expected "exponential", "quadratic" or milliseconds, got ${JSON.stringify(retryInterval)}`,
        );
    }
    wholeNumber("runner.fetch.timeout", fetchOptions?.timeout, DEFAULT_LONG_POLL_SECONDS, { min: 0 });
    const log = componentLogger("fetcher", options.logger);
    let offset = wholeNumber("runner.offset", options.offset, 0, { min: 0 });

    async function fetchUpdates(batchSize: number, signal: AbortSignal): Promise<Y[]> {
        const args = {
            timeout: DEFAULT_LONG_POLL_SECONDS,
            ...fetchOptions,
            offset,
            limit: Math.max(1, Math.min(Math.floor(batchSize) || 1, MAX_BATCH)),
        };
        const giveUpAt = Date.now() + maxRetryTime;
        for (let attempt = 1; ; attempt++) {
            try {
                const updates = await bot.api.getUpdates(args, signal as unknown as ApiSignal);
                const last = updates[updates.length - 1];
                if (last !== undefined) offset = last.update_id + 1;
                return updates;
            } catch (error) {
                if (signal.aborted) throw error;
                const delay = retryDelay(error, backoffMs(attempt, retryInterval, FIRST_RETRY_MS));
                if (!silent) log.warn({ err: error, retryInMs: delay }, "getUpdates failed");
                if (Date.now() + delay > giveUpAt) throw error;
                await sleep(delay, signal);
                if (signal.aborted) throw error;
            }
        }
    }

    return Object.defineProperties(fetchUpdates, {
        offset: { get: () => offset, enumerable: true },
        skipPending: {
            value: async (signal: AbortSignal) => {
                const [newest] = await bot.api.getUpdates({ offset: -1, limit: 1, timeout: 0 }, signal as unknown as ApiSignal);
                if (newest !== undefined) offset = Math.max(offset, newest.update_id + 1);
            },
        },
        confirm: {
            value: async (confirmOffset: number) => {
                const controller = new AbortController();
                const timer = setTimeout(() => controller.abort(), CONFIRM_TIMEOUT_MS);
                const confirm = () =>
                    bot.api.getUpdates({ offset: confirmOffset, limit: 1, timeout: 0 }, controller.signal as unknown as ApiSignal);
                try {
                    // A kept-alive connection that the server closed just as it was reused fails at once
                    // (ECONNRESET): likely at a stop, after an idle spell. A second try gets another connection.
                    await confirm().catch((error: unknown) => {
                        if (controller.signal.aborted || readTelegramError(error).errorCode !== undefined) throw error;
                        return confirm();
                    });
                } finally {
                    clearTimeout(timer);
                }
            },
        },
    }) as UpdateFetcher<Y>;
}

/**
 * Milliseconds to wait before retrying after `error`, or a thrown typed error
 * when retrying cannot help.
 */
function retryDelay(error: unknown, waitMs: number): number {
    // A BotWorker refuses getUpdates in its own transformer: no retry can change that.
    if (error instanceof WorkerCannotPollError) throw error;
    const telegram = readTelegramError(error);
    const code = telegram.errorCode;
    const description = code === undefined ? "" : telegram.description;
    if (code === 401) throw new UnauthorizedError({ cause: error });
    if (code === 409) throw new ConflictError(/webhook/i.test(description) ? "webhook" : "poller", { cause: error });
    if (code === 429) {
        const retryAfter = retryAfterSeconds(telegram);
        return retryAfter === undefined ? waitMs : retryAfter * 1000;
    }
    if (code !== undefined && code >= 400 && code < 500) {
        throw new SluiceError(
            "GET_UPDATES_REJECTED",
            `Telegram rejected getUpdates with ${code} (${description || "no description"}). ` +
                "Check the runner's fetch options (allowed_updates, timeout) and the API root.",
            { cause: error },
        );
    }
    return waitMs;
}
