import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Bot, Context } from "grammy";
import { distribute, type PoisonUpdateError, type RunHandle, run, type SluiceError } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
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
                const chatId = 1 + (i % 40);
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
});

export type { PoisonUpdateError };
