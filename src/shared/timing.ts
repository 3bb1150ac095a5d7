/**
 * The longest delay `setTimeout` takes (2^31 - 1 ms, about 24.8 days). A
 * longer one fires after 1 ms, with a warning: a timer for something further
 * away waits this long and looks again.
 */
export const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves after `ms` milliseconds, or as soon as `signal` aborts (it never
 * rejects: callers check `signal.aborted` themselves). The timer is cleared
 * on abort so nothing outlives a stopped component.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
    });
}

/**
 * Waits for `promise` at most `ms` milliseconds. Resolves `true` if it
 * settled in time, `false` if the deadline came first; the timer is cleared
 * either way.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
    const settled = promise.then(
        () => true,
        () => true,
    );
    return (await valueWithin(settled, ms)) ?? false;
}

/**
 * How long a read for a report (a status page, a scrape, the dashboard) waits
 * for Redis before it shows the figure as unknown: a report must answer
 * during an outage too, when it matters most, and ioredis holds commands
 * until it reconnects.
 */
const REPORT_READ_MS = 1_000;

/**
 * What `read` answers, for a report: `null` if the answer does not come
 * within `REPORT_READ_MS` (or fails). Reads from Redis wait for it to come
 * back during an outage; a status page or a scrape must answer then too.
 */
export async function reportedBy<T>(read: () => T | Promise<T>): Promise<T | null> {
    return (await valueWithin(Promise.resolve().then(read), REPORT_READ_MS)) ?? null;
}

/**
 * `promise`'s value if it comes within `ms` milliseconds; `undefined` if it
 * comes later or fails. For reads that report on something (a status page, a
 * scrape), which must answer even while what they read from does not.
 */
export async function valueWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    const value = promise.catch(() => undefined);
    // No deadline: a timer for Infinity would fire at once (Node clamps it to 1 ms, with a warning).
    if (ms === Infinity) return value;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
        return await Promise.race([value, deadline]);
    } finally {
        clearTimeout(timer);
    }
}
