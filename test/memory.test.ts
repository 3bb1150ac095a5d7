import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

it("a million distinct chats through the sink and sequentialize leave the heap at its baseline", async () => {
    const { stdout } = await run(process.execPath, ["--expose-gc", "--import", "tsx", "bench/heap-probe.ts", "1000000"], {
        timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim()) as { baseline: number; after: number; count: number };
    assert.equal(result.count, 1_000_000);
    const grown = result.after - result.baseline;
    assert.ok(grown < 2 * 1024 * 1024, `heap grew by ${grown} bytes after all chats were done`);
});
