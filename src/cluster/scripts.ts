import type { Redis } from "ioredis";
import { luaScript } from "./lua.js";

/** The cluster's scripts (one per atomic operation, see scripts/*.lua), callable on one connection. */
export interface ClusterScripts {
    leaseAcquire(lease: string, epoch: string, node: string, ttlMs: number): Promise<string | null>;
    leaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
    leaseRelease(lease: string, token: string): Promise<number>;
    heartbeat(nodes: string, node: string, aliveMs: number): Promise<string[]>;
    append(
        pollerLease: string,
        offsetKey: string,
        streams: string[],
        token: string,
        offset: number,
        entries: (string | number)[],
    ): Promise<number>;
    ack(partitionLease: string, stream: string, token: string, group: string, ids: string[]): Promise<number>;
    claim(
        partitionLease: string,
        stream: string,
        deadLetters: string,
        token: string,
        group: string,
        consumer: string,
        maxDeliveries: number,
        partition: number,
    ): Promise<string[]>;
}

const SCRIPTS = {
    leaseAcquire: ["lease-acquire", 2],
    leaseRenew: ["lease-renew", 1],
    leaseRelease: ["lease-release", 1],
    heartbeat: ["heartbeat", 1],
    ack: ["ack", 2],
    claim: ["claim", 3],
} as const;

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** Defines the scripts on `redis` (ioredis sends each by its SHA after the first call). */
export function clusterScripts(redis: Redis): ClusterScripts {
    for (const [name, [file, numberOfKeys]] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua: luaScript(file) });
    // The batch touches a varying number of streams: the key count is given with each call.
    redis.defineCommand("appendBatch", { lua: luaScript("append") });
    const call = (name: string) => (redis as unknown as Record<string, Call>)[name]!.bind(redis);
    const appendBatch = call("appendBatch");
    return {
        leaseAcquire: call("leaseAcquire") as ClusterScripts["leaseAcquire"],
        leaseRenew: call("leaseRenew") as ClusterScripts["leaseRenew"],
        leaseRelease: call("leaseRelease") as ClusterScripts["leaseRelease"],
        heartbeat: call("heartbeat") as ClusterScripts["heartbeat"],
        ack: (lease, stream, token, group, ids) => call("ack")(lease, stream, token, group, ...ids) as Promise<number>,
        claim: call("claim") as ClusterScripts["claim"],
        append: (lease, offsetKey, streams, token, offset, entries) =>
            appendBatch(2 + streams.length, lease, offsetKey, ...streams, token, offset, ...entries) as Promise<number>,
    };
}

/** Whether a script refused a caller whose lease had passed to another tenure. */
export function isStaleEpoch(error: unknown): boolean {
    return error instanceof Error && error.message.startsWith("STALE_EPOCH");
}
