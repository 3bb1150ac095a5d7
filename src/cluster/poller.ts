import type { Redis } from "ioredis";
import type { UpdateFetcher } from "../runner/fetcher.js";
import type { Logger } from "../shared/logger.js";
import type { ClusterKeys } from "./keys.js";
import type { LeaseKeeper, LeaseListener } from "./lease-keeper.js";
import { partitionOf } from "./partitioning.js";
import { type ClusterScripts, isStaleEpoch } from "./scripts.js";

/** Updates asked for per `getUpdates` call by the cluster's poller. */
const BATCH_SIZE = 100;
/** Pause after a failed round (Redis unreachable, another poller's 409) before trying again. */
const RETRY_MS = 1_000;

/**
 * The one `getUpdates` loop of a bot in the cluster, on the node that holds
 * its poller lease. Each batch is appended to the partition streams and the
 * offset moved past it in one script that refuses a stale epoch, before the
 * next `getUpdates` (which is what confirms the batch to Telegram): a batch
 * is either in Redis or still at Telegram for the next poller.
 */
export class ClusterPoller<Y extends { update_id: number }> implements LeaseListener {
    private token: string | undefined;
    private abort: AbortController | undefined;
    private loop: Promise<void> | undefined;

    constructor(
        private readonly redis: Redis,
        private readonly scripts: ClusterScripts,
        private readonly keys: ClusterKeys,
        private readonly keeper: LeaseKeeper,
        readonly resource: string,
        private readonly botId: number,
        private readonly partitions: number,
        /** A fetcher that resumes from `offset`. */
        private readonly fetcherFrom: (offset: number) => UpdateFetcher<Y>,
        /** The update's constraint key (its chat, by default): all of a chat's updates share a partition. */
        private readonly keyOf: (update: Y) => string,
        private readonly log: Logger,
    ) {}

    acquired(token: string): void {
        this.halt();
        this.token = token;
        const abort = (this.abort = new AbortController());
        this.loop = this.poll(token, abort.signal).catch((error: unknown) => this.log.error({ err: error }, "the poller stopped"));
    }

    async handOver(): Promise<void> {
        this.halt();
        await this.loop;
    }

    lost(): void {
        this.halt();
    }

    /** Stops polling (an open `getUpdates` is aborted). */
    async close(): Promise<void> {
        await this.handOver();
    }

    private halt(): void {
        this.token = undefined;
        this.abort?.abort();
    }

    private holds(token: string): boolean {
        return this.token === token && this.keeper.tokenOf(this.resource) === token;
    }

    private async poll(token: string, signal: AbortSignal): Promise<void> {
        const offset = Number((await this.redis.get(this.keys.offset(this.botId))) ?? 0);
        const fetchUpdates = this.fetcherFrom(offset);
        this.log.info({ offset }, "polling for the cluster");
        while (this.holds(token)) {
            try {
                const updates = await fetchUpdates(BATCH_SIZE, signal);
                if (updates.length === 0 || !this.holds(token)) continue;
                await this.append(token, updates, fetchUpdates.offset);
            } catch (error) {
                if (!this.holds(token)) return;
                if (isStaleEpoch(error)) {
                    this.log.warn("the poller lease passed to another tenure; standing down");
                    return;
                }
                this.log.warn({ err: error }, "polling for the cluster failed; trying again");
                await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
            }
        }
    }

    private async append(token: string, updates: readonly Y[], nextOffset: number): Promise<void> {
        const streams: string[] = [];
        const indexOf = new Map<number, number>();
        const entries: (string | number)[] = [];
        for (const update of updates) {
            const partition = partitionOf(this.keyOf(update), this.partitions);
            let index = indexOf.get(partition);
            if (index === undefined) {
                index = streams.push(this.keys.stream(this.botId, partition)) + 2; // KEYS[3..] in the script
                indexOf.set(partition, index);
            }
            entries.push(index, JSON.stringify(update));
        }
        await this.scripts.append(this.keys.pollerLease(this.botId), this.keys.offset(this.botId), streams, token, nextOffset, entries);
    }
}
