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
    // No deadline: a timer for Infinity would fire at once (Node clamps it to 1 ms, with a warning).
    if (ms === Infinity)
        return promise.then(
            () => true,
            () => true,
        );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
    });
    try {
        return await Promise.race([
            promise.then(
                () => true,
                () => true,
            ),
            deadline,
        ]);
    } finally {
        clearTimeout(timer);
    }
}
