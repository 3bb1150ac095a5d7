/** The q-quantile (0..1) of some numbers, nearest-rank; 0 for none. */
export function percentile(values: readonly number[], q: number): number {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
    return percentile(values, 0.5);
}
