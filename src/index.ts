/**
 * sluice: fast, ordered and crash-safe long polling for grammY bots.
 * A drop-in for `@grammyjs/runner`: same names, same options, same handle.
 */
export { run, type RunHandle, type RunOptions } from "./run/run.js";
export { Journal, type JournalOptions, type QuarantinedUpdate } from "./journal/journal.js";
export { Store, openStore } from "./store/store.js";
export { DeadLetterError, Outbox, createOutbox, type OutboundMessage, type OutboxOptions } from "./outbox/outbox.js";
export type { OutboxLimits } from "./outbox/limiter.js";
export type { Enqueued, MessageState, MessageStatus, Priority } from "./outbox/queue.js";
export { createRunner, type RunnerHandle, type RunnerLifecycleOptions } from "./runner/runner.js";
export {
    createUpdateFetcher,
    type BotAdapter,
    type FetchOptions,
    type RunnerOptions,
    type UpdateFetcher,
} from "./runner/fetcher.js";
export { createSource, type SourceOptions, type UpdateSource, type UpdateSupplier } from "./runner/source.js";
export {
    createBatchSink,
    createConcurrentSink,
    createSequentialSink,
    type SinkOptions,
    type UpdateConsumer,
    type UpdateSink,
} from "./runner/sink.js";
export type { TimeoutHandler, TimeoutInfo } from "./runner/lanes.js";
export { sequentialize } from "./runner/sequentialize.js";
export { chatAndUserOfUpdate, chatIdOfUpdate, type Constraint } from "./runner/constraint.js";
export {
    ConflictError,
    InvalidOptionError,
    SluiceError,
    StoreError,
    UnauthorizedError,
    type ConflictReason,
    type StoreProblem,
} from "./shared/errors.js";
export { createLogger, type Logger } from "./shared/logger.js";
