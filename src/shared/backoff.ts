/** The longest a retry waits unless its caller says otherwise: a minute. */
export const LONGEST_RETRY_MS = 60_000;

/**
 * How waits between retries grow: `"exponential"` doubles from `firstMs`,
 * `"quadratic"` adds 100 ms each time (the reference runner's names for
 * them), a number waits that long every time.
 */
export type RetryGrowth = "exponential" | "quadratic" | number;

/** How a wait is randomised, and how long it may get. */
export interface BackoffOptions {
    /**
     * `"spread"`: ±50% around the wait; `"full"`: anywhere from 0 to the wait
     * (AWS's "full jitter", which spreads a crowd of retries the most). Either
     * way many retries that failed together do not come back together.
     * @default none
     */
    jitter?: "spread" | "full";
    /** Source of randomness in [0, 1). @default Math.random */
    random?: () => number;
    /** The cap before jitter. @default LONGEST_RETRY_MS */
    maxMs?: number;
}

/** Milliseconds to wait before retry number `attempt` (1 for the first). */
export function backoffMs(attempt: number, growth: RetryGrowth, firstMs: number, options: BackoffOptions = {}): number {
    const steps = Math.max(0, attempt - 1);
    const base = growth === "exponential" ? firstMs * 2 ** Math.min(steps, 30) : growth === "quadratic" ? firstMs + 100 * steps : growth;
    const capped = Math.min(base, options.maxMs ?? LONGEST_RETRY_MS);
    const random = options.random ?? Math.random;
    if (options.jitter === "full") return capped * random();
    return options.jitter === "spread" ? capped * (0.5 + random()) : capped;
}
