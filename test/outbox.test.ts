import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createOutbox, DeadLetterError, InvalidOptionError, type Outbox, openStore, StoreError } from "../src/index.js";
import { sqliteOf } from "../src/store/store.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("outbox");
let rig: TestRig | undefined;
let outbox: Outbox | undefined;
afterEach(async () => {
    await outbox?.close();
    outbox = undefined;
    await rig?.close();
    rig = undefined;
});

const text = (chat_id: number, t: string) => ({ method: "sendMessage", payload: { chat_id, text: t } });
const sentTexts = () => rig!.sim.sent(rig!.token).map((call) => `${call.payload.chat_id}:${call.payload.text}`);

describe("outbox", () => {
    it("delivers everything in per-chat order within the limits, with no 429", async () => {
        const limits = { globalPerSecond: 20, privatePerSecond: 5, groupPerMinute: 60 };
        rig = await startRig({ limits });
        // 10% under the simulator's windows: a test run competes for the CPU, and a late request can
        // reach the server right behind an early one (the benchmark measures the real margin).
        outbox = createOutbox({
            api: rig.bot().api,
            globalPerSecond: 18,
            privatePerSecond: 4.5,
            groupPerMinute: 54,
        });
        const ids = [];
        for (let n = 0; n < 8; n++) for (const chat of [1, 2, 3, -100, -200]) ids.push(outbox.enqueue(text(chat, String(n))).id);
        const results = await Promise.all(ids.map((id) => outbox!.sent(id)));
        assert.equal(results.length, 40);
        assert.equal((results[0] as { text: string }).text, "0", "resolves with Telegram's message");
        assert.equal(rig.sim.stats(rig.token).floodRejections, 0);
        for (const chat of [1, 2, 3, -100, -200]) {
            const order = sentTexts().filter((t) => t.startsWith(`${chat}:`));
            assert.deepEqual(
                order,
                Array.from({ length: 8 }, (_, n) => `${chat}:${n}`),
            );
        }
    });

    it("waits out 429 retry_after and keeps the chat's order", async () => {
        rig = await startRig({ limits: { privatePerSecond: 2 } });
        outbox = createOutbox({ api: rig.bot().api, privatePerSecond: 100, globalPerSecond: 100 });
        const ids = Array.from({ length: 5 }, (_, n) => outbox!.enqueue(text(7, String(n))).id);
        await Promise.all(ids.map((id) => outbox!.sent(id)));
        assert.ok(rig.sim.stats(rig.token).floodRejections > 0, "the simulator did push back");
        assert.deepEqual(sentTexts(), ["7:0", "7:1", "7:2", "7:3", "7:4"]);
    });

    it("moves 400/403 answers to the dead letters with their class; requeue and purge", async () => {
        rig = await startRig();
        rig.sim.blockChat(rig.token, 5);
        outbox = createOutbox({ api: rig.bot().api });
        const { id } = outbox.enqueue(text(5, "hello"));
        await assert.rejects(outbox.sent(id), (error: unknown) => {
            assert.ok(error instanceof DeadLetterError);
            assert.equal(error.errorClass, "blocked_by_user");
            return true;
        });
        assert.deepEqual(
            outbox.deadLetters().map((d) => [d.id, d.error?.errorClass]),
            [[id, "blocked_by_user"]],
        );
        rig.sim.setChatState(rig.token, 5, "active");
        assert.equal(outbox.requeue(id), true);
        await outbox.sent(id);
        assert.equal(outbox.status(id)?.state, "sent");
        const other = outbox.enqueue({ method: "sendMessage", payload: { chat_id: 6, text: "x".repeat(5000) } }).id;
        rig.sim.blockChat(rig.token, 6);
        await assert.rejects(outbox.sent(other));
        assert.equal(outbox.purgeDeadLetters(), 1);
        assert.deepEqual(outbox.deadLetters(), []);
    });

    it("retries network errors and 5xx with backoff, then gives up after maxRetries", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, maxRetries: 2 });
        rig.sim.failNext("sendMessage", { status: 502, count: 1 });
        rig.sim.failNext("sendMessage", { drop: true, count: 1 });
        const { id } = outbox.enqueue(text(1, "eventually"));
        await outbox.sent(id);
        assert.equal(outbox.status(id)?.attempts, 3);
        rig.sim.failNext("sendMessage", { status: 500, count: 3 });
        const doomed = outbox.enqueue(text(1, "never")).id;
        await assert.rejects(outbox.sent(doomed), { code: "DEAD_LETTER", errorClass: "retries_exhausted" });
    });

    it("serves priorities 5:3:1 without starving low", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api, globalPerSecond: 50, privatePerSecond: 50, maxInFlight: 1 });
        const ids: number[] = [];
        for (let chat = 1; chat <= 20; chat++) ids.push(outbox.enqueue({ ...text(chat, "low"), priority: "low" }).id);
        for (let chat = 101; chat <= 120; chat++) ids.push(outbox.enqueue({ ...text(chat, "high"), priority: "high" }).id);
        await Promise.all(ids.map((id) => outbox!.sent(id)));
        const firstTwelve = sentTexts().slice(0, 12);
        const high = firstTwelve.filter((t) => t.endsWith("high")).length;
        assert.ok(high >= 9, `high first: ${firstTwelve.join(" ")}`);
        assert.ok(
            firstTwelve.some((t) => t.endsWith("low")),
            "low is not starved",
        );
    });

    it("sends scheduled messages not before their time, and idempotency keys send once", async () => {
        rig = await startRig();
        outbox = createOutbox({ api: rig.bot().api });
        const at = new Date(Date.now() + 300);
        const first = outbox.enqueue({ ...text(1, "later"), notBefore: at, idempotencyKey: "order:1" });
        const again = outbox.enqueue({ ...text(1, "later"), notBefore: at, idempotencyKey: "order:1" });
        assert.equal(again.id, first.id);
        assert.equal(again.duplicate, true);
        await outbox.sent(first.id);
        assert.ok(Date.now() >= at.getTime());
        assert.deepEqual(sentTexts(), ["1:later"]);
    });

    it("close() without a deadline waits for the sends in flight instead of cancelling them", async () => {
        rig = await startRig({ faults: { latencyMs: 300, methods: ["sendMessage"] } });
        const path = join(dir, "close-waits.db");
        const closing = createOutbox({ store: path, api: rig.bot().api });
        const { id } = closing.enqueue(text(1, "in flight at close"));
        await until(() => rig!.sim.calls(rig!.token).some((call) => call.method === "sendMessage"), 5_000, "the send to leave");
        await closing.close();
        outbox = createOutbox({ store: path, api: rig.bot().api });
        assert.equal(outbox.status(id)?.state, "sent", "it was marked sent before close() resolved");
    });

    it("keeps queued messages across a restart on the same store", async () => {
        rig = await startRig();
        const path = join(dir, "restart.db");
        const early = createOutbox({ store: path, api: rig.bot().api });
        const { id } = early.enqueue({ ...text(1, "after restart"), notBefore: new Date(Date.now() + 200) });
        const cancelled = early.enqueue({ ...text(2, "cancelled"), notBefore: new Date(Date.now() + 200) }).id;
        assert.equal(early.cancel(cancelled), true);
        await early.close();
        outbox = createOutbox({ store: path, api: rig.bot().api });
        assert.deepEqual(await outbox.sent(id), rig.sim.sent(rig.token)[0]?.result);
        await delay(300);
        assert.deepEqual(sentTexts(), ["1:after restart"]);
        assert.equal(outbox.status(cancelled)?.state, "cancelled");
    });

    it("stores a burst of grouped enqueues in one transaction, in call order, each key once", async () => {
        rig = await startRig();
        const store = openStore(join(dir, "grouped.db"));
        let transactions = 0;
        const transaction = store.transaction.bind(store);
        store.transaction = (work, options) => {
            transactions++;
            return transaction(work, options);
        };
        outbox = createOutbox({ store, api: rig.bot().api, globalPerSecond: 1000, privatePerSecond: 1000 });
        transactions = 0; // taking the owner lock was one
        const chatOf = (n: number) => 1 + (n % 4);
        const calls = Array.from({ length: 200 }, (_, n) =>
            outbox!.enqueueGrouped({ ...text(chatOf(n), String(n)), idempotencyKey: `k:${n % 150}` }),
        );
        assert.equal(transactions, 0, "nothing is written before the turn ends");
        const queued = await Promise.all(calls);
        assert.equal(transactions, 1);
        assert.deepEqual(
            queued.map((q) => q.duplicate),
            Array.from({ length: 200 }, (_, n) => n >= 150),
        );
        const ids = queued.map((q) => q.id);
        assert.deepEqual(ids.slice(150), ids.slice(0, 50), "a repeated key answers with the first id");
        await Promise.all(queued.map((q) => outbox!.sent(q.id)));
        for (const chat of [1, 2, 3, 4]) {
            const order = sentTexts().filter((t) => t.startsWith(`${chat}:`));
            const expected = Array.from({ length: 150 }, (_, n) => n).filter((n) => chatOf(n) === chat);
            assert.deepEqual(
                order,
                expected.map((n) => `${chat}:${n}`),
            );
        }
        await outbox.close();
        outbox = undefined;
        store.close();
    });

    it("prunes sent and cancelled messages after keepSentMs, keeping dead letters and the queue", async () => {
        rig = await startRig();
        rig.sim.blockChat(rig.token, 9);
        let shift = 0; // how far the outbox's clock is ahead of the real one
        const clock = () => Date.now() + shift;
        const now = clock();
        outbox = createOutbox({ store: join(dir, "prune.db"), api: rig.bot().api, keepSentMs: 60_000, clock });
        const sent = outbox.enqueue(text(1, "sent")).id;
        const dead = outbox.enqueue(text(9, "dead")).id;
        const cancelled = outbox.enqueue({ ...text(2, "cancelled"), notBefore: new Date(now + 3_600_000) }).id;
        const later = outbox.enqueue({ ...text(3, "later"), notBefore: new Date(now + 3_600_000) }).id;
        await outbox.sent(sent);
        await assert.rejects(outbox.sent(dead));
        assert.ok(outbox.cancel(cancelled));
        assert.equal(outbox.pruneSent(), 0, "nothing is old enough yet");
        shift = 60_001;
        assert.equal(outbox.pruneSent(), 2);
        assert.equal(outbox.status(sent), undefined);
        assert.equal(outbox.status(cancelled), undefined);
        assert.equal(outbox.status(dead)?.state, "dead");
        assert.equal(outbox.status(later)?.state, "queued");
    });

    it("refuses a negative keepSentMs before taking the store's lock", async () => {
        rig = await startRig();
        const store = openStore(join(dir, "bad-keep.db"));
        assert.throws(
            () => createOutbox({ store, api: rig!.bot().api, keepSentMs: -1 }),
            (error: unknown) => error instanceof InvalidOptionError && /keepSentMs/.test(error.message),
        );
        const owners = sqliteOf(store).prepare("SELECT count(*) AS n FROM owners WHERE role = 'outbox'").get() as { n: number };
        assert.equal(owners.n, 0, "no lock left behind for another process to trip over");
        store.close();
    });

    it("refuses a second process's dispatcher on the same store and bot", async () => {
        rig = await startRig({ limits: { privatePerSecond: 1 } });
        const path = join(dir, "two-processes.db");
        let queued = false;
        const env = { API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, STORE: path, COUNT: "50", CHATS: "1" };
        const child = spawnScript("test/helpers/broadcaster.ts", env, (line) => void (line === "q" && (queued = true)));
        await until(() => queued, 15_000, "the other process to hold the outbox");
        assert.throws(
            () => createOutbox({ store: path, api: rig!.bot().api }),
            (error: unknown) => error instanceof StoreError && error.code === "STORE_LOCKED" && /outbox/.test(error.message),
        );
        child.process.kill("SIGKILL");
        await child.exit;
        outbox = createOutbox({ store: path, api: rig.bot().api });
        assert.equal(outbox.status(50)?.state, "queued", "the killed process's queue is taken over");
    });
});
