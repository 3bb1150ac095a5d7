import type { Transformer } from "grammy";
import type { Cluster } from "../cluster/cluster.js";
import { ClusterOutbox, type ClusterOutboxOptions } from "../cluster/cluster-outbox.js";
import { Journal, type JournalOptions } from "../journal/journal.js";
import type { Metrics } from "../metrics/registry.js";
import { createOutbox, type Outbox, type OutboxSettings } from "../outbox/outbox.js";
import { outboxTransformer } from "../outbox/transformer.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { InvalidOptionError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { openStore, type Store } from "../store/store.js";
import { createTasks, type Tasks, type TasksSettings } from "../tasks/tasks.js";

/**
 * The outbox of `run`: `true` for the default settings, or the settings
 * `createOutbox` takes; in a cluster, also `leaseMs` (see `ClusterOutboxOptions`).
 */
export type RunOutboxOptions = true | (OutboxSettings & Pick<ClusterOutboxOptions, "leaseMs">);

/** The parts of a grammY bot the outbox needs: its API with token, raw methods and transformers. */
interface BotWithApi {
    token?: string;
    api: unknown;
}
interface TransformableApi {
    token: string;
    raw: object;
    config: { use: (...transformers: Transformer[]) => unknown };
}

/** The bot's API as one that takes transformers; `option` names what needs them when it does not. */
export function transformableApi(bot: BotWithApi, option: string): TransformableApi {
    const api = bot.api as TransformableApi;
    if (typeof api.config?.use !== "function") {
        throw new InvalidOptionError(option, `the ${option} needs a grammY bot (its \`bot.api\` takes transformers)`);
    }
    return api;
}

/** What `run` keeps on disk (or in memory): the journal and the outbox, in one store. */
export interface Persistence<Y extends { update_id: number }> {
    botId: number;
    journal: Journal<Y> | undefined;
    outbox: Outbox | undefined;
    /** The outbox in the cluster's Redis, in place of `outbox`, with `cluster`. */
    clusterOutbox: ClusterOutbox | undefined;
    tasks: Tasks | undefined;
    /**
     * Stops the tasks (their runs get what is left of `timeoutMs`; they may
     * still be sending through the outbox), then the outbox (cancelling sends
     * still in flight at the deadline; they stay queued), closes the journal,
     * then the store if `run` opened it.
     */
    close(timeoutMs: number): Promise<void>;
}

/**
 * Opens what `store` and `outbox` ask for: the store (when given a path), the
 * bot's journal in it, and an outbox on the same store (in memory without
 * one) installed as a transformer on `bot.api`.
 */
export function openPersistence<Y extends { update_id: number }>(
    bot: BotWithApi,
    options: {
        store?: string | Store;
        journal?: Omit<JournalOptions, "logger">;
        outbox?: RunOutboxOptions;
        tasks?: TasksSettings;
        /** In a cluster, the outbox's queue and limits live in its Redis, shared by the nodes. */
        cluster?: Cluster;
        logger?: Logger;
        /** Where the outbox and the tasks register their series, as `run`'s own. */
        metrics?: Metrics;
    },
): Persistence<Y> | undefined {
    if (options.store === undefined && options.outbox === undefined && options.tasks === undefined) return undefined;
    const botId = botIdOfToken(bot.token, options.store !== undefined ? "store" : options.outbox !== undefined ? "outbox" : "tasks");
    const ownStore = typeof options.store === "string";
    const store = typeof options.store === "string" ? openStore(options.store) : options.store;
    let journal: Journal<Y> | undefined;
    let outbox: Outbox | undefined;
    let clusterOutbox: ClusterOutbox | undefined;
    let tasks: Tasks | undefined;
    const metrics = options.metrics && { registry: options.metrics.registry };
    try {
        journal = store && Journal.open<Y>(store, botId, { ...options.journal, logger: options.logger });
        if (options.outbox !== undefined && options.cluster !== undefined) {
            const api = transformableApi(bot, "outbox");
            const settings = options.outbox === true ? {} : options.outbox;
            clusterOutbox = new ClusterOutbox({ ...settings, cluster: options.cluster, api, logger: options.logger, metrics });
            api.config.use(outboxTransformer(clusterOutbox));
        } else if (options.outbox !== undefined) {
            const api = transformableApi(bot, "outbox");
            outbox = createOutbox({ ...(options.outbox === true ? {} : options.outbox), store, api, logger: options.logger, metrics });
            api.config.use(outboxTransformer(outbox));
        }
        if (options.tasks !== undefined) tasks = createTasks({ ...options.tasks, store, botId, logger: options.logger, metrics });
    } catch (error) {
        // What opened already closes before the store does (their closes wait for nothing in flight, but are async).
        void Promise.all([outbox?.close(0), clusterOutbox?.close(0), tasks?.close(0)]).finally(() => {
            journal?.close();
            if (ownStore) store?.close();
        });
        throw error;
    }
    return {
        botId,
        journal,
        outbox,
        clusterOutbox,
        tasks,
        close: async (timeoutMs) => {
            const deadline = performance.now() + timeoutMs;
            await tasks?.close(timeoutMs);
            await outbox?.close(Math.max(0, deadline - performance.now()));
            await clusterOutbox?.close(Math.max(0, deadline - performance.now()));
            journal?.close();
            if (ownStore) store?.close();
        },
    };
}
