import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, describe, it, type TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import Database from "better-sqlite3";
import { openStore } from "../src/index.js";
import { Journal } from "../src/journal/journal.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("crash");
let rig: TestRig | undefined;
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

/** What one life of the child bot did before it died or stopped. */
interface RunRecord {
    ready: boolean;
    started: { id: number; chat: number }[];
    ended: Set<number>;
    flushed: Set<number>;
}

function startJournaledBot(store: string, env: { WORK_MS: string; OUTBOX?: string; POISON?: string }): { child: Child; record: RunRecord } {
    const record: RunRecord = { ready: false, started: [], ended: new Set(), flushed: new Set() };
    const child = spawnScript(
        "test/helpers/journaled-bot.ts",
        { API_ROOT: rig!.sim.apiRoot, BOT_TOKEN: rig!.token, STORE: store, ...env },
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

/** A seeded generator, so a failing run can be repeated. */
function seeded(seed: number): () => number {
    return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** Updates handled (ended) in any life. */
const everHandled = (runs: RunRecord[]) => new Set(runs.flatMap((r) => [...r.ended]));

/**
 * What the journal promises of lives that were killed: a done mark on disk is final (never started
 * again), every repeat was unfinished at a kill, and within a life each chat's updates start in order.
 */
function assertLivesKeptPromises(runs: RunRecord[]): { repeated: number } {
    let repeated = 0;
    const startedBefore = new Set<number>();
    runs.forEach((run, index) => {
        for (const { id } of run.started) {
            if (startedBefore.has(id)) repeated++;
            for (const earlier of runs.slice(0, index)) {
                assert.ok(!earlier.flushed.has(id), `update ${id} was recorded done in an earlier life but started again`);
            }
        }
        for (const { id } of run.started) startedBefore.add(id);
        const last = new Map<number, number>();
        for (const { id, chat } of run.started) {
            assert.ok((last.get(chat) ?? 0) < id, `chat ${chat} went backwards at update ${id}`);
            last.set(chat, id);
        }
    });
    const atRisk = runs.slice(0, -1).reduce((sum, run) => sum + run.started.filter(({ id }) => !run.flushed.has(id)).length, 0);
    assert.ok(repeated <= atRisk, `${repeated} repeats, but only ${atRisk} updates were running or waiting for a done mark at the kills`);
    return { repeated };
}

/**
 * Kills the bot from outside with SIGKILL `kills` times, at a random moment of each life
 * (`killAfterMs` after its first handler started), while 10,000 updates arrive in 200 chats,
 * then lets a last life finish everything.
 */
async function killLoop(t: TestContext, name: string, killAfterMs: [number, number], seed: number): Promise<{ mostSuspects: number }> {
    rig = await startRig();
    const store = join(dir, `${name}.db`);
    const TOTAL = 10_000;
    const KILLS = 21;
    const random = seeded(seed);
    const runs: RunRecord[] = [];
    let pushed = 0;
    let mostSuspects = 0;
    for (let kill = 0; kill < KILLS; kill++) {
        const { child, record } = startJournaledBot(store, { WORK_MS: "30-90" });
        runs.push(record);
        // This life's share arrives as a stream over about a second from the moment the child runs (not
        // from its spawn, whose module loading time varies), so every kill finds handlers running.
        await until(() => record.ready, 15_000, "the child to run");
        const share = Math.round(((kill + 1) * TOTAL) / KILLS) - pushed;
        const arriving = (async () => {
            for (let slice = 0; slice < 50; slice++, await delay(20)) {
                for (let i = 0; i < share / 50 && pushed < TOTAL; i++, pushed++) {
                    rig!.sim.pushMessage(rig!.token, { chatId: 1 + (pushed % 200), text: "x" });
                }
            }
        })();
        await until(() => record.started.length > 0, 15_000, "the child to start handling");
        await delay(killAfterMs[0] + random() * (killAfterMs[1] - killAfterMs[0]));
        child.process.kill("SIGKILL");
        const [code, signal] = await child.exit;
        // This life's stream goes on into the simulator whatever happened, so it must end before the test does.
        await arriving;
        assert.equal(signal, "SIGKILL", `life ${kill + 1} ended by itself before the kill (exit code ${code})`);
        mostSuspects = Math.max(mostSuspects, suspectsIn(store));
    }
    for (; pushed < TOTAL; pushed++) rig.sim.pushMessage(rig.token, { chatId: 1 + (pushed % 200), text: "x" });
    const { child, record } = startJournaledBot(store, { WORK_MS: "30-90" });
    runs.push(record);
    const lastLifeStarted = performance.now();
    await lastLifeHandlesTheRest(child, record, runs, TOTAL);
    const lastLifeSeconds = (performance.now() - lastLifeStarted) / 1000;
    child.process.kill("SIGTERM");
    assert.equal((await child.exit)[0], 0);

    const handled = everHandled(runs);
    const lost = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((id) => !handled.has(id));
    const { journal, close } = openJournal(store);
    const quarantined = journal.quarantined().map((q) => q.updateId);
    const unfinished = journal.unfinishedCount();
    close();
    const { repeated } = assertLivesKeptPromises(runs);
    const runningAtKills = runs.slice(0, -1).map((run) => run.started.filter(({ id }) => !run.ended.has(id)).length);
    t.diagnostic(
        `${name}: ${KILLS} kills, ${lost.length} lost, ${quarantined.length} quarantined, ${repeated} handled twice, ${runs.length} lives; ` +
            `handlers running at each kill: ${runningAtKills.join(" ")}; most suspects at once: ${mostSuspects}; ` +
            `the last life took ${lastLifeSeconds.toFixed(1)} s`,
    );
    assert.ok(runningAtKills.filter((n) => n > 0).length >= KILLS - 6, "most kills landed on a busy bot");
    assert.deepEqual(lost, [], "no update lost");
    assert.deepEqual(quarantined, [], "no innocent update quarantined");
    assert.equal(unfinished, 0);
    return { mostSuspects };
}

/**
 * Waits for the last life to handle everything the earlier ones left; fails at once if it dies, and
 * with what it did if it takes longer than 90 s.
 */
async function lastLifeHandlesTheRest(child: Child, record: RunRecord, runs: RunRecord[], total: number): Promise<void> {
    const before = everHandled(runs.slice(0, -1));
    const left = total - before.size;
    const handledNow = () => [...record.ended].filter((id) => !before.has(id)).length;
    let exited: unknown;
    void child.exit.then((exit) => (exited = exit));
    try {
        await until(() => exited !== undefined || (record.ready && handledNow() === left), 90_000, "all updates to be handled");
    } catch (error) {
        throw new Error(
            `${(error as Error).message}: the last life handled ${handledNow()} of the ${left} left, ` +
                `started ${record.started.length}, ended ${record.ended.size}, marked ${record.flushed.size} done`,
        );
    }
    assert.equal(exited, undefined, `the last life ended before handling everything (exit ${JSON.stringify(exited)})`);
}

/** How many updates in a store's journal are suspects (running at two deaths or more), read without a lock. */
function suspectsIn(store: string): number {
    const db = new Database(store, { readonly: true });
    try {
        return db.prepare("SELECT count(*) FROM journal_attempts WHERE deaths >= 2").pluck().get() as number;
    } finally {
        db.close();
    }
}

/** Runs a bot with one poison update among 60 (in 6 chats) until a life stays up; returns the lives and what the journal holds. */
async function poisonLoop(store: string, env: { WORK_MS: string; POISON: string }, killOutside?: () => number | undefined) {
    for (let i = 1; i <= 60; i++) rig!.sim.pushMessage(rig!.token, { chatId: 1 + (i % 6), text: i === 20 ? "poison" : "ok" });
    const runs: RunRecord[] = [];
    const deaths: ("poison" | "outside")[] = [];
    for (let life = 0; life < 40; life++) {
        const { child, record } = startJournaledBot(store, env);
        runs.push(record);
        const killAt = killOutside?.();
        const ending = await Promise.race([
            child.exit.then(() => "died" as const),
            delay(3_500).then(() => "stayed" as const),
            ...(killAt === undefined
                ? []
                : [
                      until(() => record.started.length > 0, 15_000)
                          .then(() => delay(killAt))
                          .then(() => "kill" as const),
                  ]),
        ]);
        if (ending === "kill" && child.process.exitCode === null && child.process.signalCode === null) {
            child.process.kill("SIGKILL");
            await child.exit;
            deaths.push("outside");
            continue;
        }
        if (ending === "stayed") {
            child.process.kill("SIGTERM");
            await child.exit;
            break;
        }
        await child.exit;
        deaths.push("poison");
    }
    const { journal, close } = openJournal(store);
    const quarantined = journal.quarantined();
    close();
    const handled = everHandled(runs);
    const lives = () => runs.map((run) => run.started.map(({ id }) => id).join(",")).join(" | ");
    for (let id = 1; id <= 60; id++) if (id !== 20) assert.ok(handled.has(id), `update ${id} handled; starts per life: ${lives()}`);
    assertLivesKeptPromises(runs);
    return { runs, deaths, quarantined };
}

const describePoison = {
    exit: "calls process.exit(3)",
    throw: "throws from a timer (an uncaught exception)",
    reject: "leaves a rejected promise unhandled",
    kill: "sends SIGKILL to its own process",
};

const starts = (runs: RunRecord[], id: number) => runs.flatMap((r) => r.started).filter((s) => s.id === id).length;

describe("journal under a crash loop", () => {
    it("quarantines nothing and loses nothing over 21 SIGKILLs late in each life (10,000 updates, 200 chats)", async (t) => {
        await killLoop(t, "late-kills", [250, 850], 12345);
    });

    it("quarantines nothing and loses nothing over 21 SIGKILLs early in each life, during recovery", async (t) => {
        const { mostSuspects } = await killLoop(t, "early-kills", [0, 250], 4242);
        assert.ok(mostSuspects > 0, "kills during recovery made suspects, so the trials were put to the test");
    });

    for (const [poison, judgement, maxDeaths] of [
        ["exit", "observed-exit", 3],
        ["throw", "observed-exit", 3],
        ["reject", "observed-exit", 3],
        ["kill", "repeated-hard-deaths", 8],
    ] as const) {
        it(`quarantines an update whose handler ${describePoison[poison]}, and handles everything else`, async (t) => {
            rig = await startRig();
            const { runs, deaths, quarantined } = await poisonLoop(join(dir, `poison-${poison}.db`), { WORK_MS: "5", POISON: poison });
            t.diagnostic(
                `${poison}: quarantined after ${deaths.length} deaths (${runs.length} lives), poison started ${starts(runs, 20)} times`,
            );
            assert.deepEqual(
                quarantined.map((q) => [q.updateId, q.judgement, q.chatId]),
                [[20, judgement, 1 + (20 % 6)]],
            );
            if (poison === "exit") assert.equal(quarantined[0]!.lastExit, "process exit with code 3");
            if (poison === "throw") assert.match(quarantined[0]!.lastExit!, /^uncaught exception: Error: poison thrown from a timer/);
            if (poison === "reject") assert.match(quarantined[0]!.lastExit!, /^unhandled rejection: Error: poison left unhandled/);
            if (judgement === "observed-exit") assert.equal(deaths.length, 3, "exactly maxAttempts (3) deaths");
            else assert.ok(deaths.length <= maxDeaths, `${deaths.length} deaths, at most maxAttempts + ${maxDeaths - 3}`);
        });
    }

    it("counts an update whose handler failed into bot.catch as handled, so a bot.catch that ends the process does not loop", async (t) => {
        rig = await startRig();
        const { runs, deaths, quarantined } = await poisonLoop(join(dir, "poison-caught.db"), { WORK_MS: "5", POISON: "caught" });
        t.diagnostic(`caught: ${deaths.length} death, ${runs.length} lives, update 20 started ${starts(runs, 20)} time`);
        assert.equal(deaths.length, 1, "the process ended once, in bot.catch");
        assert.equal(starts(runs, 20), 1, "the failed update was done when its error reached bot.catch: not replayed");
        assert.deepEqual(quarantined, []);
    });

    it("catches a hard-killing poison update amid kills from outside, and quarantines nothing else", async (t) => {
        rig = await startRig();
        const random = seeded(777);
        let outside = 0;
        // Most lives are also killed from outside at a random moment, 12 times in all.
        const killOutside = () => {
            if (outside >= 12 || random() >= 0.8) return undefined;
            outside++;
            return random() * 300;
        };
        const { runs, deaths, quarantined } = await poisonLoop(
            join(dir, "poison-mixed.db"),
            { WORK_MS: "30-90", POISON: "kill" },
            killOutside,
        );
        const external = deaths.filter((d) => d === "outside").length;
        t.diagnostic(`mixed: ${external} kills from outside, ${deaths.length - external} by the poison, ${runs.length} lives`);
        assert.ok(external >= 2, `${external} kills from outside: the mix did not happen`);
        assert.deepEqual(
            quarantined.map((q) => [q.updateId, q.judgement]),
            [[20, "repeated-hard-deaths"]],
        );
    });

    it("drains on SIGTERM during a burst and leaves nothing unfinished", async () => {
        rig = await startRig();
        const store = join(dir, "sigterm.db");
        for (let i = 0; i < 2_000; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 100), text: "x" });
        const { child, record } = startJournaledBot(store, { WORK_MS: "20" });
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
            const { child, record } = startJournaledBot(store, { WORK_MS: "20", OUTBOX: "1" });
            await until(() => record.started.length > 0, 15_000, "the child to start handling");
            await delay(100 + kill * 40);
            child.process.kill("SIGKILL");
            await child.exit;
        }
        const { child, record } = startJournaledBot(store, { WORK_MS: "20", OUTBOX: "1" });
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
