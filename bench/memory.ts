/**
 * Memory: 1,000,000 distinct chats through the concurrent sink and
 * `sequentialize`, each runner in a fresh process with `--expose-gc` (see
 * heap-probe.ts). Reports how far the heap stays above its baseline.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { RunnerName } from "./rig.js";

const execFileAsync = promisify(execFile);

/** Heap figures of one probe run, in bytes. */
export interface HeapResult {
    baseline: number;
    peak: number;
    after: number;
}

/** Runs the heap probe for the named runner over `count` chats. */
export async function heapAfterChats(name: RunnerName, count = 1_000_000): Promise<HeapResult> {
    const probe = new URL("./heap-probe.ts", import.meta.url).pathname;
    const { stdout } = await execFileAsync(process.execPath, ["--expose-gc", "--import", "tsx", probe, String(count), name]);
    return JSON.parse(stdout.trim()) as HeapResult;
}
