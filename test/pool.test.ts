import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
    type BotPool,
    type BotPoolOptions,
    ConflictError,
    createBotPool,
    createLogger,
    parseToken,
    SluiceError,
    UnauthorizedError,
} from "../src/index.js";
import { ExpiryQueue } from "../src/pool/expiry-queue.js";
import { redactTokens } from "../src/shared/redact.js";
import { createSimulator, forkSimulator, type SentCall, type Simulator, type SimulatorOptions } from "../src/simulator/index.js";
import { until } from "./helpers/bots.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("pool");
const quiet = createLogger({ level: "silent" });
let stores = 0;

/** A simulator and a pool on a fresh store file, with `setup` replying to messages unless given; both closed after the test. */
async function startPool(
    options: Partial<BotPoolOptions> = {},
    simOptions: SimulatorOptions = {},
): Promise<{ sim: Simulator; pool: BotPool }> {
    const sim = await createSimulator(simOptions);
    const pool = createBotPool({
        store: join(dir, `bots-${++stores}.db`),
        signals: false,
        logger: quiet,
        botConfig: { client: { apiRoot: sim.apiRoot } },
        setup: (bot) => {
            bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
        },
        ...options,
    });
    after(async () => {
        await pool.close();
        await sim.close();
    });
    return { sim, pool };
}

/** Texts each chat was sent, in the order the simulator received them (`sent` from `sim.sent(token)`). */
function sentByChat(sent: readonly SentCall[]): Map<number, string[]> {
    const byChat = new Map<number, string[]>();
    for (const call of sent) {
        const chat = Number(call.payload.chat_id);
        byChat.set(chat, [...(byChat.get(chat) ?? []), String(call.payload.text)]);
    }
    return byChat;
}

describe("parseToken", () => {
    it("takes real and simulated tokens apart", async () => {
        assert.deepEqual(parseToken("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"), {
            botId: 123456789,
            secret: "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
        });
        const sim = await createSimulator();
        try {
            for (let n = 0; n < 50; n++) {
                const { token, id } = sim.createBot();
                assert.equal(parseToken(token).botId, id);
            }
        } finally {
            await sim.close();
        }
    });

    it("refuses what is not a token with an INVALID_OPTION that never repeats it", () => {
        const secret = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1";
        const cases: [unknown, RegExp][] = [
            ["-1:x", /bot id before the colon is not a positive whole number/],
            [`-1:${secret}`, /positive whole number/],
            [`0:${secret}`, /positive whole number/],
            [`0123:${secret}`, /leading zero/],
            [`99999999999999999:${secret}`, /positive whole number/],
            [`123 456:${secret}`, /positive whole number/],
            [secret, /no colon/],
            ["123456:AAHdqTcvCH1vGWJxfSeof", /21 characters, fewer than the 30/],
            [`123456:${secret}/`, /characters other than A-Z/],
            [`123456:${secret}:x`, /characters other than A-Z/],
            [` 123456:${secret}\n`, /whitespace/],
            [`123456:${"A".repeat(300)}`, /more than any token has/],
            [123456, /got number/],
            [undefined, /got undefined/],
        ];
        for (const [token, problem] of cases) {
            assert.throws(
                () => parseToken(token as string),
                (error: unknown) => {
                    assert.ok(error instanceof SluiceError, String(token));
                    assert.equal(error.code, "INVALID_OPTION");
                    assert.match(error.message, /^Invalid option `token`: expected a bot token as @BotFather gives it/);
                    assert.match(error.message, problem);
                    const secretPart = typeof token === "string" ? (token.trim().split(":")[1] ?? token).slice(0, 8) : "";
                    if (secretPart.length === 8) assert.ok(!error.message.includes(secretPart), "no part of the secret");
                    return true;
                },
            );
        }
    });

    it("tokens are redacted wherever they appear, inside a Bot API URL too", () => {
        const token = "5123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1";
        assert.equal(
            redactTokens(`request to http://127.0.0.1:8081/bot${token}/getMe failed`),
            "request to http://127.0.0.1:8081/bot5123456789:<redacted>/getMe failed",
        );
        assert.equal(redactTokens(`12:${token.split(":")[1]}`), "12:<redacted>");
    });
});

describe("createBotPool: starting and borrowing", () => {
    it("start() polls a bot until stop(); bots() lists it by id and username, never its token", async () => {
        const { sim, pool } = await startPool();
        const { token, id, username } = sim.createBot();
        await pool.start(token);
        sim.pushMessage(token, { chatId: 5, text: "hello" });
        await sim.waitFor(() => sim.sent(token).length === 1);
        const [info] = pool.bots();
        assert.equal(info?.id, id);
        assert.equal(info?.username, username);
        assert.equal(info?.state, "running");
        assert.equal(info?.kept, true);
        assert.ok(!JSON.stringify(pool.bots()).includes(parseToken(token).secret));
        await pool.stop(token);
        assert.deepEqual(pool.bots(), []);
        assert.equal(sim.pending(token), 0, "the offset was confirmed");
        await sim.waitFor(() => !sim.stats(token).polling, { timeoutMs: 1_000 }); // its aborted poll is let go
    });

    it("do() borrows a bot, starting it on first use, and returns what fn returns", async () => {
        const { sim, pool } = await startPool();
        const { token } = sim.createBot();
        const sent = await pool.do(token, (bot) => bot.api.sendMessage(42, "hi"));
        assert.equal(sent.text, "hi");
        assert.equal(pool.bots()[0]?.kept, false);
        await assert.rejects(
            pool.do(token, () => {
                throw new Error("from fn");
            }),
            /from fn/,
        );
        assert.equal(pool.bots()[0]?.borrows, 0);
        sim.pushMessage(token, { chatId: 6, text: "polled too" });
        await sim.waitFor(() => sim.sent(token).length === 2);
    });
});

describe("createBotPool: failures and tokens", () => {
    it("refuses another token for a bot it runs; a new token replaces one that failed", async () => {
        const { sim, pool } = await startPool();
        const old = sim.createBot({ token: "6123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1" });
        const renewed = sim.createBot({ token: "6123456789:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2" });
        await pool.start(old.token);
        await assert.rejects(
            pool.do(renewed.token, () => "x"),
            (error: unknown) => error instanceof SluiceError && error.code === "POOL_TOKEN_MISMATCH" && !error.message.includes("BBHdq"),
        );
        sim.revokeToken(old.token);
        await until(() => pool.bots()[0]?.state === "failed");
        assert.equal(await pool.do(renewed.token, (bot) => bot.token === renewed.token), true, "the new token runs at once");
        assert.equal(pool.bots().length, 1);
        assert.equal(sim.stats(renewed.token).getMeCalls, 1);
    });

    it("a bot kept by start() that fails polling is started again when its back-off ends", async () => {
        const { sim, pool } = await startPool({ retryFailedAfterMs: 300 });
        const { token, id } = sim.createBot();
        await pool.start(token);
        // Another process polls with the same token: the pool's poller gets 409, then the other one goes away.
        const foreign = new AbortController();
        fetch(`${sim.apiRoot}/bot${token}/getUpdates?timeout=30`, { signal: foreign.signal }).catch(() => {});
        await until(() => pool.bots()[0]?.state === "failed");
        assert.ok(pool.bots()[0]?.error instanceof ConflictError);
        foreign.abort();
        await until(() => pool.bots()[0]?.state === "running", 2_000, "started again");
        assert.equal(pool.bots()[0]?.id, id);
        assert.equal(sim.stats(token).getMeCalls, 2);
        sim.pushMessage(token, { chatId: 3, text: "back" });
        await sim.waitFor(() => sim.sent(token).length === 1);
    });

    it("a start that outlasts startTimeoutMs, or a setup that throws, fails that bot with POOL_BOT_FAILED", async () => {
        const { sim, pool } = await startPool({
            startTimeoutMs: 200,
            setup: (bot) => {
                if (bot.botInfo.username === "broken_bot") throw new Error(`settings missing for ${bot.token}`);
            },
        });
        const slow = sim.createBot();
        sim.delayNext("getMe", { delayMs: 5_000, token: slow.token });
        await assert.rejects(
            pool.do(slow.token, () => "x"),
            (error: unknown) => {
                assert.ok(error instanceof SluiceError && error.code === "POOL_BOT_FAILED");
                assert.match(error.message, new RegExp(`^Bot ${slow.id} did not start within 200 ms`));
                return true;
            },
        );
        const broken = sim.createBot({ username: "broken_bot" });
        await assert.rejects(pool.start(broken.token), (error: unknown) => {
            assert.ok(error instanceof SluiceError && error.code === "POOL_BOT_FAILED");
            assert.equal(error.message, `Bot ${broken.id} failed: settings missing for ${broken.id}:<redacted>`);
            return true;
        });
        assert.deepEqual(
            pool.bots().map((bot) => bot.state),
            ["failed", "failed"],
        );
        // stop() forgets a failed bot, back-off included.
        await pool.stop(broken.token);
        assert.equal(pool.bots().length, 1);
    });

    it("no log line names a token: failed starts, a revoked token, polling that loses the network", async () => {
        const lines: string[] = [];
        const logger = createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } });
        const { sim, pool } = await startPool({ logger, startTimeoutMs: 300, retryFailedAfterMs: 1 });
        const [revoked, slow, cut] = [sim.createBot(), sim.createBot(), sim.createBot()];
        sim.revokeToken(revoked.token);
        sim.delayNext("getMe", { delayMs: 5_000, token: slow.token });
        await Promise.allSettled([pool.do(revoked.token, () => "x"), pool.do(slow.token, () => "x"), pool.start(cut.token)]);
        await pool.close();
        // The simulator goes away under a polling bot: its getUpdates fails with errors that quote the URL.
        const afterCut = createBotPool({ signals: false, logger, botConfig: { client: { apiRoot: sim.apiRoot } } });
        await afterCut.start(cut.token);
        await sim.close();
        await until(() => lines.some((line) => line.includes("getUpdates failed")), 5_000, "a failed getUpdates logged");
        await afterCut.close();
        const secrets = [revoked, slow, cut].map(({ token }) => parseToken(token).secret);
        assert.ok(lines.some((line) => line.includes("bot failed")));
        for (const line of lines) for (const secret of secrets) assert.ok(!line.includes(secret), line);
    });

    it("SIGINT and SIGTERM close the pool gracefully (signals: true)", async () => {
        const { sim, pool } = await startPool({ signals: true });
        const { token } = sim.createBot();
        await pool.start(token);
        const listeners = process.listenerCount("SIGTERM");
        assert.ok(listeners >= 1);
        process.emit("SIGTERM");
        await until(() => pool.bots().length === 0, 5_000, "the pool closed");
        await assert.rejects(
            pool.do(token, () => "x"),
            /closed/,
        );
        await until(() => process.listenerCount("SIGTERM") === listeners - 1, 5_000, "the listener removed");
        assert.equal(sim.pending(token), 0);
    });

    it("options sluice cannot work with are refused by name", () => {
        assert.throws(() => createBotPool({ idleTimeoutMs: -1, signals: false }), /Invalid option `idleTimeoutMs`/);
        assert.throws(() => createBotPool({ startTimeoutMs: 0, signals: false }), /Invalid option `startTimeoutMs`/);
        assert.throws(
            () => createBotPool({ retryFailedAfterMs: 0, signals: false }),
            /Invalid option `retryFailedAfterMs`: expected a number > 0/,
        );
        assert.throws(
            () => createBotPool({ retryFailedAfterMs: 10_000, maxRetryFailedAfterMs: 1_000, signals: false }),
            /Invalid option `maxRetryFailedAfterMs`: expected at least retryFailedAfterMs/,
        );
        assert.throws(() => createBotPool({ run: { runner: { offset: 5 } }, signals: false }), /Invalid option `run.runner.offset`/);
    });
});

describe("createBotPool: single flight", () => {
    it("1,000 concurrent do() calls on a cold token cause exactly one getMe", async () => {
        const { sim, pool } = await startPool();
        const { token } = sim.createBot();
        const bots = await Promise.all(Array.from({ length: 1000 }, () => pool.do(token, (bot) => bot)));
        assert.equal(sim.stats(token).getMeCalls, 1);
        assert.equal(new Set(bots).size, 1, "one bot for all of them");
        assert.equal(pool.bots().length, 1);
    });

    it("a bad token rejects every waiter with the same UnauthorizedError, and is not tried again within its back-off", async () => {
        const { sim, pool } = await startPool({ retryFailedAfterMs: 400 });
        const { token } = sim.createBot();
        sim.revokeToken(token);
        const results = await Promise.allSettled(Array.from({ length: 1000 }, () => pool.do(token, () => "never")));
        const errors = new Set(results.map((result) => (result.status === "rejected" ? result.reason : result.value)));
        assert.equal(errors.size, 1, "one error for all of them");
        const [error] = errors;
        assert.ok(error instanceof UnauthorizedError);
        assert.equal(sim.stats(token).getMeCalls, 1);
        assert.ok(!String(error.stack).includes(parseToken(token).secret), "the error names no token");

        // Within the back-off, calls reject with that error at once and nothing reaches Telegram.
        const [failed] = pool.bots();
        assert.equal(failed?.state, "failed");
        assert.equal(failed?.error, error);
        while (Date.now() < failed!.retryAt!.getTime() - 50) {
            await assert.rejects(
                pool.do(token, () => "never"),
                (thrown) => thrown === error,
            );
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(sim.stats(token).getMeCalls, 1);

        // After it, one call tries again (once for all callers), and the next back-off is twice as long.
        await until(() => Date.now() >= failed!.retryAt!.getTime() + 5);
        const again = await Promise.allSettled(Array.from({ length: 100 }, () => pool.do(token, () => "never")));
        assert.ok(again.every((result) => result.status === "rejected" && result.reason instanceof UnauthorizedError));
        assert.equal(sim.stats(token).getMeCalls, 2);
        const second = pool.bots()[0]!;
        const wait = second.retryAt!.getTime() - second.since.getTime();
        assert.ok(wait >= 790 && wait <= 810, `second back-off ${wait} ms`);
    });
});

describe("ExpiryQueue", () => {
    it("costs work for the items that come due only, not a scan of all of them", async () => {
        let looks = 0;
        const deadlines = new Map<number, number>();
        const expired: number[] = [];
        const queue = new ExpiryQueue<number>(
            (item) => {
                looks++;
                return deadlines.get(item);
            },
            (item) => {
                deadlines.delete(item);
                expired.push(item);
            },
        );
        const now = performance.now();
        for (let item = 0; item < 10_000; item++) {
            deadlines.set(item, now + 3_600_000);
            queue.watch(item);
        }
        deadlines.set(-1, now + 30);
        queue.watch(-1);
        looks = 0;
        await until(() => expired.length === 1);
        assert.deepEqual(expired, [-1]);
        assert.equal(looks, 1, "only the item that came due was looked at");
        queue.close();
    });
});

describe("createBotPool: no global stall", () => {
    it("a bot whose getMe hangs for 30 s adds at most 5 ms p99 to do() calls for other tokens, running or cold", async (t) => {
        const { sim, pool } = await startPool();
        const running = Array.from({ length: 20 }, () => sim.createBot().token);
        await Promise.all(running.map((token) => pool.start(token)));
        /** Latencies of do() calls over the running bots; `fn` does nothing, so what is measured is the pool's own time. */
        async function borrows(count: number): Promise<number[]> {
            const times: number[] = [];
            for (let n = 0; n < count; n++) {
                const started = performance.now();
                await pool.do(running[n % running.length]!, (bot) => bot.botInfo.id);
                times.push(performance.now() - started);
            }
            return times;
        }
        /** Latencies of do() on fresh tokens, one after the other: each starts its bot (getMe, journal, outbox). */
        async function coldStarts(count: number): Promise<number[]> {
            const times: number[] = [];
            for (let n = 0; n < count; n++) {
                const { token } = sim.createBot();
                const started = performance.now();
                await pool.do(token, (bot) => bot.botInfo.id);
                times.push(performance.now() - started);
            }
            return times;
        }
        /** A bot whose getMe hangs for 30 s, with 100 do() calls waiting for it. */
        async function hang(): Promise<{ token: string; waiting: Promise<unknown[]> }> {
            const { token } = sim.createBot();
            sim.delayNext("getMe", { delayMs: 30_000, token });
            const waiting = Promise.all(Array.from({ length: 100 }, () => pool.do(token, () => "late")));
            await sim.waitFor(() => sim.stats(token).getMeCalls === 1);
            return { token, waiting };
        }

        await borrows(2_000); // warm-up
        // Interleaved, and in turn first and second, so that what drifts over the run (more bots, a longer WAL,
        // the JIT) lands on both sides alike.
        const without = { borrows: [] as number[], cold: [] as number[] };
        const hanging = { borrows: [] as number[], cold: [] as number[] };
        const measure = async (into: typeof without) => {
            into.borrows.push(...(await borrows(1_000)));
            into.cold.push(...(await coldStarts(50)));
        };
        for (let round = 0; round < 6; round++) {
            if (round % 2 === 0) await measure(without);
            const hung = await hang();
            await measure(hanging);
            assert.equal(pool.bots().find((bot) => bot.id === parseToken(hung.token).botId)?.state, "starting", "still hanging");
            // A stop aborts the hanging start; the calls waiting for it start the bot anew, with a getMe that answers.
            await pool.stop(hung.token);
            assert.ok((await hung.waiting).every((value) => value === "late"));
            assert.equal(sim.stats(hung.token).getMeCalls, 2);
            if (round % 2 === 1) await measure(without);
        }

        const report = (name: string, before: number[], during: number[]) => {
            const [p99Before, p99During] = [percentile(before, 0.99), percentile(during, 0.99)];
            t.diagnostic(
                `${name}, p99 of ${during.length}: ${p99Before.toFixed(3)} ms without, ${p99During.toFixed(3)} ms while a getMe hangs`,
            );
            return p99During - p99Before;
        };
        const added = report("do() on running bots", without.borrows, hanging.borrows);
        const addedCold = report("do() on cold tokens (starts the bot)", without.cold, hanging.cold);
        assert.ok(added <= 5, `p99 grew by ${added.toFixed(3)} ms`);
        assert.ok(addedCold <= 5, `p99 of cold starts grew by ${addedCold.toFixed(3)} ms`);
    });
});

describe("createBotPool: stop and restart", () => {
    it("1,000 rounds of stop() racing do() on one token: no deadlock, never two pollers, no update lost", async (t) => {
        const { sim, pool } = await startPool();
        const { token } = sim.createBot();
        let pushed = 0;
        const started = performance.now();
        for (let round = 0; round < 1000; round++) {
            // The do() comes while the stop drains the bot: it waits for the stop, then starts the bot anew.
            const stopping = pool.stop(token);
            const used = pool.do(token, (bot) => bot.botInfo.id);
            await Promise.all([stopping, used]);
            if (round % 10 === 0) sim.pushMessage(token, { chatId: 1 + (pushed % 3), text: String(pushed++) });
        }
        t.diagnostic(`1,000 stop/do rounds in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        await pool.start(token);
        await sim.waitFor(() => sim.sent(token).length === pushed, { timeoutMs: 10_000 });
        assert.equal(sim.stats(token).conflicts, 0, "Telegram never saw two pollers");
        assert.equal(sim.stats(token).getMeCalls, 1000, "one start per round");
        for (const [chat, texts] of sentByChat(sim.sent(token))) {
            const numbers = texts.map(Number);
            assert.deepEqual(
                numbers,
                [...numbers].sort((a, b) => a - b),
                `chat ${chat} in order`,
            );
        }
        assert.equal(new Set(sim.sent(token).map((call) => call.payload.text)).size, pushed, "each update handled once");
    });

    it("close() during a hanging start returns at once; do() and start() after it reject with POOL_CLOSED", async () => {
        const { sim, pool } = await startPool();
        const { token } = sim.createBot();
        sim.delayNext("getMe", { delayMs: 30_000, token });
        const waiting = pool.do(token, () => "late");
        waiting.catch(() => {});
        await sim.waitFor(() => sim.stats(token).getMeCalls === 1);
        await pool.close();
        await assert.rejects(waiting, (error: unknown) => error instanceof SluiceError && error.code === "POOL_CLOSED");
        await assert.rejects(
            pool.do(token, () => "x"),
            /The bot pool was closed/,
        );
        await assert.rejects(pool.start(token), (error: unknown) => error instanceof SluiceError && error.code === "POOL_CLOSED");
        assert.deepEqual(pool.bots(), []);
    });
});

describe("createBotPool: idle collection", () => {
    it("never collects a borrowed bot; collects an idle one within idleTimeoutMs + 1 s; keeps start()ed ones", async () => {
        const idleTimeoutMs = 300;
        const { sim, pool } = await startPool({ idleTimeoutMs });
        const [borrowed, kept, used] = [sim.createBot(), sim.createBot(), sim.createBot()];
        await pool.start(kept.token);
        const stateOf = (id: number) => pool.bots().find((bot) => bot.id === id)?.state;

        // A borrow five times as long as the idle timeout: the bot stays, and polls, all along.
        await pool.do(borrowed.token, async () => {
            const until = performance.now() + 5 * idleTimeoutMs;
            while (performance.now() < until) {
                assert.equal(stateOf(borrowed.id), "running");
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
        });
        const released = performance.now();
        await until(() => stateOf(borrowed.id) === undefined, idleTimeoutMs + 1_000, "the idle bot collected");
        const collectedAfter = performance.now() - released;
        assert.ok(collectedAfter >= idleTimeoutMs, `collected ${collectedAfter.toFixed(0)} ms after its borrow ended`);
        await sim.waitFor(() => !sim.stats(borrowed.token).polling, { timeoutMs: 1_000 }); // its aborted poll is let go
        assert.equal(sim.pending(borrowed.token), 0);

        // A bot used again and again stays as long as it is used, and goes once it is not.
        let lastRelease = 0;
        const usedUntil = performance.now() + 3 * idleTimeoutMs;
        while (performance.now() < usedUntil) {
            await pool.do(used.token, () => {});
            lastRelease = performance.now();
            await new Promise((resolve) => setTimeout(resolve, idleTimeoutMs / 3));
            assert.equal(stateOf(used.id), "running");
        }
        await until(() => stateOf(used.id) === undefined, idleTimeoutMs + 1_000, "the used bot collected once idle");
        assert.ok(performance.now() - lastRelease >= idleTimeoutMs);
        assert.equal(stateOf(kept.id), "running", "a start()ed bot is never collected");
        assert.equal(sim.stats(kept.token).getMeCalls, 1);
    });
});

describe("createBotPool: per-bot isolation", () => {
    it("one bot's 401, 409, poison update or full outbox touches no other bot", async () => {
        const handlerErrors: string[] = [];
        const { sim, pool } = await startPool(
            {
                run: { outbox: true, stopTimeoutMs: 500 },
                setup: (bot) => {
                    bot.on("message:text", async (ctx) => {
                        if (ctx.message.text === "throw") throw new Error("poison");
                        if (ctx.message.text === "hang") await new Promise(() => {});
                        await ctx.reply(ctx.message.text);
                    });
                    bot.catch((error) => void handlerErrors.push(`${error.ctx.me.id}: ${(error.error as Error).message}`));
                },
            },
            { limits: { globalPerSecond: 30, privatePerSecond: 1 } },
        );
        const [revoked, conflicted, poisoned, flooded, healthy] = Array.from({ length: 5 }, () => sim.createBot());
        const all = [revoked!, conflicted!, poisoned!, flooded!, healthy!];
        await Promise.all(all.map(({ token }) => pool.start(token)));
        const info = (id: number) => pool.bots().find((bot) => bot.id === id);

        // 401: the token is revoked while the bot polls.
        sim.revokeToken(revoked!.token);
        // 409: another process polls with the same token.
        const foreign = new AbortController();
        const foreignPoll = fetch(`${sim.apiRoot}/bot${conflicted!.token}/getUpdates?timeout=30`, { signal: foreign.signal });
        foreignPoll.catch(() => {});
        // A poison update: one handler throws, one never ends (each in its own chat; the other chats go on).
        sim.pushMessages(poisoned!.token, [
            { chatId: 1, text: "throw" },
            { chatId: 2, text: "hang" },
            { chatId: 3, text: "after the poison" },
        ]);
        // A full outbox: 2,000 messages queued at 30/s.
        const queued = await pool.do(flooded!.token, (bot) =>
            Array.from({ length: 2000 }, (_, n) => bot.api.sendMessage(1000 + n, "bulk").catch((error: unknown) => error)),
        );

        await until(() => info(revoked!.id)?.state === "failed" && info(conflicted!.id)?.state === "failed", 5_000, "two failures");
        assert.ok(info(revoked!.id)?.error instanceof UnauthorizedError);
        await assert.rejects(
            pool.do(revoked!.token, () => "x"),
            (error) => error === info(revoked!.id)?.error,
        );
        const conflict = info(conflicted!.id)?.error;
        assert.ok(conflict instanceof ConflictError && conflict.reason === "poller");

        // The healthy bot: every update handled and replied in order, and borrowed at once.
        const messages = Array.from({ length: 30 }, (_, n) => ({ chatId: 1 + (n % 10), text: String(n) }));
        sim.pushMessages(healthy!.token, messages);
        assert.equal((await pool.do(healthy!.token, (bot) => bot.api.sendMessage(99, "direct"))).text, "direct");
        await sim.waitFor(() => sim.sent(healthy!.token).length === 31, { timeoutMs: 10_000 });
        for (const [chat, texts] of sentByChat(sim.sent(healthy!.token))) {
            if (chat === 99) continue;
            assert.deepEqual(texts.map(Number), [chat - 1, chat + 9, chat + 19], `chat ${chat} in order`);
        }
        await sim.waitFor(() => sim.sent(poisoned!.token).length === 1);
        assert.equal(sim.sent(poisoned!.token)[0]?.payload.text, "after the poison");
        assert.deepEqual(handlerErrors, [`${poisoned!.id}: poison`]);
        assert.equal(info(poisoned!.id)?.state, "running");
        assert.equal(info(flooded!.id)?.state, "running");
        assert.ok(sim.sent(flooded!.token).length < queued.length, "the flooded bot's queue is still draining");

        for (const bot of [poisoned!, flooded!, healthy!]) {
            assert.equal(sim.stats(bot.token).conflicts, 0);
            assert.equal(sim.stats(bot.token).getMeCalls, 1, "not restarted");
        }
        for (const bot of all) assert.equal(sim.stats(bot.token).floodRejections, 0, "each bot within its own limits");
        foreign.abort();
        await pool.close();
        const ends = await Promise.all(queued);
        assert.ok(
            ends.every((end) => typeof end === "object"),
            "a queued send ends sent, or rejected at the close",
        );
    });
});

describe("createBotPool: scale", () => {
    it("1,000 bots poll in one process: every update handled, per-chat order kept, each bot within its own limits", async (t) => {
        // The simulator runs in a process of its own, as Telegram does: what it measures is when calls arrive,
        // not when a process busy with a thousand bots gets round to reading them.
        const sim = await forkSimulator({ limits: { globalPerSecond: 30, privatePerSecond: 1 } });
        const pool = createBotPool({
            store: join(dir, "scale.db"),
            signals: false,
            logger: quiet,
            botConfig: { client: { apiRoot: sim.apiRoot } },
            setup: (bot) => {
                bot.on("message:text", (ctx) => ctx.reply(ctx.message.text));
            },
            run: { outbox: true },
        });
        after(async () => {
            await pool.close();
            await sim.close();
        });
        const bots = await Promise.all(Array.from({ length: 1000 }, () => sim.createBot()));
        const startedAt = performance.now();
        await Promise.all(bots.map(({ token }) => pool.start(token)));
        const startMs = performance.now() - startedAt;
        assert.equal(pool.bots().filter((bot) => bot.state === "running").length, 1000);

        // Every bot: three messages in each of two chats. Ten bots: 60 more, in 60 chats (two seconds at 30/s).
        let expected = 0;
        const handledAt = performance.now();
        await Promise.all(
            bots.map(({ token }, n) => {
                const messages = [1, 2, 1, 2, 1, 2].map((chatId, index) => ({ chatId, text: String(index) }));
                if (n % 100 === 0) for (let chat = 0; chat < 60; chat++) messages.push({ chatId: 1000 + chat, text: "busy" });
                expected += messages.length;
                return sim.pushMessages(token, messages);
            }),
        );
        const stats = async () => Promise.all(bots.map(({ token }) => sim.stats(token)));
        for (let sent = 0; sent < expected; await new Promise((resolve) => setTimeout(resolve, 100))) {
            sent = (await stats()).reduce((sum, bot) => sum + bot.sent, 0);
            assert.ok(performance.now() - handledAt < 30_000, `${sent} of ${expected} replies after 30 s`);
        }
        t.diagnostic(
            `1,000 bots started in ${(startMs / 1000).toFixed(1)} s; ${expected} updates handled and replied in ` +
                `${((performance.now() - handledAt) / 1000).toFixed(1)} s`,
        );
        for (const [n, bot] of (await stats()).entries()) {
            assert.equal(bot.floodRejections, 0, "each bot within its own limits");
            assert.equal(bot.conflicts, 0, "one poller per bot");
            assert.equal(bot.getMeCalls, 1);
            const byChat = sentByChat(await sim.sent(bots[n]!.token));
            assert.deepEqual(byChat.get(1), ["0", "2", "4"]);
            assert.deepEqual(byChat.get(2), ["1", "3", "5"]);
        }
        const closedAt = performance.now();
        await pool.close();
        t.diagnostic(`closed in ${((performance.now() - closedAt) / 1000).toFixed(1)} s`);
        for (const bot of await stats()) assert.equal(bot.pending, 0, "every offset confirmed");
    });
});

/** The q-quantile (0..1) of some numbers, nearest-rank. */
function percentile(values: readonly number[], q: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
