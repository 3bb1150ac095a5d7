import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createRunner, createSource, createUpdateFetcher, type UpdateSink } from "../src/index.js";
import { startRig } from "./helpers/bots.js";

/** A supplier that hands out consecutive numbers and records how it was called. */
function countingSupplier(latencyMs = 2) {
    let next = 1;
    let open = 0;
    const calls: { batchSize: number; openAtOnce: number }[] = [];
    return {
        calls,
        supply: async (batchSize: number, signal: AbortSignal) => {
            open++;
            calls.push({ batchSize, openAtOnce: open });
            try {
                await delay(latencyMs, undefined, { signal });
                const size = Math.min(batchSize, 100);
                return Array.from({ length: size }, () => next++);
            } finally {
                open--;
            }
        },
    };
}

describe("source", () => {
    it("never has two requests open, and asks for the next batch before the previous is consumed", async () => {
        const supplier = countingSupplier();
        const source = createSource(supplier);
        const received: number[] = [];
        for await (const batch of source.generator()) {
            received.push(...batch);
            if (received.length === 300) {
                // the next request is already in flight while this batch is being consumed
                assert.equal(supplier.calls.length, 4);
                break;
            }
        }
        assert.ok(supplier.calls.every((call) => call.openAtOnce === 1));
        assert.deepEqual(
            received,
            Array.from({ length: 300 }, (_, i) => i + 1),
        );
    });

    it("respects the pace the runner sets", async () => {
        const supplier = countingSupplier();
        const source = createSource(supplier);
        let batches = 0;
        for await (const batch of source.generator()) {
            source.setGeneratorPace(5);
            if (++batches === 3) {
                assert.ok(batch.length <= 5);
                break;
            }
        }
        assert.ok(supplier.calls.slice(2).every((call) => call.batchSize <= 5));
    });

    it("close() aborts the open request and ends the generator; iterating again reopens it", async () => {
        const supplier = countingSupplier(10_000);
        const source = createSource(supplier);
        const iterating = (async () => {
            for await (const _ of source.generator()) assert.fail("no batch expected");
        })();
        await delay(10);
        assert.equal(source.isActive(), true);
        source.close();
        await iterating;
        assert.equal(source.isActive(), false);
        const reopened = countingSupplier();
        const again = createSource(reopened);
        const first = await again.generator().next();
        assert.equal((first.value as number[]).length, 100);
    });

    it("with speedTrafficBalance pauses between small batches instead of prefetching", async () => {
        const supplier = countingSupplier(1);
        let handedOut = 0;
        const small = {
            supply: async (size: number, signal: AbortSignal) => {
                const batch = await supplier.supply(Math.min(size, 2), signal);
                handedOut += batch.length;
                return batch;
            },
        };
        const source = createSource(small, { speedTrafficBalance: 1, maxDelayMilliseconds: 50 });
        const started = Date.now();
        let batches = 0;
        for await (const _ of source.generator()) if (++batches === 20) break;
        // Once its window of 16 calls has seen only tiny batches, the source waits ~40 ms between calls.
        assert.ok(Date.now() - started >= 100, `paused between calls (${Date.now() - started} ms)`);
        assert.equal(handedOut, 40, "no request was sent ahead");
    });
});

describe("createRunner", () => {
    it("connects any source to any sink and stops even while the sink withholds capacity", async () => {
        const supplier = countingSupplier();
        const got: number[] = [];
        const stuckSink: UpdateSink<number> = {
            handle: async (batch) => {
                got.push(...batch);
                return new Promise<number>(() => {}); // never has room again
            },
            size: () => 0,
            snapshot: () => [],
        };
        const handle = createRunner(createSource(supplier), stuckSink);
        handle.start();
        await delay(20);
        assert.equal(handle.isRunning(), true);
        await handle.stop();
        assert.equal(handle.isRunning(), false);
        assert.deepEqual(
            got,
            Array.from({ length: 100 }, (_, i) => i + 1),
        );
    });
});

describe("createUpdateFetcher", () => {
    it("confirm tries again once when its connection drops (a kept-alive socket the server closed as it was reused)", async () => {
        const rig = await startRig();
        try {
            rig.sim.pushMessages(
                rig.token,
                [1, 2, 3].map((chatId) => ({ chatId, text: "hi" })),
            );
            const fetchUpdates = createUpdateFetcher(rig.bot(), { silent: true });
            assert.equal((await fetchUpdates(100, new AbortController().signal)).length, 3);
            rig.sim.failNext("getUpdates", { drop: true });
            await fetchUpdates.confirm(fetchUpdates.offset);
            assert.equal(rig.sim.confirmedOffset(rig.token), 4);
            assert.equal(rig.sim.stats(rig.token).getUpdatesCalls, 2, "the dropped call never reached getUpdates");
        } finally {
            await rig.close();
        }
    });
});
