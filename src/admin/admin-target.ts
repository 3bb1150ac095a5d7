import type { ClusterBotStatus } from "../cluster/cluster.js";
import type { ClusterOutbox } from "../cluster/cluster-outbox.js";
import type { JournalHandle } from "../journal/journal.js";
import type { Metrics } from "../metrics/registry.js";
import type { OutboundMessage, Outbox } from "../outbox/outbox.js";
import type { Enqueued, MessageStatus } from "../outbox/queue.js";
import type { SluiceError } from "../shared/errors.js";
import type { Tasks } from "../tasks/tasks.js";

/** What the admin API operates: a `run()` handle fits, or any object with these parts. */
export interface AdminTarget {
    readonly journal: JournalHandle<unknown> | undefined;
    /** The outbox in the store (campaigns and unreachable chats are only there). */
    readonly outbox: Outbox | undefined;
    /** The outbox in a cluster's Redis (with `run`'s `cluster`), in place of `outbox`. @default none */
    readonly clusterOutbox?: ClusterOutbox | undefined;
    readonly tasks: Tasks | undefined;
    /** Its Prometheus series (with `metrics`), served on `/metrics`. */
    readonly metrics?: Metrics | undefined;
    /** What this node does for the bot in a cluster (with `run`'s `cluster`), shown by `/v1/status`. */
    readonly cluster?: { status(): Promise<ClusterBotStatus> } | undefined;
    /** Whether the bot is polling. */
    isRunning(): boolean;
}

/**
 * What the admin API does with an outbox of either kind: enqueue, look a
 * message up, and list, count, requeue and purge dead letters. The store's
 * outbox answers at once and the cluster's from Redis, so each answer may
 * be a promise; the routes await them all alike.
 */
export interface AdminOutbox {
    /** Queues a message (`POST /v1/messages`). */
    enqueue(message: OutboundMessage): Enqueued | Promise<Enqueued>;
    /** Where a message is (`GET /v1/messages/:id`); `undefined` for an unknown id. */
    status(id: number): MessageStatus | undefined | Promise<MessageStatus | undefined>;
    /** The first `limit` dead letters, oldest first (all without `limit`). */
    deadLetters(limit?: number): MessageStatus[] | Promise<MessageStatus[]>;
    /** How many dead letters there are, without reading them. */
    deadLetterCount(): number | Promise<number>;
    /** `false` if `id` is not a dead letter. */
    requeue(id: number): boolean | Promise<boolean>;
    /** Deletes every dead letter; says how many. */
    purgeDeadLetters(): number | Promise<number>;
    /** Why the outbox stopped sending on its own (Telegram refused the token), if it did. */
    readonly stoppedBy: SluiceError | undefined;
    /** The bot-wide limit its sends are paced to. */
    readonly rates: { globalPerSecond: number };
    /** Its own series, when it keeps them apart from the target's. */
    readonly metrics: Metrics | undefined;
}

/** The target's outbox, whichever kind it has. */
export function outboxOf(target: AdminTarget): AdminOutbox | undefined {
    return target.outbox ?? target.clusterOutbox;
}
