import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createBatchSink, createConcurrentSink, createSequentialSink } from "../src/index.js";

interface FakeUpdate {
    update_id: number;
    message: { chat: { id: number }; from: { id: number } };
}

function update(id: number, chat: number, user = chat): FakeUpdate {
    return { update_id: id, message: { chat: { id: chat }, from: { id: user } } };
}

/** Deterministic pseudo-random numbers, so a failing run can be replayed. */
function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state * 1664525 + 1013904223) >>> 0;
        return state / 2 ** 32;
    };
}

const noErrors = async (error: unknown) => {
    throw error;
};

describe("concurrent sink", () => {
    it("keeps per-chat and per-user order under randomized load with failing handlers", async () => {
        const rand = random(42);
        const chats = 200;
        const updates: FakeUpdate[] = [];
        for (let id = 1; id <= 5000; id++) {
            const chat = Math.floor(rand() * chats) - 100; // groups (negative) and private chats
            const user = chat > 0 ? chat : 1 + Math.floor(rand() * 50);
            updates.push(update(id, chat, user));
        }
        const running = new Map<string, number>();
        const lastSeen = new Map<string, number>();
        const violations: string[] = [];
        let errors = 0;
        let maxRunning = 0;
        let active = 0;
        const sink = createConcurrentSink<FakeUpdate>(
            {
                consume: async (u) => {
                    const keys = [...new Set([`c${u.message.chat.id}`, `u${u.message.from.id}`])];
                    for (const key of keys) {
                        if ((running.get(key) ?? 0) > 0) violations.push(`${key} concurrent at ${u.update_id}`);
                        if ((lastSeen.get(key) ?? 0) > u.update_id) violations.push(`${key} out of order at ${u.update_id}`);
                        running.set(key, (running.get(key) ?? 0) + 1);
                        lastSeen.set(key, u.update_id);
                    }
                    active++;
                    maxRunning = Math.max(maxRunning, active);
                    await delay(Math.floor(rand() * 3));
                    active--;
                    for (const key of keys) running.set(key, running.get(key)! - 1);
                    if (u.update_id % 7 === 0) throw new Error(`boom ${u.update_id}`);
                },
            },
            async () => {
                errors++;
            },
            { concurrency: 20 },
        );
        for (let i = 0; i < updates.length; i += 100) {
            await sink.handle(updates.slice(i, i + 100));
        }
        await sink.drain!(30_000);
        assert.deepEqual(violations, []);
        assert.equal(errors, Math.floor(5000 / 7));
        assert.ok(maxRunning <= 20, `at most 20 handlers at once, saw ${maxRunning}`);
        assert.ok(maxRunning > 1, "different chats run concurrently");
        assert.equal(sink.size(), 0);
    });

    it("does not let one flooding chat take the slots of the others", async () => {
        const started: number[] = [];
        const sink = createConcurrentSink<FakeUpdate>(
            {
                consume: async (u) => {
                    started.push(u.update_id);
                    await delay(5);
                },
            },
            noErrors,
            { concurrency: 4 },
        );
        const flood = Array.from({ length: 200 }, (_, i) => update(i + 1, 1));
        const quiet = Array.from({ length: 3 }, (_, i) => update(1000 + i, 100 + i));
        await sink.handle([...flood, ...quiet]);
        await delay(30);
        for (const u of quiet) assert.ok(started.includes(u.update_id), `quiet update ${u.update_id} started`);
        assert.ok(started.filter((id) => id < 1000).length < 10, "the flood runs one at a time");
        await sink.drain!(10);
    });

    it("counts only running handlers, buffers the rest up to maxWaiting and then pushes back", async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const sink = createConcurrentSink<FakeUpdate>({ consume: () => gate }, noErrors, {
            concurrency: 2,
            maxWaiting: 10,
        });
        const capacity = await sink.handle([update(1, 1), update(2, 1), update(3, 2)]);
        assert.equal(capacity, 12 - 3);
        let resolved = false;
        const full = sink.handle(Array.from({ length: 9 }, (_, i) => update(10 + i, 1))).then((n) => {
            resolved = true;
            return n;
        });
        await delay(10);
        assert.equal(resolved, false, "a full sink does not ask for more");
        assert.equal(sink.size(), 12);
        release();
        assert.ok((await full) > 0);
        await sink.drain!(1000);
        assert.equal(sink.size(), 0);
    });

    it("releases the slot and the lanes of a handler that times out, and tells the timeout handler", async () => {
        const order: number[] = [];
        const timedOut: { id: number; keys: readonly string[]; ms: number }[] = [];
        const sink = createConcurrentSink<FakeUpdate>(
            {
                consume: async (u) => {
                    order.push(u.update_id);
                    if (u.update_id === 1) await new Promise(() => {}); // hangs forever
                },
            },
            noErrors,
            {
                concurrency: 1,
                timeout: {
                    milliseconds: 50,
                    handler: (u, task, info) => {
                        assert.ok(task instanceof Promise);
                        timedOut.push({ id: u.update_id, keys: info.keys, ms: info.milliseconds });
                    },
                },
            },
        );
        await sink.handle([update(1, 5), update(2, 5), update(3, 6)]);
        await delay(150);
        assert.deepEqual(order, [1, 2, 3]);
        assert.deepEqual(timedOut, [{ id: 1, keys: ["5"], ms: 50 }]);
        assert.equal(sink.size(), 0);
    });

    it("snapshot lists unfinished updates in arrival order", async () => {
        const sink = createConcurrentSink<FakeUpdate>({ consume: () => new Promise(() => {}) }, noErrors, {
            concurrency: 1,
        });
        await sink.handle([update(1, 1), update(2, 2), update(3, 1)]);
        assert.deepEqual(
            sink.snapshot().map((u) => u.update_id),
            [1, 2, 3],
        );
        assert.equal(sink.size(), 3);
        await sink.drain!(10);
    });

    it("runs updates without a chat or user unconstrained, and lanes can be turned off", async () => {
        let active = 0;
        let peak = 0;
        const consume = async () => {
            peak = Math.max(peak, ++active);
            await delay(5);
            active--;
        };
        const sink = createConcurrentSink<FakeUpdate>({ consume }, noErrors, { constraint: false });
        await sink.handle([update(1, 1), update(2, 1), update(3, 1)]);
        await sink.drain!(1000);
        assert.equal(peak, 3);
    });

    it("rejects nonsense options with a typed error", () => {
        assert.throws(() => createConcurrentSink({ consume: async () => {} }, noErrors, { concurrency: 0 }), {
            code: "INVALID_OPTION",
            message: /sink\.concurrency/,
        });
    });
});

describe("sequential and batch sinks", () => {
    it("sequential sink handles one update at a time, in order", async () => {
        const log: string[] = [];
        const sink = createSequentialSink<FakeUpdate>(
            {
                consume: async (u) => {
                    log.push(`start ${u.update_id}`);
                    await delay(2);
                    log.push(`end ${u.update_id}`);
                },
            },
            noErrors,
        );
        assert.equal(await sink.handle([update(1, 1), update(2, 2), update(3, 3)]), Infinity);
        assert.deepEqual(log, ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
    });

    it("batch sink runs a batch concurrently and resolves when all of it is done", async () => {
        let active = 0;
        let peak = 0;
        const sink = createBatchSink<FakeUpdate>(
            {
                consume: async () => {
                    peak = Math.max(peak, ++active);
                    await delay(5);
                    active--;
                },
            },
            noErrors,
        );
        await sink.handle([update(1, 1), update(2, 1), update(3, 1)]);
        assert.equal(active, 0);
        assert.equal(peak, 3);
    });
});
