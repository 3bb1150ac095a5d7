import { type Logger, componentLogger } from "../logger.js";
import { type BotAdapter, type RunnerOptions, createUpdateFetcher } from "./fetcher.js";
import { type RunnerHandle, createRunner } from "./runner.js";
import { stopOnSignals } from "./signals.js";
import { type SinkOptions, createConcurrentSink } from "./sink.js";
import { type SourceOptions, createSource } from "./source.js";

/**
 * Options of `run(bot, options)`: those of `@grammyjs/runner` (`source`,
 * `runner`, `sink`) plus sluice's own.
 */
export interface RunOptions<Y> {
    /** How the update source paces `getUpdates` calls. */
    source?: SourceOptions;
    /** What `getUpdates` is called with and how failures are retried. */
    runner?: RunnerOptions;
    /** Concurrency, buffering, ordering constraint and timeout of the sink. */
    sink?: SinkOptions<Y>;
    /**
     * Stop gracefully on SIGINT and SIGTERM (a second signal ends the
     * process at once).
     * @default true
     */
    signals?: boolean;
    /**
     * How long a stop waits for accepted updates to finish, in milliseconds.
     * @default 10000
     */
    stopTimeoutMs?: number;
    /** pino logger; sluice's default logs warnings and errors only. Tokens are redacted either way. */
    logger?: Logger;
}

/**
 * Runs a grammY bot with long polling: a drop-in for `@grammyjs/runner`'s
 * `run`. Updates of different chats are handled concurrently (500 at most by
 * default), updates of one chat and of one user in order, and a flooding chat
 * waits in its own lane rather than stalling the others. Stops gracefully on
 * SIGINT/SIGTERM, confirming to Telegram what was handled so a restart does
 * not receive it again.
 *
 * @param bot A grammY bot (or anything shaped like one)
 * @param options Further configuration
 * @returns A handle to stop and observe the running bot
 */
export function run<Y extends { update_id: number }, R>(bot: BotAdapter<Y, R>, options: RunOptions<Y> = {}): RunnerHandle {
    const log = componentLogger("runner", options.logger);
    const fetchUpdates = createUpdateFetcher(bot, { logger: options.logger, ...options.runner });
    let initialized = bot.init === undefined;
    const source = createSource(
        {
            supply: async (batchSize, signal) => {
                if (!initialized) {
                    await bot.init?.();
                    initialized = true;
                }
                return fetchUpdates(batchSize, signal);
            },
        },
        options.source,
    );
    const sink = createConcurrentSink<Y, R>(
        { consume: (update) => bot.handleUpdate(update) },
        async (error) => {
            try {
                await bot.errorHandler(error);
            } catch (thrown) {
                log.error({ err: thrown }, "the bot's error handler threw; set one with bot.catch() that does not rethrow");
            }
        },
        options.sink,
    );
    let removeSignalHandlers = () => {};
    const handle = createRunner(source, sink, {
        stopTimeoutMs: options.stopTimeoutMs,
        afterStop: async ({ requested, error }) => {
            removeSignalHandlers();
            if (!requested) {
                log.error({ err: error }, "polling stopped for good");
                return;
            }
            await confirmHandled();
        },
    });

    /**
     * Moves Telegram's offset past everything that was handled. Updates still
     * unfinished after the stop timeout stay unconfirmed where that is still
     * possible (those of the newest batch), so they are delivered again.
     */
    async function confirmHandled(): Promise<void> {
        let offset = fetchUpdates.offset;
        for (const update of sink.snapshot()) offset = Math.min(offset, update.update_id);
        if (offset === 0) return;
        try {
            await fetchUpdates.confirm(offset);
            log.info({ offset }, "confirmed handled updates to Telegram");
        } catch (error) {
            log.warn({ err: error, offset }, "could not confirm the offset; a restart may receive the last batch again");
        }
    }

    if (options.signals !== false) removeSignalHandlers = stopOnSignals(handle.stop);
    handle.start();
    return handle;
}
