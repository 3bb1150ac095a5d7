/** The longest any retry waits, whatever the policy: a minute. */
export const LONGEST_RETRY_MS = 60_000;

/**
 * How waits between retries grow: `"exponential"` doubles from `firstMs`,
 * `"quadratic"` adds 100 ms each time (the reference runner's names for
 * them), a number waits that long every time. Capped at `LONGEST_RETRY_MS`.
 */
export type RetryGrowth = "exponential" | "quadratic" | number;

/**
 * Milliseconds to wait before retry number `attempt` (1 for the first).
 * With `jitter`, the wait is spread over ±50% so that many retries that
 * failed together do not all come back together.
 */
export function backoffMs(attempt: number, growth: RetryGrowth, firstMs: number, jitter?: () => number): number {
    const steps = Math.max(0, attempt - 1);
    const base = growth === "exponential" ? firstMs * 2 ** Math.min(steps, 30) : growth === "quadratic" ? firstMs + 100 * steps : growth;
    const capped = Math.min(base, LONGEST_RETRY_MS);
    return jitter === undefined ? capped : capped * (0.5 + jitter());
}
