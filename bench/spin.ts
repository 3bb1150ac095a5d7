/**
 * A fixed amount of CPU work, the same in every thread: the distribute
 * benchmark's handler. A loop on the wall clock (`while (now() < until)`)
 * would take less CPU from a thread the OS preempts, so on a busy machine the
 * setups would not do the same work.
 */
let sink = 0;

/** Runs `iterations` rounds of an xorshift generator. */
export function spin(iterations: number): number {
    let x = (sink | 1) >>> 0;
    for (let i = 0; i < iterations; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
    }
    sink = x;
    return x;
}

/** How many iterations of `spin` take `ms` on this thread, at its best of several tries. */
export function calibrate(ms: number): number {
    let best = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
        const iterations = 200_000;
        const started = performance.now();
        spin(iterations);
        best = Math.max(best, iterations / (performance.now() - started));
    }
    return Math.round(best * ms);
}
