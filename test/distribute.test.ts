import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Bot, Context } from "grammy";
import { BotWorker, distribute, type PoisonUpdateError, type RunHandle, run, type SluiceError } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const workerFile = fileURLToPath(new URL("./helpers/worker-bot.mjs", import.meta.url));
const dir = tempDir("distribute");

interface Central {
    rig: TestRig;
    bot: Bot<Context>;
    middleware: ReturnType<typeof distribute<Context>>;
    handle: RunHandle<Context["update"]>;
    /** Errors that reached the central bot's bot.catch, unwrapped from grammY's BotError. */
    errors: SluiceError[];
    /** The texts the worker bots sent, per chat, in order. */
    sent(): Map<number, string[]>;
    close(): Promise<void>;
}

let files = 0;

/**
 * A central bot on a fresh simulator, run by sluice with its sink's own
 * per-chat order turned off (so that order is distribute's doing), handing
 * every update to `count` threads of the worker bot.
 */
async function startCentral(
    options: { count?: number; lib?: "sluice" | "reference"; env?: Record<string, string>; store?: boolean } = {},
): Promise<Central> {
    const rig = await startRig();
    Object.assign(process.env, {
        WORKER_BOT_TOKEN: rig.token,
        WORKER_BOT_API_ROOT: rig.sim.apiRoot,
        WORKER_BOT_DIR: dir,
        WORKER_BOT_LIB: options.lib ?? "sluice",
        WORKER_BOT_CATCH: "0",
        WORKER_BOT_BROKEN: "0",
        ...options.env,
    });
    const bot = rig.bot();
    const errors: SluiceError[] = [];
    bot.catch((error) => void errors.push(error.error as SluiceError));
    const middleware = distribute<Context>(workerFile, { count: options.count ?? 2 });
    bot.use(middleware);
    const store = options.store ? join(dir, `journal-${++files}.db`) : undefined;
    const handle = run(bot, { sink: { constraint: false }, signals: false, ...(store === undefined ? {} : { store }) });
    return {
        rig,
        bot,
        middleware,
        handle,
        errors,
        sent: () => {
            const byChat = new Map<number, string[]>();
            for (const call of rig.sim.calls(rig.token, "sendMessage")) {
                const chat = Number(call.payload.chat_id);
                byChat.set(chat, [...(byChat.get(chat) ?? []), String(call.payload.text)]);
            }
            return byChat;
        },
        close: async () => {
            await handle.stop();
            await middleware.close();
            await rig.close();
        },
    };
}

/** The texts sent to a chat, without the thread and running count. */
const texts = (sent: string[] | undefined) => (sent ?? []).map((text) => text.replace(/ thread=.*/, ""));

describe("distribute", () => {
    it("keeps each chat on one thread and its updates in order, across 40 chats over 2 threads", async () => {
        const central = await startCentral();
        try {
            const expected = new Map<number, string[]>();
            for (let i = 0; i < 400; i++) {
                // In bursts of three, so a chat's update ids are not all odd or all even (update_id % 2 would look right).
                const chatId = 1 + (Math.floor(i / 3) % 40);
                central.rig.sim.pushMessage(central.rig.token, { chatId, userId: chatId, text: `msg ${i}` });
                expected.set(chatId, [...(expected.get(chatId) ?? []), `start msg ${i}`]);
            }
            await until(() => central.rig.sim.calls(central.rig.token, "sendMessage").length === 400, 15_000, "400 replies");
            const sent = central.sent();
            const threads = new Set<string>();
            for (const [chatId, want] of expected) {
                assert.deepEqual(texts(sent.get(chatId)), want, `chat ${chatId} in order`);
                const own = new Set(sent.get(chatId)?.map((text) => / thread=(\d+)/.exec(text)?.[1]));
                assert.equal(own.size, 1, `chat ${chatId} stayed on one thread`);
                for (const thread of own) threads.add(String(thread));
            }
            assert.equal(threads.size, 2, "both threads were used");
            assert.deepEqual(central.errors, []);
            assert.equal(central.middleware.status().started, 2);
        } finally {
            await central.close();
        }
    });

    it("replaces a thread that died by process.exit or an uncaught exception and hands its updates to the new one", async () => {
        const central = await startCentral({ count: 1 });
        try {
            const { sim, token } = central.rig;
            // Slow updates of other chats are running on the thread when it dies.
            for (const [chatId, text] of [
                [1, "slow 300"],
                [2, "slow 300"],
                [3, "exit-once"],
                [1, "after 1"],
                [4, "slow 300"],
                [5, "throw-once"],
                [4, "after 4"],
            ] as const) {
                sim.pushMessage(token, { chatId, userId: chatId, text });
                await until(() => sim.calls(token, "sendMessage").some((call) => String(call.payload.text).startsWith(`start ${text}`)));
            }
            await until(() =>
                ["after 1", "after 4"].every((text) =>
                    central
                        .sent()
                        .get(text === "after 1" ? 1 : 4)
                        ?.some((t) => t.startsWith(`start ${text}`)),
                ),
            );
            await until(() => central.middleware.status().pending === 0, 10_000, "nothing pending");
            const sent = central.sent();
            // Each dying thread held the slow updates: they ran again on its successor (twice in all, or three times).
            for (const chatId of [1, 2, 4]) assert.ok(texts(sent.get(chatId)).filter((t) => t.startsWith("start slow")).length >= 2);
            assert.deepEqual(texts(sent.get(3)), ["start exit-once", "start exit-once"]);
            assert.deepEqual(texts(sent.get(5)), ["start throw-once", "start throw-once"]);
            assert.deepEqual(texts(sent.get(1)).at(-1), "start after 1", "a chat's next update waited for the one handed over");
            assert.equal(central.middleware.status().started, 3, "two deaths, two replacements");
            assert.deepEqual(central.errors, []);
        } finally {
            await central.close();
        }
    });

    it("with a store, quarantines an update that ended its thread maxAttempts times and handles the rest", async () => {
        const central = await startCentral({ count: 1, store: true });
        try {
            const { sim, token } = central.rig;
            const poison = sim.pushMessage(token, { chatId: 7, userId: 7, text: "poison" });
            for (let i = 0; i < 20; i++) sim.pushMessage(token, { chatId: 10 + (i % 4), userId: 10 + (i % 4), text: `msg ${i}` });
            sim.pushMessage(token, { chatId: 7, userId: 7, text: "after poison" });
            await until(() => (central.handle.journal?.quarantined().length ?? 0) === 1, 15_000, "the quarantine");
            await until(() => central.handle.journal?.unfinishedCount() === 0, 10_000, "everything else handled");
            const [quarantined] = central.handle.journal?.quarantined() ?? [];
            assert.equal(quarantined?.updateId, poison.update_id);
            assert.equal(quarantined?.judgement, "observed-exit");
            assert.equal(quarantined?.attempts, 3);
            assert.match(String(quarantined?.lastExit), /process\.exit\(9\)/);
            const sent = central.sent();
            assert.deepEqual(texts(sent.get(7)), ["start poison", "start poison", "start poison", "start after poison"]);
            for (let chat = 10; chat < 14; chat++) {
                // Updates a dying thread held run again on its successor; their chat's order holds.
                const handled = texts(sent.get(chat)).filter((text, index, all) => text !== all[index - 1]);
                const want = Array.from({ length: 5 }, (_, n) => `start msg ${chat - 10 + 4 * n}`);
                assert.deepEqual(handled, want, `chat ${chat}: every update, in order`);
            }
            assert.deepEqual(central.errors, [], "a quarantined update does not reach bot.catch");
            assert.equal(central.middleware.status().started, 4, "three deaths, three replacements");
        } finally {
            await central.close();
        }
    });

    it("tries the updates of a thread that died naming nobody one at a time, and gives up the one that dies alone", async () => {
        const central = await startCentral({ count: 1 });
        try {
            const { sim, token } = central.rig;
            for (let chat = 1; chat <= 4; chat++) sim.pushMessage(token, { chatId: chat, userId: chat, text: "slow 200" });
            await until(() => sim.calls(token, "sendMessage").length === 4);
            const killer = sim.pushMessage(token, { chatId: 9, userId: 9, text: "unnamed" });
            await until(() => central.errors.length === 1, 15_000, "the killer given up");
            await until(() => central.middleware.status().pending === 0);
            const [error] = central.errors as PoisonUpdateError[];
            assert.equal(error?.code, "POISON_UPDATE");
            assert.equal(error?.updateId, killer.update_id);
            assert.equal(error?.judgement, "repeated-hard-deaths");
            const sent = central.sent();
            for (let chat = 1; chat <= 4; chat++) {
                const runs = sent.get(chat) ?? [];
                assert.equal(runs.length, 2, `chat ${chat}: run in the crowd, then in its trial`);
                assert.match(runs[1]!, / running=1$/, `chat ${chat}'s trial ran alone`);
            }
            // Four trial deaths of the killer would be a fourth strike: three lone deaths after the one in the crowd.
            assert.deepEqual(texts(sent.get(9)), ["start unnamed", "start unnamed", "start unnamed", "start unnamed"]);
            assert.match(sent.get(9)![3]!, / running=1$/);
        } finally {
            await central.close();
        }
    });

    it("hands a handler error to the central bot.catch as WORKER_HANDLER_FAILED, unless the worker's own bot.catch handled it", async () => {
        for (const own of [false, true]) {
            const central = await startCentral({ env: { WORKER_BOT_CATCH: own ? "1" : "0" } });
            try {
                const { sim, token } = central.rig;
                const failing = sim.pushMessage(token, { chatId: 1, userId: 1, text: "fail" });
                sim.pushMessage(token, { chatId: 1, userId: 1, text: "after" });
                await until(() => (central.sent().get(1)?.length ?? 0) === (own ? 3 : 2));
                await until(() => central.middleware.status().pending === 0);
                if (own) {
                    assert.deepEqual(central.errors, []);
                    assert.deepEqual(texts(central.sent().get(1)), ["start fail", "caught handler failed on fail", "start after"]);
                } else {
                    assert.equal(central.errors.length, 1);
                    const [error] = central.errors;
                    assert.equal(error?.code, "WORKER_HANDLER_FAILED");
                    assert.match(String(error?.message), new RegExp(`update ${failing.update_id}: Error: handler failed on fail`));
                    assert.match(String((error?.cause as Error | undefined)?.stack), /worker-bot\.ts/);
                    assert.deepEqual(texts(central.sent().get(1)), ["start fail", "start after"]);
                }
                assert.equal(central.middleware.status().started, 1, "no thread died");
            } finally {
                await central.close();
            }
        }
    });

    it("rejects the updates its threads held with WORKER_CLOSED when closed, and later ones too", async () => {
        const central = await startCentral();
        try {
            const { sim, token } = central.rig;
            for (let chat = 1; chat <= 4; chat++) sim.pushMessage(token, { chatId: chat, userId: chat, text: "slow 10000" });
            sim.pushMessage(token, { chatId: 1, userId: 1, text: "behind" });
            await until(() => sim.calls(token, "sendMessage").length === 4);
            assert.equal(central.middleware.status().pending, 5);
            await central.middleware.close();
            await until(() => central.errors.length === 5);
            assert.deepEqual(
                central.errors.map((error) => error.code),
                Array(5).fill("WORKER_CLOSED"),
            );
            assert.deepEqual(central.middleware.status(), { threads: 0, started: 2, pending: 0, state: "closed" });
            sim.pushMessage(token, { chatId: 2, userId: 2, text: "later" });
            await until(() => central.errors.length === 6);
            assert.equal(central.errors[5]?.code, "WORKER_CLOSED");
        } finally {
            await central.close();
        }
    });

    it("fails with WORKER_FAILED when the worker file cannot load, without starting threads forever, keeping the updates in the journal", async () => {
        const central = await startCentral({ env: { WORKER_BOT_BROKEN: "1" }, store: true });
        try {
            const { sim, token } = central.rig;
            for (let chat = 1; chat <= 6; chat++) sim.pushMessage(token, { chatId: chat, userId: chat, text: `msg ${chat}` });
            await until(() => central.errors.length === 6, 15_000, "six failures");
            assert.deepEqual(new Set(central.errors.map((error) => error.code)), new Set(["WORKER_FAILED"]));
            assert.match(String(central.errors[0]?.message), /broken on purpose/);
            const { started, state } = central.middleware.status();
            assert.equal(state, "failed");
            await new Promise((resolve) => setTimeout(resolve, 500));
            assert.equal(central.middleware.status().started, started, "no thread started after the failure");
            assert.ok(started <= 4, `${started} threads started`);
            sim.pushMessage(token, { chatId: 1, userId: 1, text: "later" });
            await until(() => central.errors.length === 7);
            assert.equal(central.errors[6]?.code, "WORKER_FAILED");
            // Nothing was handled: all seven wait in the journal for a restart with a worker file that loads.
            assert.equal(central.handle.journal?.unfinishedCount(), 7);
        } finally {
            await central.close();
        }
    });

    it("serves the reference's distribute too: the worker file with sluice's BotWorker under @grammyjs/runner's central bot", async () => {
        const outputs: Record<string, string> = {};
        for (const lib of ["reference", "sluice"]) {
            const lines: string[] = [];
            const child = spawnScript(
                "test/helpers/reference-central.ts",
                { WORKER_BOT_LIB: lib, WORKER_BOT_DIR: dir, WORKER_BOT_BROKEN: "0", WORKER_BOT_CATCH: "0" },
                (line) => void lines.push(line),
            );
            const [code] = await child.exit;
            assert.equal(code, 0, `${lib}: ${lines.join(" / ")}`);
            outputs[lib] = lines.at(-1) ?? "";
        }
        const sent = JSON.parse(outputs.sluice ?? "{}") as Record<string, string[]>;
        assert.equal(Object.keys(sent).length, 10);
        assert.deepEqual(
            sent["3"],
            Array.from({ length: 10 }, (_, n) => `start msg ${2 + 10 * n}`),
        );
        assert.deepEqual(sent, JSON.parse(outputs.reference ?? "{}"));
    });

    it("refuses to let a BotWorker poll, by bot.start(), bot.stop() or run(), with WORKER_CANNOT_POLL", async () => {
        const rig = await startRig();
        try {
            const worker = new BotWorker(rig.token, { client: { apiRoot: rig.sim.apiRoot }, botInfo: rig.botInfo });
            assert.throws(() => worker.start(), { code: "WORKER_CANNOT_POLL" });
            assert.throws(() => worker.stop(), { code: "WORKER_CANNOT_POLL" });
            const handle = run(worker, { signals: false });
            await assert.rejects(handle.task() ?? Promise.resolve(), { code: "WORKER_CANNOT_POLL" });
            assert.equal(rig.sim.calls(rig.token, "getUpdates").length, 0, "no getUpdates reached the server");
        } finally {
            await rig.close();
        }
    });

    it("runs the same worker file with BotWorker imported from @grammyjs/runner or from sluice, with the same result", async () => {
        const results: Record<string, string[][]> = {};
        for (const lib of ["reference", "sluice"] as const) {
            const central = await startCentral({ lib });
            try {
                const { sim, token } = central.rig;
                for (let i = 0; i < 200; i++) sim.pushMessage(token, { chatId: 1 + (i % 20), userId: 1 + (i % 20), text: `msg ${i}` });
                await until(() => sim.calls(token, "sendMessage").length === 200, 10_000, `200 replies (${lib})`);
                const sent = central.sent();
                results[lib] = [...sent.keys()].sort((a, b) => a - b).map((chat) => texts(sent.get(chat)));
                assert.deepEqual(central.errors, []);
            } finally {
                await central.close();
            }
        }
        assert.equal(results.reference?.length, 20);
        assert.deepEqual(results.sluice, results.reference);
        for (const chat of results.sluice ?? [])
            assert.deepEqual(
                chat,
                [...chat].sort((a, b) => Number(a.split(" ")[2]) - Number(b.split(" ")[2])),
            );
    });
});
