import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Journal, openStore } from "../src/index.js";
import { type TestRig, startRig, until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("crash");
let rig: TestRig | undefined;
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

/** What one run of the child bot did before it died or stopped. */
interface RunRecord {
    ready: boolean;
    started: { id: number; chat: number }[];
    ended: Set<number>;
    flushed: Set<number>;
}

function startJournaledBot(store: string, workMs: number, replies = false): { child: Child; record: RunRecord } {
    const record: RunRecord = { ready: false, started: [], ended: new Set(), flushed: new Set() };
    const child = spawnScript(
        "test/helpers/journaled-bot.ts",
        { API_ROOT: rig!.sim.apiRoot, BOT_TOKEN: rig!.token, STORE: store, WORK_MS: String(workMs), ...(replies ? { OUTBOX: "1" } : {}) },
        (line) => {
            const [kind, a, b] = line.split(" ");
            if (kind === "r") record.ready = true;
            else if (kind === "s") record.started.push({ id: Number(a), chat: Number(b) });
            else if (kind === "e") record.ended.add(Number(a));
            else if (kind === "f") for (const id of a!.split(",")) record.flushed.add(Number(id));
        },
    );
    return { child, record };
}

function openJournal(store: string) {
    const opened = openStore(store);
    const journal = Journal.open(opened, Number(rig!.token.split(":")[0]));
    return {
        journal,
        close: () => {
            journal.close();
            opened.close();
        },
    };
}

describe("journal under real crashes", () => {
    it("loses nothing over 20+ SIGKILLs across 10,000 updates in 200 chats, repeats only unfinished ones, keeps per-chat order", async () => {
        rig = await startRig();
        const store = join(dir, "kills.db");
        const TOTAL = 10_000;
        const PHASES = 20;
        const runs: RunRecord[] = [];
        let pushed = 0;
        let seed = 12345;
        const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        for (let phase = 0; phase < PHASES; phase++) {
            const { child, record } = startJournaledBot(store, 30);
            runs.push(record);
            const batch = TOTAL / PHASES;
            for (let i = 0; i < batch; i++, pushed++) rig.sim.pushMessage(rig.token, { chatId: 1 + (pushed % 200), text: "x" });
            await until(() => record.started.length > 0, 15_000, "the child to start handling");
            await delay(50 + random() * 300);
            child.process.kill("SIGKILL");
            const [, signal] = await child.exit;
            assert.equal(signal, "SIGKILL");
        }
        // A last run finishes everything and stops on SIGTERM.
        const { child, record } = startJournaledBot(store, 30);
        runs.push(record);
        const everStarted = () => new Set(runs.flatMap((r) => [...r.ended]));
        await until(() => record.ready && everStarted().size === TOTAL, 60_000, "all updates to be handled");
        child.process.kill("SIGTERM");
        const [code] = await child.exit;
        assert.equal(code, 0);

        // Nothing lost.
        const ended = everStarted();
        for (let id = 1; id <= TOTAL; id++) assert.ok(ended.has(id), `update ${id} was never handled`);

        // Only what was unfinished at a kill is handled again: a done mark on disk is final.
        let repeated = 0;
        const startedBefore = new Set<number>();
        runs.forEach((run, index) => {
            for (const { id } of run.started) {
                if (startedBefore.has(id)) repeated++;
                for (const earlier of runs.slice(0, index)) {
                    assert.ok(!earlier.flushed.has(id), `update ${id} was recorded done in an earlier run but started again`);
                }
            }
            for (const { id } of run.started) startedBefore.add(id);
        });
        const atRisk = runs
            .slice(0, -1)
            .reduce((sum, run) => sum + run.started.filter(({ id }) => !run.flushed.has(id)).length, 0);
        assert.ok(repeated <= atRisk, `${repeated} repeats, but only ${atRisk} updates were unfinished at the kills`);

        // Within every run, each chat's updates start in increasing order (replays first, then new ones).
        for (const run of runs) {
            const last = new Map<number, number>();
            for (const { id, chat } of run.started) {
                assert.ok((last.get(chat) ?? 0) < id, `chat ${chat} went backwards at update ${id}`);
                last.set(chat, id);
            }
        }

        const { journal, close } = openJournal(store);
        assert.equal(journal.unfinishedCount(), 0);
        close();
    });

    it("quarantines an update that kills the process every time, and handles everything else", async () => {
        rig = await startRig();
        const store = join(dir, "poison.db");
        for (let i = 1; i <= 60; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 6), text: i === 20 ? "poison" : "ok" });
        const runs: RunRecord[] = [];
        for (let attempt = 0; attempt < 6; attempt++) {
            const { child, record } = startJournaledBot(store, 5);
            runs.push(record);
            const stayed = await Promise.race([child.exit.then(() => false), delay(2_000).then(() => true)]);
            if (stayed) {
                child.process.kill("SIGTERM");
                await child.exit;
                break;
            }
        }
        const poisonStarts = runs.flatMap((r) => r.started).filter(({ id }) => id === 20).length;
        assert.equal(poisonStarts, 3, "started exactly maxAttempts (3) times");
        assert.equal(runs.length, 4, "three crashes, then a run that stays up");
        const ended = new Set(runs.flatMap((r) => [...r.ended]));
        for (let id = 1; id <= 60; id++) if (id !== 20) assert.ok(ended.has(id), `update ${id} handled`);

        const { journal, close } = openJournal(store);
        try {
            const quarantined = journal.quarantined();
            assert.deepEqual(quarantined.map((q) => [q.updateId, q.attempts]), [[20, 3]], JSON.stringify(runs.map((r) => r.started.map((s) => s.id))));
            assert.equal(quarantined[0]!.updateId, 20);
            assert.equal(quarantined[0]!.attempts, 3);
            assert.equal(quarantined[0]!.chatId, 1 + (20 % 6));
            assert.equal(journal.dropQuarantined(20), true);
            assert.equal(journal.quarantined().length, 0);
        } finally {
            close();
        }
    });

    it("drains on SIGTERM during a burst and leaves nothing unfinished", async () => {
        rig = await startRig();
        const store = join(dir, "sigterm.db");
        for (let i = 0; i < 2_000; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 100), text: "x" });
        const { child, record } = startJournaledBot(store, 20);
        await until(() => record.started.length > 50, 15_000, "the burst to be under way");
        child.process.kill("SIGTERM");
        const [code] = await child.exit;
        assert.equal(code, 0);
        const { journal, close } = openJournal(store);
        try {
            assert.equal(journal.unfinishedCount(), 0, "every fetched update was finished");
            assert.equal(journal.offset, rig.sim.confirmedOffset(rig.token), "Telegram was told what the journal holds");
        } finally {
            close();
        }
        for (const { id } of record.started) assert.ok(record.ended.has(id), `update ${id} finished`);
    });
});

describe("outbox under real crashes", () => {
    it("delivers a 5,000-message broadcast across SIGKILLs, repeating at most the calls in flight", async () => {
        rig = await startRig({ faults: { latencyMs: [0, 4], methods: ["sendMessage"], seed: 3 } });
        const store = join(dir, "broadcast.db");
        const COUNT = 5_000;
        const env = { API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, STORE: store, COUNT: String(COUNT), CHATS: "500" };
        const kills = 5;
        for (let kill = 0; kill < kills; kill++) {
            let queued = false;
            const child = spawnScript("test/helpers/broadcaster.ts", env, (line) => void (line === "q" && (queued = true)));
            await until(() => queued, 15_000, "the broadcast to be enqueued");
            await delay(100 + kill * 50);
            child.process.kill("SIGKILL");
            await child.exit;
        }
        let done = false;
        const last = spawnScript("test/helpers/broadcaster.ts", env, (line) => void (line === "done" && (done = true)));
        await until(() => done, 60_000, "the broadcast to finish");
        await last.exit;

        const texts = rig.sim.sent(rig.token).map((call) => String(call.payload.text));
        const delivered = new Set(texts);
        for (let n = 0; n < COUNT; n++) assert.ok(delivered.has(`#${n}`), `message ${n} was delivered`);
        const repeats = texts.length - delivered.size;
        assert.ok(repeats <= kills * 50, `${repeats} repeats, at most ${kills} kills x 50 calls in flight`);
        // Per chat, messages left in order (a repeat may only re-send the newest one).
        const lastOfChat = new Map<number, number>();
        for (const call of rig.sim.sent(rig.token)) {
            const chat = Number(call.payload.chat_id);
            const n = Number(String(call.payload.text).slice(1));
            assert.ok(n >= (lastOfChat.get(chat) ?? -1), `chat ${chat} went backwards at #${n}`);
            lastOfChat.set(chat, n);
        }
    });

    it("a bot replying to a burst loses no reply across SIGKILLs and sends none twice for a replayed update", async () => {
        rig = await startRig();
        const store = join(dir, "replies.db");
        const TOTAL = 600;
        for (let i = 0; i < TOTAL; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 60), text: "x" });
        const kills = 4;
        for (let kill = 0; kill < kills; kill++) {
            const { child, record } = startJournaledBot(store, 20, true);
            await until(() => record.started.length > 0, 15_000, "the child to start handling");
            await delay(100 + kill * 40);
            child.process.kill("SIGKILL");
            await child.exit;
        }
        const { child, record } = startJournaledBot(store, 20, true);
        const replied = () => new Set(rig!.sim.sent(rig!.token).map((call) => String(call.payload.text)));
        await until(() => record.ready && replied().size === TOTAL, 60_000, "a reply to every update");
        child.process.kill("SIGTERM");
        await child.exit;
        const texts = rig.sim.sent(rig.token).map((call) => String(call.payload.text));
        const repeats = texts.length - new Set(texts).size;
        // A reply marked sent is never sent again (the replayed update gets its stored result); only calls in
        // flight at a kill (accepted by Telegram, not yet marked) can go twice: at most 50 per kill.
        assert.ok(repeats <= kills * 50, `${repeats} replies sent twice over ${kills} kills`);
    });
});
