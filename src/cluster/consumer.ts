import type { Redis } from "ioredis";
import { Fifo } from "../shared/fifo.js";
import type { Logger } from "../shared/logger.js";
import { type ClusterKeys, CONSUMER_GROUP } from "./keys.js";
import type { LeaseKeeper, LeaseListener } from "./lease-keeper.js";
import { type ClusterScripts, isStaleEpoch } from "./scripts.js";

/** How long one blocking read waits for new entries before looking at its partitions again. */
const BLOCK_MS = 200;
/** How long a hand-over waits for the partition's running handlers before releasing anyway. */
const HAND_OVER_LIMIT_MS = 5_000;

/** A bot's backlog in the partitions a node holds (see `PartitionConsumer.lag`). */
export interface ClusterLag {
    /** Entries appended and not read by any node yet. */
    waiting: number;
    /** Entries read and not acknowledged yet. */
    pending: number;
}

/** Where a delivered update came from: what its acknowledgement needs. */
interface Delivery {
    partition: number;
    entryId: string;
    /** The partition lease's token when it was delivered: an ack under a later tenure would be refused anyway. */
    token: string;
}

/** A partition this node holds, for one bot. */
interface OwnedPartition {
    token: string;
    /** Claimed the previous owner's unfinished entries: new ones may be read now. */
    readable: boolean;
    /** Entries delivered and not acknowledged yet. */
    running: number;
    drained?: () => void;
    /**
     * Settles when the lease is lost: an acknowledgement still waiting on
     * Redis (an outage) then counts for nothing, since the next owner
     * delivers the entry again, and must not hold the handler's slot.
     */
    lapsed: Promise<void>;
    lapse: () => void;
}

/**
 * A bot's share of the cluster's work on this node: the updates of the
 * partitions this node holds a lease on. A partition taken over is first
 * drained of what its previous owner had read and not acknowledged (claimed
 * in id order, so a chat's order holds across the failover), then read for
 * new entries. Acknowledgements are fenced by the partition's epoch: a node
 * that lost a partition cannot acknowledge for its new owner.
 */
export class PartitionConsumer<Y extends { update_id: number }> {
    private readonly owned = new Map<number, OwnedPartition>();
    private ready = new Fifo<{ update: Y; delivery: Delivery }>();
    private readonly deliveries = new Map<number, Delivery>();
    /** Acknowledgements gathered in this turn, by partition and tenure (see `acknowledge`). */
    private readonly acks = new Map<string, { entryIds: string[]; sent: Promise<void> }>();
    private readonly unlisten: (() => void)[] = [];
    private wake: (() => void) | undefined;
    private reading: Promise<void> | undefined;
    /** The blocking read under way: a hand-over waits for it, so nothing it returns is left behind unclaimed. */
    private readInFlight: Promise<unknown> | undefined;
    private closed = false;

    constructor(
        private readonly redis: Redis,
        /** A connection of its own: blocking reads hold it. */
        private readonly reader: Redis,
        private readonly scripts: ClusterScripts,
        private readonly keys: ClusterKeys,
        private readonly keeper: LeaseKeeper,
        private readonly botId: number,
        partitions: number,
        private readonly node: string,
        private readonly maxAttempts: number,
        private readonly log: Logger,
    ) {
        for (let partition = 0; partition < partitions; partition++) {
            this.unlisten.push(keeper.listen(`p:${partition}`, this.listenerFor(partition)));
        }
    }

    /** The partitions this bot is handled for here. */
    partitions(): number[] {
        return [...this.owned.keys()].sort((a, b) => a - b);
    }

    /** Up to `limit` updates to handle, oldest first per partition; waits for some unless `signal` aborts. */
    async next(limit: number, signal: AbortSignal): Promise<Y[]> {
        this.reading ??= this.read();
        while (this.ready.length === 0 && !signal.aborted && !this.closed) {
            let onAbort = () => {};
            await new Promise<void>((resolve) => {
                this.wake = onAbort = resolve;
                signal.addEventListener("abort", onAbort, { once: true });
            });
            signal.removeEventListener("abort", onAbort);
        }
        const batch: Y[] = [];
        while (batch.length < limit && this.ready.length > 0) {
            const { update, delivery } = this.ready.shift()!;
            this.deliveries.set(update.update_id, delivery);
            batch.push(update);
        }
        return batch;
    }

    /**
     * This bot's backlog in the partitions this node holds: entries not read
     * yet (`waiting`) and read but not acknowledged (`pending`, a dead
     * predecessor's included until claimed).
     */
    async lag(): Promise<ClusterLag> {
        const partitions = [...this.owned.keys()];
        const lag: ClusterLag = { waiting: 0, pending: 0 };
        if (partitions.length === 0) return lag;
        const pipeline = this.redis.pipeline();
        for (const partition of partitions) pipeline.xinfo("GROUPS", this.keys.stream(this.botId, partition));
        for (const [error, groups] of (await pipeline.exec()) ?? []) {
            if (error !== null) continue; // a stream not created yet: nothing waits in it
            for (const group of groups as unknown[][]) {
                const fields = new Map<unknown, unknown>();
                for (let i = 0; i < group.length; i += 2) fields.set(group[i], group[i + 1]);
                if (fields.get("name") !== CONSUMER_GROUP) continue;
                lag.waiting += Number(fields.get("lag") ?? 0);
                lag.pending += Number(fields.get("pending") ?? 0);
            }
        }
        return lag;
    }

    /** Acknowledges a handled update (fenced: refused if its partition changed hands meanwhile). */
    async done(update: Y): Promise<void> {
        const delivery = this.deliveries.get(update.update_id);
        if (delivery === undefined) return;
        this.deliveries.delete(update.update_id);
        const owned = this.owned.get(delivery.partition);
        try {
            if (this.keeper.tokenOf(`p:${delivery.partition}`) !== delivery.token) return; // lapsed here: its next owner redelivers it
            const acknowledged = this.acknowledge(delivery);
            await (owned === undefined ? acknowledged : Promise.race([acknowledged, owned.lapsed]));
        } finally {
            if (owned !== undefined && owned.token === delivery.token && --owned.running === 0) owned.drained?.();
        }
    }

    /**
     * Adds an entry to its partition's next acknowledgement, sent once this
     * turn of the event loop is over: handlers end in bursts, and one script
     * call for a burst costs Redis and this node a round trip instead of one each.
     */
    private acknowledge(delivery: Delivery): Promise<void> {
        const key = `${delivery.partition} ${delivery.token}`;
        let batch = this.acks.get(key);
        if (batch === undefined) {
            const entryIds: string[] = [];
            const sent = new Promise((resolve) => setImmediate(resolve)).then(async () => {
                this.acks.delete(key);
                try {
                    await this.scripts.ack(
                        this.keys.partitionLease(delivery.partition),
                        this.keys.stream(this.botId, delivery.partition),
                        delivery.token,
                        CONSUMER_GROUP,
                        entryIds,
                    );
                } catch (error) {
                    if (!isStaleEpoch(error))
                        this.log.warn(
                            { err: error, partition: delivery.partition, count: entryIds.length },
                            "could not acknowledge handled updates; they will be delivered again",
                        );
                }
            });
            batch = { entryIds, sent };
            this.acks.set(key, batch);
        }
        batch.entryIds.push(delivery.entryId);
        return batch.sent;
    }

    /**
     * Whether a delivered update's partition has passed to another tenure
     * since: its handler is a stale copy, and what it does must not count.
     */
    isFenced(updateId: number): boolean {
        const delivery = this.deliveries.get(updateId);
        return delivery !== undefined && this.keeper.tokenOf(`p:${delivery.partition}`) !== delivery.token;
    }

    /** Stops reading; what was delivered may still be acknowledged. */
    async close(): Promise<void> {
        this.closed = true;
        this.wake?.();
        // Until the last read is back, a hand-over must still wait for it (see the listener's handOver).
        await this.reading;
        for (const unlisten of this.unlisten) unlisten();
    }

    private listenerFor(partition: number): LeaseListener {
        return {
            acquired: (token) => {
                let lapse = () => {};
                const lapsed = new Promise<void>((resolve) => (lapse = resolve));
                const owned: OwnedPartition = { token, readable: false, running: 0, lapsed, lapse };
                this.owned.set(partition, owned);
                // A read from an earlier tenure may still be under way (a lease lost while Redis was unreachable,
                // taken again now): the entries it returns are skipped as stale and stay pending under this node,
                // so the claim must come after it, or nothing would ever claim them.
                void Promise.resolve(this.readInFlight).then(() => this.claim(partition, owned));
            },
            handOver: async () => {
                const owned = this.owned.get(partition);
                if (owned === undefined) return;
                owned.readable = false;
                // Entries a read under way returns stay pending under this node, for the next owner to claim.
                await this.readInFlight;
                this.dropQueued(partition, owned);
                if (owned.running > 0) {
                    await new Promise<void>((resolve) => {
                        owned.drained = resolve;
                        setTimeout(resolve, HAND_OVER_LIMIT_MS).unref();
                    });
                }
                if (this.owned.get(partition) === owned) this.owned.delete(partition);
            },
            lost: () => {
                const owned = this.owned.get(partition);
                if (owned === undefined) return;
                owned.lapse();
                this.dropQueued(partition, owned);
                this.owned.delete(partition);
            },
        };
    }

    /** Entries of a partition read but not handed to the bot yet stay for its next owner (it claims them). */
    private dropQueued(partition: number, owned: OwnedPartition): void {
        const queued = this.ready.toArray();
        const kept = queued.filter((entry) => entry.delivery.partition !== partition);
        owned.running -= queued.length - kept.length;
        this.ready = new Fifo();
        for (const entry of kept) this.ready.push(entry);
    }

    /** Takes over what the previous owner read and did not finish, in id order, before anything new. */
    private async claim(partition: number, owned: OwnedPartition): Promise<void> {
        const stream = this.keys.stream(this.botId, partition);
        try {
            await this.redis.xgroup("CREATE", stream, CONSUMER_GROUP, "0", "MKSTREAM").catch((error: Error) => {
                if (!error.message.includes("BUSYGROUP")) throw error;
            });
            const claimed = await this.scripts.claim(
                this.keys.partitionLease(partition),
                stream,
                this.keys.deadLetters(this.botId),
                owned.token,
                CONSUMER_GROUP,
                this.node,
                this.maxAttempts,
                partition,
            );
            if (this.owned.get(partition) !== owned) return;
            for (let i = 0; i < claimed.length; i += 2) this.deliver(partition, owned, claimed[i]!, claimed[i + 1]!);
            owned.readable = true;
        } catch (error) {
            this.log.warn({ err: error, partition }, "could not take over a partition's unfinished updates; trying again");
            setTimeout(() => this.owned.get(partition) === owned && void this.claim(partition, owned), 500).unref();
        }
    }

    private deliver(partition: number, owned: OwnedPartition, entryId: string, payload: string): void {
        owned.running++;
        this.ready.push({ update: JSON.parse(payload) as Y, delivery: { partition, entryId, token: owned.token } });
        this.wake?.();
    }

    /** Reads new entries of the readable partitions, one blocking read at a time, until closed. */
    private async read(): Promise<void> {
        while (!this.closed) {
            const readable = [...this.owned].filter(([, owned]) => owned.readable);
            if (readable.length === 0 || this.ready.length > 1_000) {
                await new Promise((resolve) => setTimeout(resolve, BLOCK_MS / 4));
                continue;
            }
            try {
                const streams = readable.map(([partition]) => this.keys.stream(this.botId, partition));
                const reading = this.reader.xreadgroup(
                    "GROUP",
                    CONSUMER_GROUP,
                    this.node,
                    "COUNT",
                    500,
                    "BLOCK",
                    BLOCK_MS,
                    "STREAMS",
                    ...streams,
                    ...streams.map(() => ">"),
                );
                this.readInFlight = reading.catch(() => {});
                const answer = (await reading) as [string, [string, string[]][]][] | null;
                for (const [stream, entries] of answer ?? []) {
                    const [partition, owned] = readable[streams.indexOf(stream)]!;
                    // Read under a lease that has since changed hands: the next owner claims these.
                    if (this.owned.get(partition) !== owned || !owned.readable) continue;
                    for (const [entryId, fields] of entries) this.deliver(partition, owned, entryId, fields[1]!);
                }
            } catch (error) {
                if (this.closed) return;
                this.log.warn({ err: error }, "could not read the cluster's partitions; trying again");
                await new Promise((resolve) => setTimeout(resolve, 500));
            }
        }
    }
}
