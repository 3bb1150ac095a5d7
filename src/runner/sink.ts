import { milliseconds, wholeNumber } from "../shared/options.js";
import { settlesWithin } from "../shared/timing.js";
import { chatAndUserOfUpdate } from "../shared/update-chat.js";
import type { Constraint } from "./constraint.js";
import { Lanes, type TimeoutHandler } from "./lanes.js";

/**
 * An update consumer processes one update; when you call `run(bot)` it is the
 * bot's `handleUpdate`. Plug in your own to send updates elsewhere, a message
 * queue for instance.
 */
export interface UpdateConsumer<Y> {
    /** Processes an update; the promise settles when processing is complete. */
    consume: (update: Y) => Promise<void>;
}

/**
 * A sink is where the runner puts the updates it fetched. `handle` accepts a
 * batch and resolves, as soon as it is positive, with the number of further
 * updates the sink is ready for; the runner fetches no more than that, which
 * is how a busy sink slows the source down (backpressure).
 */
export interface UpdateSink<Y> {
    /** Accepts a batch; resolves with how many more updates the sink can take, once that is positive. */
    handle: (updates: Y[]) => Promise<number>;
    /** Number of accepted updates whose handling has not ended (equals `snapshot().length`). */
    size: () => number;
    /** The accepted, unfinished updates in the order they were accepted. */
    snapshot: () => Y[];
    /**
     * How many of them are running (the rest wait for their chat or a slot).
     * Optional for custom sinks; sluice's sinks all have it.
     */
    running?: () => number;
    /**
     * Resolves once every accepted update has finished, or after `timeoutMs`;
     * from then on the sink starts nothing new (the rest stays in `snapshot`).
     * Optional for custom sinks; sluice's sinks all have it.
     */
    drain?: (timeoutMs: number) => Promise<void>;
}

/** Options shared by the three sinks. */
export interface SinkOptions<Y> {
    /**
     * How many handlers may run at once. Only running handlers count: an
     * update that waits for an earlier update of its chat holds no slot.
     * @default 500
     */
    concurrency?: number;
    /**
     * How many accepted updates may wait (for their chat, or for a slot)
     * before the sink stops asking the source for more. Large enough to read
     * past one chat's flood to the updates of everyone else; each waiting
     * update costs its parsed JSON in memory.
     * @default 10000
     */
    maxWaiting?: number;
    /**
     * Which updates must not run concurrently: updates sharing a key run one
     * after another in arrival order. Same shape as a `sequentialize`
     * constraint, applied to the raw update. `false` turns lanes off.
     * @default the update's chat id and user id
     */
    constraint?: Constraint<Y> | false;
    /** Per-update timeout, and what to do when it elapses. */
    timeout?: {
        /** Longest time one update may take, in milliseconds. */
        milliseconds: number;
        /**
         * Called, synchronously, with an update that ran too long and its
         * still-pending task. The update's slot and lanes are already
         * released when this runs: later updates of its chat proceed.
         */
        handler: TimeoutHandler<Y>;
    };
}

const DEFAULT_CONCURRENCY = 500;
const DEFAULT_MAX_WAITING = 10_000;

/**
 * Creates the sink `run(bot)` uses: updates of different chats run
 * concurrently (up to `concurrency`), updates of one chat (and of one user)
 * run in order, and a chat that floods the bot waits in its own lane instead
 * of taking everyone's slots.
 *
 * @param handler Update consumer
 * @param errorHandler Called with the error when the consumer rejects
 * @param options Concurrency, buffering, constraint and timeout
 */
export function createConcurrentSink<Y, R = unknown>(
    handler: UpdateConsumer<Y>,
    errorHandler: (error: R) => Promise<void>,
    options: SinkOptions<Y> = {},
): UpdateSink<Y> {
    const concurrency = wholeNumber("sink.concurrency", options.concurrency, DEFAULT_CONCURRENCY, { unbounded: true });
    const maxWaiting = wholeNumber("sink.maxWaiting", options.maxWaiting, DEFAULT_MAX_WAITING, { unbounded: true });
    const lanes = createLanes(handler, errorHandler, options, concurrency, constraintOf(options));
    const maxPending = concurrency + maxWaiting;
    return {
        handle: async (updates) => {
            for (const update of updates) lanes.push(update);
            await lanes.pendingAtMost(maxPending - 1);
            return maxPending - lanes.pending;
        },
        ...inspection(lanes),
    };
}

/**
 * Creates a sink that handles one update at a time, in order: the next starts
 * only after the previous one finished (or timed out). Predictable, good for
 * debugging, does not scale.
 */
export function createSequentialSink<Y, R = unknown>(
    handler: UpdateConsumer<Y>,
    errorHandler: (error: R) => Promise<void>,
    options: SinkOptions<Y> = {},
): UpdateSink<Y> {
    return sinkDoneBatchByBatch(createLanes(handler, errorHandler, options, 1, undefined));
}

/**
 * Creates a sink that handles each batch concurrently and the next batch only
 * once the whole previous batch is done. Mostly for bots ported from
 * frameworks that worked this way.
 */
export function createBatchSink<Y, R = unknown>(
    handler: UpdateConsumer<Y>,
    errorHandler: (error: R) => Promise<void>,
    options: SinkOptions<Y> = {},
): UpdateSink<Y> {
    return sinkDoneBatchByBatch(createLanes(handler, errorHandler, options, Infinity, undefined));
}

/** A sink whose `handle` resolves only when everything it accepted is done. */
function sinkDoneBatchByBatch<Y>(lanes: Lanes<Y>): UpdateSink<Y> {
    return {
        handle: async (updates) => {
            for (const update of updates) lanes.push(update);
            await lanes.pendingAtMost(0);
            return Infinity;
        },
        ...inspection(lanes),
    };
}

function inspection<Y>(lanes: Lanes<Y>): Pick<UpdateSink<Y>, "size" | "snapshot" | "running" | "drain"> {
    return {
        size: () => lanes.pending,
        running: () => lanes.runningCount,
        snapshot: () => lanes.snapshot(),
        drain: async (timeoutMs) => {
            await settlesWithin(lanes.pendingAtMost(0), timeoutMs);
            lanes.close();
        },
    };
}

function createLanes<Y, R>(
    handler: UpdateConsumer<Y>,
    errorHandler: (error: R) => Promise<void>,
    options: SinkOptions<Y>,
    concurrency: number,
    constraint: Constraint<Y> | undefined,
): Lanes<Y> {
    const timeoutMs = milliseconds("sink.timeout.milliseconds", options.timeout?.milliseconds, Infinity, {
        unbounded: true,
        positive: true,
    });
    return new Lanes<Y>({
        consume: handler.consume,
        onError: (error) => errorHandler(error as R),
        concurrency,
        constraint,
        timeoutMs,
        onTimeout: options.timeout?.handler ?? (() => {}),
    });
}

function constraintOf<Y>(options: SinkOptions<Y>): Constraint<Y> | undefined {
    if (options.constraint === false) return undefined;
    return options.constraint ?? chatAndUserOfUpdate;
}
