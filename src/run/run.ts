import type { Transformer } from "grammy";
import { type AdminServer, type AdminSettings, checkAdminSettings, createAdminServer } from "../admin/admin-server.js";
import type { Cluster, ClusterBot, ClusterBotStatus } from "../cluster/cluster.js";
import type { ClusterOutbox } from "../cluster/cluster-outbox.js";
import type { Journal, JournalHandle, JournalOptions } from "../journal/journal.js";
import { Replay } from "../journal/replay.js";
import { apiTimingTransformer } from "../metrics/api-metrics.js";
import { measureCluster } from "../metrics/cluster-metrics.js";
import { type Metrics, type MetricsOption, metricsOf } from "../metrics/registry.js";
import { UpdateMetrics } from "../metrics/update-metrics.js";
import type { Outbox } from "../outbox/outbox.js";
import { keysFrom } from "../runner/constraint.js";
import { type BotAdapter, createUpdateFetcher, type RunnerOptions } from "../runner/fetcher.js";
import { createRunner, type RunnerHandle } from "../runner/runner.js";
import { createConcurrentSink, type SinkOptions } from "../runner/sink.js";
import { createSource, type SourceOptions } from "../runner/source.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { InvalidOptionError, PoisonUpdateError, SluiceError, WorkerFailedError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { chatIdOfUpdate } from "../shared/update-chat.js";
import { currentUpdateScope, runInUpdateScope } from "../shared/update-scope.js";
import type { Store } from "../store/store.js";
import type { Tasks, TasksSettings } from "../tasks/tasks.js";
import { openPersistence, type RunOutboxOptions, transformableApi } from "./persistence.js";
import { stopOnSignals } from "./signals.js";

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
     * A SQLite file (path) or an opened store: turns the journal on. Every
     * fetched update is on disk before Telegram is told it was received, and
     * is handled again after a crash if its handler had not ended. A path is
     * opened and closed by `run`; an opened store stays open.
     */
    store?: string | Store;
    /**
     * Take part in a cluster (see `joinCluster`): the same code on every
     * node; one node polls, every node handles its partitions' chats. The
     * updates live in Redis streams, in place of the journal.
     * @default none
     */
    cluster?: Cluster;
    /** Journal settings (with `store`). */
    journal?: Omit<JournalOptions, "logger">;
    /**
     * Route replies and other chat-bound calls through a persistent, rate-limited,
     * ordered outbox (in `store`, or in memory without one; with `cluster`, in
     * its Redis, shared by the nodes). `true` uses the default limits (30/s,
     * 1/s per private chat, 20/min per group).
     */
    outbox?: RunOutboxOptions;
    /**
     * Durable background work (in `store`, or in memory without one):
     * `handle.tasks.add(name, payload)` from a handler stores a task that runs
     * on `handlers[name]` until it succeeds, and a replay of the update does
     * not add it twice.
     */
    tasks?: TasksSettings;
    /**
     * Prometheus series (`sluice_…`, labelled with the bot id) of the
     * updates, the journal, every Bot API call, the outbox, campaigns and
     * tasks: `true` in a registry of their own, or `{ registry }` in yours.
     * `handle.metrics.text()` is the exposition text for a `/metrics` route.
     * @default none (`true` with `admin`)
     */
    metrics?: MetricsOption;
    /**
     * Serve the admin HTTP API and its live dashboard for this bot (status,
     * messages, dead letters, campaigns, quarantine, tasks, `/metrics`, the
     * event stream; the dashboard at `/`) while it runs; it closes when the
     * bot stops. `handle.admin` resolves with the running server. It turns
     * `metrics` on (in sluice's own registry unless `metrics` gives yours):
     * the dashboard's rates and depths are those series.
     * @default none
     */
    admin?: AdminSettings;
    /**
     * Skip the updates Telegram holds when the bot starts (the journal's own
     * unfinished updates are still replayed).
     * @default false
     */
    dropPendingUpdates?: boolean;
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

/** The handle `run` returns: the reference's handle plus the journal and the outbox, when there are. */
export interface RunHandle<Y> extends RunnerHandle {
    /** The bot's journal (with `store`): its offset, what is unfinished, the quarantine. */
    readonly journal: JournalHandle<Y> | undefined;
    /** The bot's outbox (with `outbox`): enqueue broadcasts, status, dead letters. */
    readonly outbox: Outbox | undefined;
    /** The bot's outbox in the cluster's Redis (with `cluster` and `outbox`), in place of `outbox`. */
    readonly clusterOutbox: ClusterOutbox | undefined;
    /** The bot's durable tasks (with `tasks`): add, done, status, dead tasks. */
    readonly tasks: Tasks | undefined;
    /** The bot's Prometheus series (with `metrics`): their registry and exposition text. */
    readonly metrics: Metrics | undefined;
    /** What this node does for the bot (with `cluster`): partitions, leases, whether it polls, the backlog. */
    readonly cluster: { status(): Promise<ClusterBotStatus> } | undefined;
    /** The admin API (with `admin`), once it listens; rejects if it could not start (the port is taken). */
    readonly admin: Promise<AdminServer> | undefined;
    /** Same as `journal.retryQuarantined` (kept for code written against sluice 0.1). */
    retryQuarantined(updateId: number): boolean;
}

/**
 * Runs a grammY bot with long polling: a drop-in for `@grammyjs/runner`'s
 * `run`. Updates of different chats are handled concurrently (500 at most by
 * default), updates of one chat and of one user in order, and a flooding chat
 * waits in its own lane rather than stalling the others. Stops gracefully on
 * SIGINT/SIGTERM, confirming to Telegram what was handled so a restart does
 * not receive it again. With `store`, no update is lost to a crash.
 *
 * @param bot A grammY bot (or anything shaped like one)
 * @param options Further configuration
 * @returns A handle to stop and observe the running bot
 */
export function run<Y extends { update_id: number }, R>(bot: BotAdapter<Y, R>, options: RunOptions<Y> = {}): RunHandle<Y> {
    checkRunOptions(options);
    const log = componentLogger("runner", options.logger);
    // The admin API's dashboard and `/metrics` read these series, so serving it turns them on.
    const metricsOption = options.metrics ?? (options.admin === undefined ? undefined : true);
    const metrics = metricsOption && metricsOf(metricsOption, botIdOfToken(bot.token, "metrics"));
    // Installed before the outbox's transformer, so it times HTTP calls rather than waits in the queue.
    if (metrics) transformableApi(bot, "metrics").config.use(apiTimingTransformer(metrics.registry, metrics.botId));
    const persistence = openPersistence<Y>(bot, { ...options, metrics });
    const journal = persistence?.journal;
    const outbox = persistence?.outbox;
    const tasks = persistence?.tasks;
    const replay = journal && new Replay(journal, journal.recover());
    if (replay?.size) log.info({ count: replay.size }, "replaying updates left unfinished by the previous run");
    const updateMetrics: UpdateMetrics | undefined =
        metrics &&
        new UpdateMetrics(metrics.registry, metrics.botId, {
            running: (): number => sink.running?.() ?? 0,
            waiting: (): number => sink.size() - (sink.running?.() ?? 0),
            journal: journal && {
                unfinishedCount: () => journal.unfinishedCount(),
                quarantinedCount: () => journal.quarantined().length,
            },
        });

    const fetcherFrom = (offset: number | undefined) =>
        createUpdateFetcher(bot, { ...options.runner, logger: options.logger ?? options.runner?.logger, offset });
    const fetchUpdates = fetcherFrom(journal?.offset ?? options.runner?.offset);
    const clustered: ClusterBot<Y> | undefined = options.cluster?.attach<Y>({
        botId: botIdOfToken(bot.token, "cluster"),
        fetcherFrom,
        keyOf: clusterKeyOf(options.sink?.constraint),
    });
    if (clustered !== undefined) transformableApi(bot, "cluster").config.use(fencedCalls(clustered));
    const unmeasureCluster = clustered && metrics && measureCluster(metrics.registry, metrics.botId, () => clustered.status());
    let initialized = false;
    const source = createSource(
        {
            supply: async (batchSize, signal) => {
                if (!initialized) {
                    // A stop must not wait for trials' random moments: they run at once and are drained.
                    if (replay !== undefined) signal.addEventListener("abort", () => replay.hurry(), { once: true });
                    await bot.init?.();
                    if (options.dropPendingUpdates) await fetchUpdates.skipPending(signal);
                    initialized = true;
                }
                const replayed = replay?.next(batchSize);
                if (replayed !== undefined) return replayed;
                if (clustered !== undefined) {
                    const delivered = await clustered.next(batchSize, signal);
                    updateMetrics?.fetched(delivered.length);
                    return delivered;
                }
                const updates = await fetchUpdates(batchSize, signal);
                updateMetrics?.fetched(updates.length);
                // Written before the next getUpdates, which is what confirms this batch to Telegram.
                if (updates.length > 0 && journal !== undefined) {
                    const append = () => journal.append(updates, fetchUpdates.offset);
                    if (updateMetrics === undefined) append();
                    else updateMetrics.timedAppend(append);
                }
                // A chat that writes has unblocked the bot (or was never gone): campaigns may send to it again.
                if (updates.length > 0) outbox?.heardFrom(chatsOf(updates));
                return updates;
            },
        },
        options.source,
    );
    /**
     * With a journal or an outbox, handlers run in their update's scope: the
     * outbox derives reply keys from it, the journal learns which handler
     * ended the process (see update-scope.ts).
     */
    const handleUpdate =
        persistence === undefined && clustered === undefined
            ? (update: Y) => bot.handleUpdate(update)
            : (update: Y) => runInUpdateScope(botIdOfToken(bot.token, "cluster"), update.update_id, () => bot.handleUpdate(update));
    /**
     * With a journal, an update whose handling rejects with a
     * `PoisonUpdateError` (from `distribute`, or thrown by a handler) goes to
     * the quarantine instead of the error handler: it is kept, not retried.
     * One that failed with `WORKER_FAILED` never reached a handler: it goes
     * to the error handler but stays unfinished, for a restart with a worker
     * file that loads.
     */
    const handleOrSetAside =
        journal === undefined || replay === undefined
            ? handleUpdate
            : async (update: Y) => {
                  try {
                      await handleUpdate(update);
                  } catch (error) {
                      if (innerError(error) instanceof WorkerFailedError) replay.keepUnfinished(update.update_id);
                      const poison = innerError(error);
                      if (!(poison instanceof PoisonUpdateError)) throw error;
                      journal.setAside(update, poison);
                  }
              };
    const timeout = options.sink?.timeout;
    // Without a journal there is nothing to record: the bot's own handleUpdate, no wrapper.
    const consume =
        replay !== undefined
            ? (update: Y) => replay.handle(update.update_id, () => handleOrSetAside(update))
            : clustered !== undefined
              ? (update: Y) => settled(handleUpdate(update), () => clustered.done(update))
              : handleUpdate;
    const sink = createConcurrentSink<Y, R>(
        { consume: updateMetrics === undefined ? consume : updateMetrics.measured(consume) },
        async (error) => {
            try {
                await bot.errorHandler(error);
            } catch (thrown) {
                log.error({ err: thrown }, "the bot's error handler threw; set one with bot.catch() that does not rethrow");
            }
        },
        {
            ...options.sink,
            timeout: timeout && {
                milliseconds: timeout.milliseconds,
                handler: (update, task, info) => {
                    replay?.timedOut(update.update_id);
                    updateMetrics?.handlingTimedOut(update, info.milliseconds);
                    timeout.handler(update, task, info);
                },
            },
        },
    );
    let removeSignalHandlers = () => {};
    let admin: Promise<AdminServer> | undefined;
    const handle = createRunner(source, sink, {
        stopTimeoutMs: options.stopTimeoutMs,
        afterStop: async ({ requested, error, deadline }) => {
            removeSignalHandlers();
            await admin?.then((server) => server.close()).catch(() => {});
            // The journal closes below; its gauges must not be read after that.
            if (persistence !== undefined) updateMetrics?.close();
            if (requested && clustered === undefined) await confirmHandled();
            else if (!requested) log.error({ err: error }, "polling stopped for good");
            unmeasureCluster?.();
            await clustered?.detach();
            // Sends still in flight at the stop's deadline are cancelled; they stay queued for the next start.
            await persistence?.close(Math.max(0, deadline - performance.now()));
            closedAtStop = persistence !== undefined;
        },
    });
    /** The journal, outbox and tasks close when the handle stops; a restart needs new ones, from a new run(). */
    let closedAtStop = false;

    /**
     * Moves Telegram's offset past what needs no second delivery. With a
     * journal that is everything it holds (the unfinished rest is on disk;
     * a batch it failed to write stays unconfirmed). Without, updates still
     * unfinished after the stop timeout stay unconfirmed where that is still
     * possible (those of the newest batch).
     */
    async function confirmHandled(): Promise<void> {
        let offset = fetchUpdates.offset;
        try {
            if (journal !== undefined) offset = Math.min(offset, journal.offset);
            else for (const update of sink.snapshot()) offset = Math.min(offset, update.update_id);
            if (offset === 0) return;
            await fetchUpdates.confirm(offset);
            log.info({ offset }, "confirmed handled updates to Telegram");
        } catch (error) {
            log.warn({ err: error, offset }, "could not confirm the offset; a restart may receive the last batch again");
        }
    }

    if (options.signals !== false) removeSignalHandlers = stopOnSignals(handle.stop);
    handle.start();
    // The `sluice` command cannot hand an update to this bot's handlers; it marks it, and the bot retries it.
    journal?.onRetryRequested(retryQuarantined);
    const startRunner = handle.start;
    const running = Object.assign(handle, {
        start: () => {
            if (closedAtStop) {
                const parts = [journal && "journal", (outbox ?? persistence?.clusterOutbox) && "outbox", tasks && "tasks"].filter(
                    (part) => part !== undefined,
                );
                const closed = `its ${parts.join(" and ")}`;
                throw new SluiceError(
                    "HANDLE_STOPPED",
                    `This handle closed ${closed} when it stopped; call run(bot, options) again to start the bot with new ones.`,
                );
            }
            startRunner();
        },
        journal: journal && journalHandle(journal, retryQuarantined),
        outbox,
        clusterOutbox: persistence?.clusterOutbox,
        tasks,
        metrics,
        cluster: clustered && { status: () => clustered.status() },
        admin: undefined as Promise<AdminServer> | undefined,
        retryQuarantined,
    });
    if (options.admin !== undefined) {
        admin = createAdminServer({ ...options.admin, handle: running, logger: options.logger });
        admin.catch((error: unknown) => log.error({ err: error }, "the admin API could not start; the bot runs without it"));
        running.admin = admin;
    }
    return running;

    function retryQuarantined(updateId: number): boolean {
        const update = journal?.retryQuarantined(updateId);
        if (update === undefined) return false;
        if (handle.isRunning()) void sink.handle([update]);
        return true;
    }
}

/** The part of a journal its user may touch (see `JournalHandle`). */
function journalHandle<Y extends { update_id: number }>(
    journal: Journal<Y>,
    retryQuarantined: (updateId: number) => boolean,
): JournalHandle<Y> {
    return {
        get offset() {
            return journal.offset;
        },
        unfinishedCount: () => journal.unfinishedCount(),
        quarantined: () => journal.quarantined(),
        retryQuarantined,
        dropQuarantined: (updateId) => journal.dropQuarantined(updateId),
    };
}

/**
 * Refuses option combinations where one setting would silently override
 * another: the journal keeps the offset, and `logger` is the one logger.
 */
function checkRunOptions<Y>(options: RunOptions<Y>): void {
    if (options.admin !== undefined) checkAdminSettings(options.admin);
    if (options.cluster !== undefined && options.store !== undefined) {
        throw new InvalidOptionError("store", "in a cluster, updates are kept in Redis streams instead of a journal; remove `store`");
    }
    if (options.store !== undefined && options.runner?.offset !== undefined) {
        throw new InvalidOptionError("runner.offset", "with `store`, the journal keeps the offset to resume from; remove `runner.offset`");
    }
    if (options.logger !== undefined && options.runner?.logger !== undefined && options.logger !== options.runner.logger) {
        throw new InvalidOptionError(
            "runner.logger",
            "`logger` is the logger of everything `run` starts; pass your logger once, as `logger`",
        );
    }
}

/**
 * The key that places an update in a cluster's partition: the first key of
 * the sink's constraint (the chat, by default), or the update id for an
 * update without one (it needs no order).
 */
function clusterKeyOf<Y extends { update_id: number }>(constraint: ((update: Y) => string | string[] | undefined) | false | undefined) {
    return (update: Y): string =>
        (constraint ? keysFrom(constraint(update))[0] : String(chatIdOfUpdate(update) ?? "")) || `u${update.update_id}`;
}

/**
 * Refuses every Bot API call of a handler whose partition passed to another
 * node meanwhile (this node was paused or cut off): the new owner handles
 * the update again, and a stale copy must not send beside it.
 */
function fencedCalls(clustered: ClusterBot<unknown>): Transformer {
    return (previous, method, payload, signal) => {
        const scope = currentUpdateScope();
        if (scope !== undefined && clustered.isFenced(scope.updateId)) {
            throw new SluiceError(
                "CLUSTER_FENCED",
                `Refused ${method}: update ${scope.updateId} now belongs to another cluster node, which handles it again.`,
            );
        }
        return previous(method, payload, signal);
    };
}

/** Calls `then` once `work` settled, and settles as `work` did. */
async function settled<T>(work: Promise<T>, then: () => Promise<void>): Promise<T> {
    try {
        return await work;
    } finally {
        await then();
    }
}

/** The chats a batch of updates came from. */
function* chatsOf(updates: readonly unknown[]): Generator<number> {
    for (const update of updates) {
        const chat = chatIdOfUpdate(update);
        if (chat !== undefined) yield chat;
    }
}

/**
 * The error a handling failed with: as thrown, or unwrapped from grammY's
 * `BotError` (by its `error` field, not `instanceof`: the bot's grammY may be
 * another copy than the one sluice would import).
 */
function innerError(error: unknown): unknown {
    if (error instanceof SluiceError) return error;
    return (error as { error?: unknown } | null)?.error ?? error;
}
