import type { Redis } from "ioredis";
import type { Logger } from "../shared/logger.js";
import type { ClusterKeys } from "./keys.js";
import type { ClusterScripts } from "./scripts.js";

/** How often a node says it is alive; a node silent for three times as long is taken for dead. */
const HEARTBEAT_MS = 500;
const ALIVE_MS = 3 * HEARTBEAT_MS;

/**
 * The live nodes of the cluster, by heartbeats timed on the Redis server's
 * clock. A change (a node joined, left, died, or gave a lease up) is
 * announced on a channel, so the others look again at once instead of at
 * their next heartbeat.
 */
export class Membership {
    private live: string[] = [];
    private timer: NodeJS.Timeout | undefined;
    private beating: Promise<void> | undefined;
    private left = false;

    constructor(
        private readonly redis: Redis,
        private readonly subscriber: Redis,
        private readonly scripts: ClusterScripts,
        private readonly keys: ClusterKeys,
        readonly node: string,
        private readonly log: Logger,
        private readonly changed: (live: readonly string[]) => void,
    ) {}

    /** The live nodes, as last seen (sorted). */
    get nodes(): readonly string[] {
        return this.live;
    }

    /** Joins: the first heartbeat, then one every half second. */
    async join(): Promise<void> {
        this.subscriber.on("message", () => void this.beat());
        await this.subscriber.subscribe(this.keys.changes);
        await this.beat();
        await this.announce();
        this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
        this.timer.unref();
    }

    /** Tells the other nodes to look again now. */
    async announce(): Promise<void> {
        await this.redis.publish(this.keys.changes, this.node).catch(() => {});
    }

    /** One heartbeat (single flight): marks this node alive and reads who else is. */
    beat(): Promise<void> {
        this.beating ??= this.heartbeat().finally(() => (this.beating = undefined));
        return this.beating;
    }

    private async heartbeat(): Promise<void> {
        try {
            const live = (await this.scripts.heartbeat(this.keys.nodes, this.left ? "" : this.node, ALIVE_MS)).sort();
            if (live.join() !== this.live.join()) {
                this.live = live;
                this.log.info({ nodes: live }, "cluster membership changed");
            }
            this.changed(this.live);
        } catch (error) {
            this.log.warn({ err: error }, "could not reach Redis for a heartbeat; work fenced by leases stops if this lasts");
        }
    }

    /** Leaves: no more heartbeats, and the others are told at once. */
    async leave(): Promise<void> {
        this.left = true;
        clearInterval(this.timer);
        await this.beating;
        await this.redis.zrem(this.keys.nodes, this.node).catch(() => {});
        await this.announce();
        await this.subscriber.unsubscribe().catch(() => {});
    }
}
