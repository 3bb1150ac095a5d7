/**
 * The Redis keys of one cluster. Every key carries the hash tag
 * `{sluice:<name>}`, so the scripts that touch several (a lease and the
 * streams it fences) run on one shard even under Redis Cluster.
 */
export class ClusterKeys {
    private readonly tag: string;

    constructor(name: string) {
        this.tag = `{sluice:${name}}`;
    }

    /** Sorted set: node id by the Redis time (ms) of its last heartbeat. */
    get nodes(): string {
        return `${this.tag}:nodes`;
    }

    /** Pub/sub channel: a node joined, left or gave a lease up; the others look again at once. */
    get changes(): string {
        return `${this.tag}:changes`;
    }

    /** The lease on a partition: the node that handles its streams, as `<node>:<epoch>`. */
    partitionLease(partition: number): string {
        return `${this.tag}:part:${partition}`;
    }

    /** The lease on polling a bot: the one node that calls `getUpdates` for its token. */
    pollerLease(botId: number): string {
        return `${this.tag}:b:${botId}:poller`;
    }

    /** The epoch counter behind a lease (kept apart, so a lapsed lease never hands out an old epoch again). */
    epoch(lease: string): string {
        return `${lease}:epoch`;
    }

    /** The bot's `getUpdates` offset: one past the newest update appended to its streams. */
    offset(botId: number): string {
        return `${this.tag}:b:${botId}:offset`;
    }

    /** A partition's stream of a bot's unfinished updates, in arrival order. */
    stream(botId: number, partition: number): string {
        return `${this.tag}:b:${botId}:p:${partition}`;
    }

    /**
     * The prefix of a bot's outbox keys (`m:<id>`, `q:<chat>`, `ready:<class>`, …): the outbox's
     * scripts take it as their one key and build the others from it (see scripts/outbox-*.lua).
     */
    outbox(botId: number): string {
        return `${this.tag}:b:${botId}:`;
    }

    /** The bot's dead-letter stream: updates delivered too many times (the cluster's quarantine). */
    deadLetters(botId: number): string {
        return `${this.tag}:b:${botId}:dead`;
    }
}

/** The consumer group every node reads the partition streams in. */
export const CONSUMER_GROUP = "sluice";
