import type { Api } from "grammy";
import { fraction, milliseconds } from "../shared/options.js";
import { sleep } from "../shared/timing.js";

/**
 * The signal a supplier is given: Node's `AbortSignal`, typed so that it also
 * fits grammY's API methods and suppliers written for `@grammyjs/runner`, both
 * of which type it with grammY's `abort-controller` polyfill.
 */
export type SupplierSignal = AbortSignal & NonNullable<Parameters<Api["getUpdates"]>[1]>;

/**
 * An update supplier fetches the next batch of at most `batchSize` updates.
 * `run(bot)` builds one around `getUpdates`; build your own to poll another
 * source, such as a message queue. It must cancel its request when `signal`
 * aborts.
 */
export interface UpdateSupplier<Y> {
    /** Fetches the next batch; cancels when `signal` aborts. */
    supply: (batchSize: number, signal: SupplierSignal) => Promise<Y[]>;
}

/**
 * An update source turns a supplier into an async generator of batches that
 * the runner iterates. The runner sets the generator's pace to what its sink
 * can take, and the source never asks for more. Closing the source aborts the
 * request in flight; iterating `generator()` again reopens it.
 */
export interface UpdateSource<Y> {
    /** The source's async generator of update batches. */
    generator(): AsyncGenerator<Y[]>;
    /** Limits how many updates the next batches may hold (a positive integer). */
    setGeneratorPace(pace: number): void;
    /** Whether the source is currently pulling updates. */
    isActive(): boolean;
    /** Interrupts the request in flight and ends the generator. */
    close(): void;
}

/** Trade-off between latency and the number of `getUpdates` calls. */
export interface SourceOptions {
    /**
     * From `0.0` (fetch again at once, lowest latency) to `1.0` (wait between
     * calls so that batches fill up, fewest requests). At `0.0` the next
     * request is sent while the current batch is being handed to the sink.
     * @default 0
     */
    speedTrafficBalance?: number;
    /**
     * Upper bound for the pause between two `getUpdates` calls when
     * `speedTrafficBalance` is above zero, in milliseconds.
     * @default 500
     */
    maxDelayMilliseconds?: number;
}

/** A full batch from Telegram: no reason to pause before the next call. */
const FULL_BATCH = 100;

/**
 * Creates an update source from a supplier. Calls to the supplier are strictly
 * sequential (Telegram allows one `getUpdates` per token at a time), but the
 * next one starts as soon as a batch is received, before the runner has handed
 * it to the sink, so fetching overlaps handling.
 */
export function createSource<Y>(supplier: UpdateSupplier<Y>, options: SourceOptions = {}): UpdateSource<Y> {
    const pauseAfter = createPacer(options);
    let active = false;
    let pace = Infinity;
    let controller = new AbortController();
    let generator = iterate();

    async function* iterate(): AsyncGenerator<Y[]> {
        active = true;
        const own = new AbortController();
        controller = own;
        const signal = own.signal as SupplierSignal;
        let prefetch: Promise<Y[]> | undefined;
        try {
            while (active) {
                const startedAt = Date.now();
                const batch = await (prefetch ?? supplier.supply(pace, signal));
                prefetch = undefined;
                const pauseMs = pauseAfter(batch.length, Date.now() - startedAt);
                const room = pace - batch.length;
                if (active && pauseMs === 0 && room > 0) {
                    prefetch = supplier.supply(room, signal);
                    prefetch.catch(() => {}); // observed when awaited; never an unhandled rejection
                }
                yield batch;
                if (pauseMs > 0 && batch.length < FULL_BATCH) await sleep(pauseMs, signal);
            }
        } catch (error) {
            if (!signal.aborted) throw error;
        } finally {
            if (prefetch !== undefined) own.abort(); // the runner left early: cancel the request it will not read
        }
    }

    return {
        generator: () => generator,
        setGeneratorPace: (newPace) => {
            pace = newPace;
        },
        isActive: () => active,
        close: () => {
            active = false;
            controller.abort();
            generator = iterate();
            pace = Infinity;
        },
    };
}

/** Recent (batch size, duration) pairs considered when pacing. */
const PACING_WINDOW = 16;

/**
 * Returns a function that records each call's batch size and duration and
 * answers how long to pause before the next call. With a balance of zero it
 * always answers zero and keeps no statistics.
 */
function createPacer(options: SourceOptions): (count: number, durationMs: number) => number {
    const maxDelay = milliseconds("source.maxDelayMilliseconds", options.maxDelayMilliseconds, 500, { positive: true });
    const balance = fraction("source.speedTrafficBalance", options.speedTrafficBalance, 0);
    if (balance === 0) return () => 0;
    const wantedPerMs = (FULL_BATCH * balance) / maxDelay;
    const counts = new Array<number>(PACING_WINDOW).fill(FULL_BATCH);
    const durations = new Array<number>(PACING_WINDOW).fill(1);
    let countSum = FULL_BATCH * PACING_WINDOW;
    let durationSum = PACING_WINDOW;
    let index = 0;
    return (count, durationMs) => {
        countSum += count - counts[index]!;
        durationSum += durationMs - durations[index]!;
        counts[index] = count;
        durations[index] = durationMs;
        index = (index + 1) % PACING_WINDOW;
        // Fewer updates per millisecond of waiting → longer pause, smoothly capped at maxDelay.
        return maxDelay * Math.tanh((wantedPerMs * durationSum) / Math.max(countSum, 1));
    };
}
