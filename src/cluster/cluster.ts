import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { UpdateFetcher } from "../runner/fetcher.js";
import { InvalidOptionError, SluiceError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { wholeNumber } from "../shared/options.js";
import { reportedBy } from "../shared/timing.js";
import { ClusterConnections } from "./connections.js";
import { type ClusterLag, PartitionConsumer } from "./consumer.js";
import { ClusterKeys } from "./keys.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { Membership } from "./membership.js";
import { ownerOf, placePartitions } from "./partitioning.js";
import { ClusterPoller } from "./poller.js";
import { clusterScripts } from "./scripts.js";

/** How a node joins a cluster. */
export interface ClusterOptions {
    /** The Redis every node shares: a `redis://` URL. */
    redis: string;
    /** The cluster's name: nodes with the same name (on the same Redis) share the work. @default "sluice" */
    name?: string;
    /** Partitions of each bot's updates (by chat); the same on every node. More than nodes, so work spreads evenly. @default 64 */
    partitions?: number;
    /** A lease's time to live (ms): a dead node's polling and partitions move on within about this long. @default 4000 */
    leaseMs?: number;
    /** Deliveries of one update (each ended by a node's death) before it goes to the cluster's dead letters. @default 3 */
    maxAttempts?: number;
    /** This node's id in the cluster. @default `<hostname>-<pid>-<random>` */
    nodeId?: string;
    /** Leave the cluster gracefully on SIGINT and SIGTERM. @default true */
    signals?: boolean;
    /** @default sluice's logger */
    logger?: Logger;
}

/** What a node sees of the cluster (`cluster.status()`, the admin API's `/v1/status`). */
export interface ClusterStatus {
    name: string;
    node: string;
    /** The live nodes, by their heartbeats. */
    nodes: string[];
    /** The partitions this node holds. */
    partitions: number[];
    /** Every lease this node holds: `p:<partition>` and `poller:<bot id>`. */
    leases: string[];
    /** Leases lost since joining: renewals that lapsed (Redis unreachable, the process paused), not graceful hand-overs. */
    leasesLost: number;
    /** Whether Redis answers this node now; while it does not, the node's work pauses. */
    redisReachable: boolean;
}

/** What a node does for one bot: `handle.cluster.status()` of `run(bot, { cluster })`, the admin API's `/v1/status`. */
export interface ClusterBotStatus extends ClusterStatus {
    botId: number;
    /** Whether this node polls the bot (holds its poller lease). */
    polling: boolean;
    /** The bot's backlog in this node's partitions; `null` while Redis does not answer within a second. */
    lag: ClusterLag | null;
}

/** A node's membership of a cluster (see `joinCluster`). */
export interface Cluster {
    readonly name: string;
    readonly nodeId: string;
    readonly partitions: number;
    /** What this node holds, and who else is alive. */
    status(): ClusterStatus;
    /**
     * Leaves gracefully: hands every lease over after the work under it
     * finished (the other nodes take over within about a second), then
     * closes the connections. SIGINT and SIGTERM do this by default. While
     * Redis does not answer nothing can be handed over: after a lease
     * (`leaseMs`) of silence it ends anyway, with a warning, and the other
     * nodes take the leases as they lapse.
     */
    leave(): Promise<void>;
    /** @internal A new connection to the cluster's Redis (not connected yet), for the cluster outbox; its user closes it. */
    connect(): Redis;
    /** @internal How `run` takes part: the bot's poller (where placed) and its partitions' updates. */
    attach<Y extends { update_id: number }>(bot: ClusterBotOptions<Y>): ClusterBot<Y>;
}

/** @internal What `run` gives the cluster of a bot. */
export interface ClusterBotOptions<Y> {
    botId: number;
    /** A `getUpdates` fetcher resuming from `offset`. */
    fetcherFrom: (offset: number) => UpdateFetcher<Y>;
    /** The update's constraint key: a chat's updates share a partition. */
    keyOf: (update: Y) => string;
}

/** @internal A bot's part in the cluster on this node. */
export interface ClusterBot<Y> {
    next(limit: number, signal: AbortSignal): Promise<Y[]>;
    done(update: Y): Promise<void>;
    /** What this node does for the bot, with its backlog (read from Redis). */
    status(): Promise<ClusterBotStatus>;
    /** Whether the handler of `updateId` runs under a partition lease this node no longer holds. */
    isFenced(updateId: number): boolean;
    detach(): Promise<void>;
}

/**
 * Joins a cluster of nodes that share bots through Redis: the same code on
 * every node. For each bot, one node polls (a fenced lease) and appends the
 * updates to partition streams by chat; each node handles the partitions it
 * holds leases on, placed over the live nodes by rendezvous weights with a
 * bound on each node's share (`placePartitions`).
 */
export async function joinCluster(options: ClusterOptions): Promise<Cluster> {
    if (typeof options.redis !== "string" || !/^rediss?:\/\//.test(options.redis)) {
        throw new InvalidOptionError("redis", "give the Redis URL every node shares, such as redis://127.0.0.1:6379");
    }
    const name = options.name ?? "sluice";
    if (!/^[\w.-]{1,64}$/.test(name)) throw new InvalidOptionError("name", "use 1 to 64 letters, digits, dots, dashes or underscores");
    const partitions = wholeNumber("partitions", options.partitions, 64);
    const leaseMs = wholeNumber("leaseMs", options.leaseMs, 4_000);
    if (leaseMs < 500) throw new InvalidOptionError("leaseMs", "a lease shorter than 500 ms cannot be renewed reliably; use 4000 or so");
    const maxAttempts = wholeNumber("maxAttempts", options.maxAttempts, 3);
    const nodeId = options.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    const log = componentLogger("cluster", options.logger).child({ node: nodeId });

    let leaving: Promise<void> | undefined;
    const connections = await ClusterConnections.open(options.redis, log, () => leaving !== undefined);
    const redis = connections.main;
    const subscriber = connections.extra();
    const keys = new ClusterKeys(name);
    const scripts = clusterScripts(redis);
    const pollers = new Map<number, ClusterPoller<{ update_id: number }>>();
    const consumers = new Set<PartitionConsumer<{ update_id: number }>>();
    let membership: Membership;
    const keeper = new LeaseKeeper(
        scripts,
        nodeId,
        { ttlMs: leaseMs },
        (resource) =>
            resource.startsWith("p:") ? keys.partitionLease(Number(resource.slice(2))) : keys.pollerLease(Number(resource.slice(7))),
        (lease) => keys.epoch(lease),
        log,
        () => void membership.announce(),
    );
    /**
     * Partitions are the node's, for every bot: a bot stopped here while the
     * node stays has its updates in them wait until it runs here again. Said
     * five leases after the stop, so the usual shutdown (stop, then leave,
     * with the outbox and the store closed in between) is quiet.
     */
    const warnIfLeftWaiting = (botId: number, botLog: Logger) => {
        setTimeout(() => {
            if (leaving !== undefined || pollers.has(botId) || !keeper.holding().some((lease) => lease.startsWith("p:"))) return;
            botLog.warn(
                "the bot stopped on this node while the node stays in the cluster: its updates in this node's " +
                    "partitions wait until it runs here again or the node leaves (cluster.leave()); run every shared bot on every node",
            );
        }, 5 * leaseMs).unref();
    };
    // Placed again at every heartbeat; computed again only when the live nodes change.
    let placement = { live: "", owners: [] as string[] };
    const ownersAmong = (live: readonly string[]) => {
        if (placement.live !== live.join()) placement = { live: live.join(), owners: placePartitions(partitions, live) };
        return placement.owners;
    };
    /** The leases placed on this node: its partitions, and the pollers of its bots placed here. */
    const place = (live: readonly string[]) => {
        if (!live.includes(nodeId)) return keeper.place([]);
        const owned = ownersAmong(live).flatMap((owner, partition) => (owner === nodeId ? [`p:${partition}`] : []));
        const polled = [...pollers.keys()].map((botId) => `poller:${botId}`).filter((poller) => ownerOf(poller, live) === nodeId);
        keeper.place([...owned, ...polled]);
    };
    membership = new Membership(redis, subscriber, scripts, keys, nodeId, log, place);
    await subscriber.connect();
    await membership.join();

    const removeSignals = options.signals === false ? () => {} : leaveOnSignals(() => cluster.leave());
    const cluster: Cluster = {
        name,
        nodeId,
        partitions,
        status: () => {
            const leases = keeper.holding().sort();
            return {
                name,
                node: nodeId,
                nodes: [...membership.nodes],
                partitions: leases
                    .filter((lease) => lease.startsWith("p:"))
                    .map((lease) => Number(lease.slice(2)))
                    .sort((a, b) => a - b),
                leases,
                leasesLost: keeper.lostCount,
                redisReachable: connections.reachable,
            };
        },
        leave: () => {
            leaving ??= (async () => {
                removeSignals();
                const handOver = (async () => {
                    await membership.leave();
                    await keeper.close();
                    for (const consumer of consumers) await consumer.close();
                    for (const poller of pollers.values()) await poller.close();
                })();
                // A hand-over waits for running work, however long; but nothing can be handed over while Redis
                // does not answer, and a SIGTERM must still end the process: the other nodes take the leases as
                // they lapse in Redis.
                if (await connections.finishes(handOver, leaseMs)) {
                    await connections.close();
                } else {
                    log.warn(
                        "left without handing over: Redis did not answer for a lease; the other nodes take this node's leases as they lapse",
                    );
                    keeper.abandon();
                    connections.disconnect();
                }
                log.info("left the cluster");
            })();
            return leaving;
        },
        connect: () => connections.extra(),
        attach: <Y extends { update_id: number }>(bot: ClusterBotOptions<Y>): ClusterBot<Y> => {
            if (pollers.has(bot.botId))
                throw new SluiceError(
                    "CLUSTER_BOT_TWICE",
                    `Bot ${bot.botId} already runs on this cluster node; stop it before running it again.`,
                );
            const botLog = log.child({ botId: bot.botId });
            const resource = `poller:${bot.botId}`;
            const poller = new ClusterPoller<Y>(
                redis,
                scripts,
                keys,
                keeper,
                resource,
                bot.botId,
                partitions,
                bot.fetcherFrom,
                bot.keyOf,
                botLog,
            );
            const reader = connections.extra();
            const consumer = new PartitionConsumer<Y>(
                redis,
                reader,
                scripts,
                keys,
                keeper,
                bot.botId,
                partitions,
                nodeId,
                maxAttempts,
                botLog,
            );
            pollers.set(bot.botId, poller as unknown as ClusterPoller<{ update_id: number }>);
            consumers.add(consumer as unknown as PartitionConsumer<{ update_id: number }>);
            const unlisten = keeper.listen(resource, poller);
            place(membership.nodes);
            return {
                next: (limit, signal) => consumer.next(limit, signal),
                done: (update) => consumer.done(update),
                isFenced: (updateId) => consumer.isFenced(updateId),
                status: async () => ({
                    ...cluster.status(),
                    botId: bot.botId,
                    polling: keeper.tokenOf(resource) !== undefined,
                    lag: connections.reachable ? await reportedBy(() => consumer.lag()) : null,
                }),
                detach: async () => {
                    unlisten();
                    const closed = (async () => {
                        await poller.close();
                        await consumer.close();
                    })();
                    // An append or a blocking read caught in a Redis outage may never return (see `finishes`).
                    if (await connections.finishes(closed, leaseMs)) await connections.drop(reader);
                    else connections.disconnect(reader);
                    warnIfLeftWaiting(bot.botId, botLog);
                    pollers.delete(bot.botId);
                    consumers.delete(consumer as unknown as PartitionConsumer<{ update_id: number }>);
                    place(membership.nodes);
                },
            };
        },
    };
    return cluster;
}

/** Leaves on the first SIGINT or SIGTERM (the process' other handlers, such as `run`'s stop, run too). */
function leaveOnSignals(leave: () => Promise<void>): () => void {
    const onSignal = () => void leave();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    return () => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    };
}
