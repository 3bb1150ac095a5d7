/**
 * The bot pool: 1,000 polling bots in one process (see pool-probe.ts), each
 * flavour in a fresh process with `--expose-gc`, so that the resident memory
 * it reports is that of the bots alone.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** What one probe run measured. */
export interface PoolProbeResult {
    flavour: PoolFlavour;
    count: number;
    /** Milliseconds until every bot polled. */
    startMs: number;
    /** Resident memory added per polling bot, after GC, in bytes (the simulator runs in another process). */
    rssPerBot: number;
    /** Of which JavaScript heap. */
    heapPerBot: number;
    /** p99 of do() in ms, on running bots and on cold tokens, without and while another token's getMe hangs (pool only). */
    doP99: { running: { without: number; hanging: number }; cold: { without: number; hanging: number } };
    /** Milliseconds for `close()` (or stopping every runner). */
    closeMs: number;
}

/** `pool`: journal and outbox in one store; `pool-bare`: neither; `reference`: a grammY bot and @grammyjs/runner per token. */
export type PoolFlavour = "pool" | "pool-bare" | "reference";

/** Runs the pool probe with `count` bots. */
export async function poolProbe(flavour: PoolFlavour, count = 1_000): Promise<PoolProbeResult> {
    const probe = new URL("./pool-probe.ts", import.meta.url).pathname;
    const { stdout } = await execFileAsync(process.execPath, ["--expose-gc", "--import", "tsx", probe, String(count), flavour], {
        maxBuffer: 64 * 2 ** 20,
    });
    const line = stdout.trim().split("\n").at(-1)!;
    return JSON.parse(line) as PoolProbeResult;
}
