import { milliseconds } from "../shared/options.js";
import { sleep } from "../shared/timing.js";
import type { UpdateSink } from "./sink.js";
import type { UpdateSource } from "./source.js";

/**
 * Controls a running bot: stop it, wait for it, see how busy it is.
 */
export interface RunnerHandle {
    /** Starts pulling updates (`run` has already called it for you). */
    start: () => void;
    /**
     * Stops the bot: aborts the open `getUpdates`, lets accepted updates
     * finish (up to the stop timeout), then runs the stop hooks (with `run`:
     * confirm the offset to Telegram). Always resolves, also when the sink is
     * full or a handler hangs; calling it again returns the same promise.
     */
    stop: () => Promise<void>;
    /** Number of accepted updates whose handling has not ended. */
    size: () => number;
    /**
     * A promise that settles when the runner has stopped completely: resolves
     * after `stop()`, rejects if fetching failed for good (for example
     * `UnauthorizedError`). `undefined` iff the runner is not running.
     */
    task: () => Promise<void> | undefined;
    /** Whether the runner is running; `false` as soon as `stop()` was called. */
    isRunning: () => boolean;
}

/** How `createRunner` stops. */
export interface RunnerLifecycleOptions {
    /**
     * How long `stop()` lets accepted updates finish before it gives up on
     * them, in milliseconds.
     * @default 10000
     */
    stopTimeoutMs?: number;
    /**
     * Runs once the loop has ended and the sink drained, before the runner's
     * task settles: `requested` after `stop()`, otherwise `error` says why
     * fetching failed. `deadline` (a `performance.now()` time) is when the
     * stop's time runs out: what the hook waits for should be cut off then.
     */
    afterStop?: (how: { requested: boolean; error?: unknown; deadline: number }) => Promise<void> | void;
}

const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** How long a stop waits for a batch that was already arriving. */
const LATE_BATCH_GRACE_MS = 1_000;

/**
 * Connects a source to a sink: pulls a batch, hands it to the sink, and sets
 * the source's pace to what the sink can take next.
 *
 * @param source Where updates come from
 * @param sink Where updates go
 * @param options Stop timeout and a hook that runs after stopping
 */
export function createRunner<Y>(source: UpdateSource<Y>, sink: UpdateSink<Y>, options: RunnerLifecycleOptions = {}): RunnerHandle {
    const stopTimeoutMs = milliseconds("stopTimeoutMs", options.stopTimeoutMs, DEFAULT_STOP_TIMEOUT_MS, { unbounded: true });
    let running = false;
    let task: Promise<void> | undefined;
    let stopped: Promise<void> | undefined;
    let requestStop: () => void = () => {};

    /** Moves batches from source to sink until the source ends or a stop is requested. */
    async function pump(stopRequested: Promise<undefined>): Promise<void> {
        const batches = source.generator();
        try {
            for (;;) {
                // Neither a slow fetch nor a full sink may delay a stop.
                const fetching = batches.next();
                fetching.catch(() => {}); // after a stop its abort error is of no interest
                const next = (await Promise.race([fetching, stopRequested])) ?? (await lateBatch(fetching));
                if (next === undefined || next.done === true) return;
                if (!running) {
                    void sink.handle(next.value); // arrived (and was journaled) as the stop came: drained below
                    return;
                }
                const capacity = await Promise.race([sink.handle(next.value), stopRequested]);
                if (capacity === undefined || !running) return;
                source.setGeneratorPace(capacity);
            }
        } finally {
            batches.return(undefined).catch(() => {});
        }
    }

    /**
     * A batch that was already on its way when the stop came (fetched, maybe
     * being written to the journal): waited for briefly, so it is handled in
     * the drain instead of left for the next start.
     */
    async function lateBatch(fetching: Promise<IteratorResult<Y[]>>): Promise<IteratorResult<Y[]> | undefined> {
        const giveUp = new AbortController();
        try {
            return await Promise.race([fetching.catch(() => undefined), sleep(LATE_BATCH_GRACE_MS, giveUp.signal).then(() => undefined)]);
        } finally {
            giveUp.abort();
        }
    }

    async function lifecycle(): Promise<void> {
        const stopRequested = new Promise<undefined>((resolve) => {
            requestStop = () => resolve(undefined);
        });
        let failure: { error: unknown } | undefined;
        try {
            await pump(stopRequested);
        } catch (error) {
            if (running) failure = { error };
        }
        const requested = !running;
        running = false;
        task = undefined;
        const deadline = performance.now() + stopTimeoutMs;
        await sink.drain?.(stopTimeoutMs);
        await options.afterStop?.(failure === undefined ? { requested, deadline } : { requested, error: failure.error, deadline });
        if (failure !== undefined) throw failure.error;
    }

    return {
        start: () => {
            if (running) return;
            running = true;
            stopped = undefined;
            task = lifecycle();
        },
        stop: () => {
            if (stopped !== undefined) return stopped;
            const current = task;
            running = false;
            task = undefined;
            requestStop();
            source.close();
            stopped = current === undefined ? Promise.resolve() : current.catch(() => {});
            return stopped;
        },
        size: () => sink.size(),
        task: () => task,
        isRunning: () => running && source.isActive(),
    };
}
