import type { ClusterBotStatus } from "../cluster/cluster.js";
import type { JournalHandle } from "../journal/journal.js";
import type { Metrics } from "../metrics/registry.js";
import type { Outbox } from "../outbox/outbox.js";
import type { Tasks } from "../tasks/tasks.js";

/** What the admin API operates: a `run()` handle fits, or any object with these parts. */
export interface AdminTarget {
    readonly journal: JournalHandle<unknown> | undefined;
    readonly outbox: Outbox | undefined;
    readonly tasks: Tasks | undefined;
    /** Its Prometheus series (with `metrics`), served on `/metrics`. */
    readonly metrics?: Metrics | undefined;
    /** What this node does for the bot in a cluster (with `run`'s `cluster`), shown by `/v1/status`. */
    readonly cluster?: { status(): Promise<ClusterBotStatus> } | undefined;
    /** Whether the bot is polling. */
    isRunning(): boolean;
}
