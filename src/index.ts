/**
 * sluice: fast, ordered and crash-safe long polling for grammY bots.
 *
 * A drop-in for `@grammyjs/runner`: `run`, `createRunner`, `createSource`,
 * `createUpdateFetcher`, the three sinks, `sequentialize` and their types keep
 * the reference's names and shapes (test/types/runner-compat.ts has the
 * compiler check it), and so do `distribute` and `BotWorker` (worker
 * threads). Not provided of the reference's exports: `DecayingDeque`, the
 * reference's internal queue, which nothing public takes or returns
 * (sluice's sinks schedule with per-chat lanes).
 *
 * The rest is sluice's own: the journal (`store`), the outbox, the bot pool,
 * typed errors.
 * The Bot API simulator is exported separately, as `sluice/simulator`.
 */

export { type AdminServer, type AdminServerOptions, type AdminSettings, createAdminServer } from "./admin/admin-server.js";
// The admin HTTP API.
export type { AdminTarget } from "./admin/admin-target.js";
export { type Cluster, type ClusterOptions, type ClusterStatus, joinCluster } from "./cluster/cluster.js";
// The outbox of a cluster: the queue and Telegram's limits in its Redis, shared by every node.
export { type ClusterOutbox, type ClusterOutboxOptions, createClusterOutbox } from "./cluster/cluster-outbox.js";
export type { Judgement } from "./journal/attempts.js";
// The journal and its store.
export type { JournalHandle, JournalOptions, QuarantinedUpdate } from "./journal/journal.js";
export type { Metrics, MetricsOption } from "./metrics/registry.js";
// Broadcasts: campaigns and their templates.
export type {
    CampaignMessage,
    MethodMessage,
    Recipient,
    TemplateMessage,
    TextMessage,
} from "./outbox/campaigns/campaign-message.js";
export type { CampaignState } from "./outbox/campaigns/campaign-store.js";
export type { AddRecipientsResult, CampaignOptions, CampaignStats, Campaigns } from "./outbox/campaigns/campaigns.js";
export type { OutboxLimits } from "./outbox/limiter.js";
// The outbox.
export { createOutbox, type OutboundMessage, type Outbox, type OutboxOptions, type OutboxSettings } from "./outbox/outbox.js";
export type { Enqueued, MessageState, MessageStatus, Priority } from "./outbox/queue.js";
export { escapeFor, type ParseMode } from "./outbox/templates/markup.js";
export {
    type MessageTemplates,
    type TemplateMap,
    type TemplateOptions,
    type TemplateRenderer,
    Templates,
    type TemplateVars,
} from "./outbox/templates/templates.js";
export type { UnreachableChat } from "./outbox/unreachable.js";
// The pool: many bots in one process.
export { type BotPool, type BotPoolOptions, createBotPool, type PoolRunOptions } from "./pool/bot-pool.js";
export { type ParsedToken, parseToken } from "./pool/parse-token.js";
export type { PoolBotInfo, PoolBotState } from "./pool/pooled-bot.js";
export type { RunOutboxOptions } from "./run/persistence.js";
// run(): the runner with the journal and the outbox composed in.
export { type RunHandle, type RunOptions, run } from "./run/run.js";
// Worker threads: many cores for one bot.
export { BotWorker } from "./runner/bot-worker.js";
export type { Constraint } from "./runner/constraint.js";
export { type DistributeMiddleware, type DistributeOptions, type DistributeStatus, distribute } from "./runner/distribute.js";
export { type BotAdapter, createUpdateFetcher, type FetchOptions, type RunnerOptions, type UpdateFetcher } from "./runner/fetcher.js";
export type { TimeoutHandler, TimeoutInfo } from "./runner/lanes.js";
// The runner: the reference-compatible core.
export { createRunner, type RunnerHandle, type RunnerLifecycleOptions } from "./runner/runner.js";
export { sequentialize } from "./runner/sequentialize.js";
export {
    createBatchSink,
    createConcurrentSink,
    createSequentialSink,
    type SinkOptions,
    type UpdateConsumer,
    type UpdateSink,
} from "./runner/sink.js";
export { createSource, type SourceOptions, type UpdateSource, type UpdateSupplier } from "./runner/source.js";
// Errors and logging.
export {
    ConflictError,
    type ConflictReason,
    DeadLetterError,
    InvalidOptionError,
    PermanentTaskError,
    PoisonUpdateError,
    type SendFailure,
    SluiceError,
    type SluiceErrorCode,
    StoreError,
    type StoreProblem,
    TaskDeadError,
    TemplateError,
    type TemplatePlace,
    type TemplateProblem,
    UnauthorizedError,
    WorkerCannotPollError,
    WorkerClosedError,
    type WorkerErrorInfo,
    WorkerFailedError,
    WorkerHandlerFailedError,
} from "./shared/errors.js";
export { createLogger, type Logger } from "./shared/logger.js";
export { chatAndUserOfUpdate, chatIdOfUpdate } from "./shared/update-chat.js";
export { openStore, type Store } from "./store/store.js";
// Durable tasks.
export type { TaskContext, TaskHandler } from "./tasks/task-runner.js";
export type { AddedTask, TaskState } from "./tasks/task-store.js";
export {
    type AddTaskOptions,
    createTasks,
    type TaskStatus,
    type Tasks,
    type TasksOptions,
    type TasksSettings,
    type TaskToAdd,
} from "./tasks/tasks.js";
