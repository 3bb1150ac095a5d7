import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import Database from "better-sqlite3";
import type { Update } from "grammy/types";
import { createLogger, openStore, run, StoreError } from "../src/index.js";
import { Journal } from "../src/journal/journal.js";
import { MIGRATIONS } from "../src/store/schema.js";
import { sqliteOf } from "../src/store/store.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { quarantineUpdate } from "./helpers/quarantine.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("journal");
const quiet = createLogger({ level: "silent" });
let rig: TestRig | undefined;
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

const message = (updateId: number, chatId: number): Update =>
    ({
        update_id: updateId,
        message: { message_id: updateId, date: 0, chat: { id: chatId, type: "private", first_name: "A" }, text: "hi" },
    }) as Update;

describe("store", () => {
    it("refuses a file that is not a SQLite database, naming it, and leaves it alone", () => {
        const path = join(dir, "not-a-db.db");
        writeFileSync(path, "this is not sqlite ".repeat(100));
        assert.throws(
            () => openStore(path),
            (error: unknown) => error instanceof StoreError && error.code === "STORE_CORRUPT" && error.message.includes(path),
        );
    });

    it("reports a store it cannot create with the path and what to check", () => {
        const path = join(dir, "missing-folder", "bot.db");
        assert.throws(
            () => openStore(path),
            (error: unknown) =>
                error instanceof StoreError && error.code === "STORE_UNWRITABLE" && error.path === path && /folder/.test(error.message),
        );
    });
});

describe("journal", () => {
    it("replays every kind of value an update carries exactly as Telegram sent it", () => {
        const store = openStore(join(dir, "values.db"));
        const updates = [
            {
                update_id: 7,
                message: {
                    message_id: 1,
                    date: 1_700_000_000,
                    chat: { id: -1001234567890123, type: "supergroup", title: 'héllo 🎉 \u0000 "quoted"' },
                    from: { id: 9007199254740991, is_bot: false, first_name: "Ä" },
                    text: "x".repeat(5_000),
                    entities: [{ type: "bold", offset: 0, length: 1 }],
                    location: { latitude: 52.5, longitude: -0.125 },
                    is_topic_message: true,
                },
            },
            { update_id: 8, callback_query: { id: "123456789012345678", chat_instance: "-5", data: "", from: { id: 1 } } },
        ] as unknown as Update[];
        const journal = Journal.open<Update>(store, 42);
        journal.recover();
        journal.append(updates, 9);
        journal.close();
        const stored = sqliteOf(store).prepare("SELECT updates FROM journal_batches").pluck().get();
        assert.ok(Buffer.isBuffer(stored), "the batch is stored as MessagePack, not JSON text");
        assert.ok(stored.length < JSON.stringify(updates).length);
        assert.deepEqual(Journal.open<Update>(store, 42).recover().updates, updates);
        store.close();
    });

    it("upgrades a store an older sluice wrote: its JSON batches, done bits and offset carry over", () => {
        const path = join(dir, "schema-2.db");
        const old = new Database(path);
        old.pragma("journal_mode = WAL");
        for (const migration of MIGRATIONS.slice(0, 2)) old.exec(migration);
        old.pragma("user_version = 2");
        const batch = [message(5, 1), message(6, 2), message(7, 1)];
        old.prepare("INSERT INTO journal_batches (bot_id, updates, done) VALUES (?, ?, ?)").run(
            42,
            JSON.stringify(batch),
            Buffer.from([2]),
        );
        old.prepare("INSERT INTO journal_offsets (bot_id, next_offset) VALUES (?, ?)").run(42, 8);
        old.close();

        const store = openStore(path);
        assert.equal(sqliteOf(store).pragma("user_version", { simple: true }), MIGRATIONS.length);
        const journal = Journal.open<Update>(store, 42, { groupCommitMs: 0 });
        assert.equal(journal.offset, 8);
        assert.deepEqual(journal.recover().updates, [batch[0], batch[2]], "update 6 was done before the upgrade");
        journal.markDone(5);
        journal.markDone(7);
        assert.equal(journal.unfinishedCount(), 0);
        assert.equal(journal.offset, 8, "finishing the old batch keeps the offset");
        journal.close();
        store.close();
    });

    it("keeps the offset of finished batches once their rows are gone", () => {
        const store = openStore(join(dir, "offset.db"));
        const journal = Journal.open<Update>(store, 42, { groupCommitMs: 0 });
        journal.recover();
        journal.append([message(1, 1), message(2, 1)], 3);
        journal.append([message(3, 2)], 4);
        assert.equal(journal.offset, 4);
        for (const id of [1, 2, 3]) journal.markDone(id);
        assert.equal(sqliteOf(store).prepare("SELECT count(*) FROM journal_batches").pluck().get(), 0);
        assert.equal(sqliteOf(store).prepare("SELECT count(*) FROM journal_done").pluck().get(), 0);
        assert.equal(journal.offset, 4);
        journal.close();
        assert.equal(Journal.open<Update>(store, 42).offset, 4);
        assert.equal(Journal.open<Update>(store, 43).offset, 0, "another bot's offset is its own");
        store.close();
    });

    it("blames no one for a death in a crowd; an update running at two deaths becomes a suspect, one that waited does not", async () => {
        const path = join(dir, "crowd.db");
        const store = openStore(path);
        // Each journal below is abandoned without close(), as a killed process leaves it.
        const first = Journal.open<Update>(store, 42, { maxAttempts: 2 });
        first.recover();
        first.append([message(1, 7), message(2, 7), message(3, 8)], 4);
        await first.markStarted(1); // update 2 waits behind it in chat 7's lane: never started
        await first.markStarted(3);
        assert.ok(existsSync(`${path}-starts-42`), "starts are written beside the store before the handlers run");

        const second = Journal.open<Update>(store, 42, { maxAttempts: 2 });
        const afterOne = second.recover();
        assert.deepEqual(
            afterOne.updates.map((u) => u.update_id),
            [1, 2, 3],
        );
        assert.equal(afterOne.suspects.size, 0, "one death among others is no evidence");
        await second.markStarted(1); // running again at the next death; 3 was not started this time

        const third = Journal.open<Update>(store, 42, { maxAttempts: 2 });
        const afterTwo = third.recover();
        assert.deepEqual([...afterTwo.suspects], [[1, 2]], "update 1 ran at both deaths: tried next");
        assert.deepEqual(third.quarantined(), [], "running at deaths convicts no one by itself");
        third.close();

        const fourth = Journal.open<Update>(store, 42, { maxAttempts: 2 });
        assert.equal(fourth.recover().suspects.size, 1, "a clean close is not a death: nothing changes");
        fourth.close();
        store.close();
    });

    it("narrows a death in a trial to its members and convicts only an update that died alone maxAttempts times", () => {
        const store = openStore(join(dir, "trials.db"));
        const lives = () => {
            const journal = Journal.open<Update>(store, 42, { maxAttempts: 2 });
            return { journal, recovery: journal.recover() };
        };
        const { journal } = lives();
        journal.append([message(1, 1), message(2, 2), message(3, 3)], 4);
        void journal.markStarted(1);
        void journal.markStarted(2);
        void journal.markStarted(3);
        journal.close(); // a clean stop that left them running: no evidence
        let { journal: next, recovery } = lives();
        assert.equal(recovery.suspects.size, 0);
        // Two deaths with all three in a trial group, then the group that died is tried in smaller groups.
        next.startTrial([1, 2, 3], "alone");
        ({ journal: next, recovery } = lives());
        next.startTrial([1, 2, 3], "alone");
        ({ journal: next, recovery } = lives());
        assert.deepEqual([...recovery.suspects.keys()], [1, 2, 3]);
        next.startTrial([1], "alone");
        next.markDone(1);
        next.endTrial(); // update 1 finished its trial: cleared
        next.startTrial([2], "crowded"); // others were still running: a death now is no strike
        ({ journal: next, recovery } = lives());
        assert.deepEqual([...recovery.suspects.keys()], [2, 3]);
        next.startTrial([2], "alone");
        ({ journal: next, recovery } = lives());
        assert.deepEqual(next.quarantined(), [], "one lone death");
        next.startTrial([2], "alone");
        ({ journal: next, recovery } = lives());
        const [convicted] = next.quarantined();
        assert.deepEqual([convicted?.updateId, convicted?.attempts, convicted?.judgement], [2, 2, "repeated-hard-deaths"]);
        assert.deepEqual(
            recovery.updates.map((u) => u.update_id),
            [3],
            "update 3 is still only a suspect",
        );
        next.close();
        store.close();
    });

    it("goes on when the start log cannot be written, warns once, and then counts every unfinished update as running", async () => {
        const path = join(dir, "no-start-log.db");
        const store = openStore(path);
        const lines: string[] = [];
        const logger = createLogger({ level: "warn", destination: { write: (line: string) => void lines.push(line) } });
        const fetching = Journal.open<Update>(store, 42, { logger });
        fetching.recover();
        fetching.append([message(1, 7), message(2, 7)], 3);
        rmSync(`${path}-starts-42`);
        mkdirSync(`${path}-starts-42`); // the log's place is taken: it can be neither written nor read
        await fetching.markStarted(1); // resolves all the same: handling goes on
        await fetching.markStarted(2);
        assert.equal(lines.filter((line) => line.includes("cannot write the start log")).length, 1, "warned once");

        for (let death = 1; death <= 2; death++) {
            const replay = Journal.open<Update>(store, 42, { logger });
            const { updates, suspects } = replay.recover();
            assert.deepEqual(
                updates.map((u) => u.update_id),
                [1, 2],
            );
            // Update 2 never started, but without a log no start can be ruled out: one too many, never one too few.
            assert.deepEqual([...suspects.keys()], death === 2 ? [1, 2] : []);
        }
        store.close();
    });

    it("keeps unfinished updates in order across reopenings and forgets finished ones", () => {
        const store = openStore(join(dir, "order.db"));
        const journal = Journal.open<Update>(store, 42, { groupCommitMs: 0 });
        journal.recover();
        journal.append([message(3, 1), message(1, 1), message(2, 2)], 4);
        journal.markDone(2);
        journal.close();
        const reopened = Journal.open<Update>(store, 42);
        assert.equal(reopened.offset, 4);
        const { suspects, updates } = reopened.recover();
        assert.equal(suspects.size, 0);
        assert.deepEqual(
            updates.map((u) => u.update_id),
            [1, 3],
        );
        assert.equal(Journal.open<Update>(store, 43).offset, 0, "journals of different bots are separate");
        reopened.close();
        store.close();
    });

    it("rejects nonsense options with a typed error", () => {
        const store = openStore(join(dir, "options.db"));
        assert.throws(() => Journal.open(store, 1, { maxAttempts: 0 }), { code: "INVALID_OPTION", message: /maxAttempts/ });
        store.close();
    });

    it("fails fast when another live process holds the bot's journal, and takes over from a killed one", async () => {
        rig = await startRig();
        const path = join(dir, "locked.db");
        let ready = false;
        const child = spawnScript(
            "test/helpers/journaled-bot.ts",
            { API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, STORE: path },
            (line) => void (line === "r" && (ready = true)),
        );
        await until(() => ready, 15_000, "the child bot to run");
        assert.throws(
            () => run(rig!.bot(), { store: path, signals: false }),
            (error: unknown) =>
                error instanceof StoreError &&
                error.code === "STORE_LOCKED" &&
                error.message.includes(path) &&
                error.message.includes(String(child.process.pid)),
        );
        child.process.kill("SIGKILL");
        await child.exit;
        const handle = run(rig.bot(), { store: path, signals: false });
        await delay(50);
        assert.equal(handle.isRunning(), true);
        await handle.stop();
    });

    it("resumes from its stored offset and drops what Telegram holds when asked", async () => {
        rig = await startRig();
        const path = join(dir, "resume.db");
        const seen: number[] = [];
        const bot = rig.bot();
        bot.on("message", (ctx) => void seen.push(ctx.update.update_id));
        for (let i = 0; i < 5; i++) rig.sim.pushMessage(rig.token, { chatId: 1, text: "old" });
        const first = run(bot, { store: path, signals: false, dropPendingUpdates: true });
        await delay(100);
        rig.sim.pushMessage(rig.token, { chatId: 1, text: "new" });
        await until(() => seen.length === 1);
        await first.stop();
        assert.deepEqual(seen, [6], "the five pending before the start were skipped");

        const second = rig.bot();
        const again: number[] = [];
        second.on("message", (ctx) => void again.push(ctx.update.update_id));
        rig.sim.pushMessage(rig.token, { chatId: 1, text: "newer" });
        const handle = run(second, { store: path, signals: false });
        await until(() => again.length === 1);
        await handle.stop();
        assert.deepEqual(again, [7]);
        assert.throws(() => handle.start(), { code: "HANDLE_STOPPED", message: /closed its journal when it stopped/ });
    });

    it("stops polling with STORE_FULL naming the file when the store fills up, and loses nothing", async () => {
        rig = await startRig();
        const path = join(dir, "full.db");
        const handled = new Set<number>();
        const bot = rig.bot();
        bot.on("message", (ctx) => void handled.add(ctx.update.update_id));
        let store = openStore(path);
        const handle = run(bot, { store, signals: false, logger: quiet });
        for (let i = 0; i < 20; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 4), text: "small" });
        await until(() => handled.size === 20);
        // Real SQLite, made full: the file may not grow by another page.
        sqliteOf(store).pragma(`max_page_count = ${sqliteOf(store).pragma("page_count", { simple: true })}`);
        for (let i = 0; i < 200; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 4), text: "y".repeat(3_000) });
        await assert.rejects(
            handle.task()!,
            (error: unknown) =>
                error instanceof StoreError && error.code === "STORE_FULL" && error.path === path && /Free space/.test(error.message),
        );
        await handle.stop();
        const journal = Journal.open<Update>(store, Number(rig.token.split(":")[0]));
        assert.ok(rig.sim.confirmedOffset(rig.token) <= journal.offset, "nothing was confirmed that the journal does not hold");
        journal.close();
        store.close();

        store = openStore(path); // space again: a new connection has no page limit
        const next = rig.bot();
        next.on("message", (ctx) => void handled.add(ctx.update.update_id));
        const again = run(next, { store, signals: false, logger: quiet });
        await until(() => handled.size === 220, 10_000, "every update, those fetched while the store was full included");
        await again.stop();
        store.close();
    });

    it("keeps done marks the store refuses and writes them once it takes them again", async () => {
        const store = openStore(join(dir, "refused-marks.db"));
        const lines: string[] = [];
        const logger = createLogger({ level: "info", destination: { write: (line: string) => void lines.push(line) } });
        const journal = Journal.open<Update>(store, 42, { groupCommitMs: 0, logger });
        journal.recover();
        journal.append([message(1, 1), message(2, 2)], 3);
        // A real SQLite error on every write a group commit makes.
        sqliteOf(store).exec(`
            CREATE TRIGGER refuse_done BEFORE INSERT ON journal_done BEGIN SELECT RAISE(ABORT, 'refused'); END;
            CREATE TRIGGER refuse_delete BEFORE DELETE ON journal_batches BEGIN SELECT RAISE(ABORT, 'refused'); END;`);
        journal.markDone(1); // the write fails inside: no throw, no crash
        journal.markDone(2);
        assert.equal(journal.unfinishedCount(), 2, "nothing was written");
        assert.equal(lines.filter((line) => line.includes("could not be written")).length, 1, "logged once");
        sqliteOf(store).exec("DROP TRIGGER refuse_done; DROP TRIGGER refuse_delete;");
        await until(() => journal.unfinishedCount() === 0, 3_000, "the retry a second later");
        assert.ok(lines.some((line) => line.includes("written again")));
        journal.close();
        store.close();
    });

    it("lists a quarantined update and hands it to the bot again on retry", async () => {
        rig = await startRig();
        const path = join(dir, "retry.db");
        const botId = rig.botInfo.id;
        quarantineUpdate(path, botId, message(1, 9));

        const seen: number[] = [];
        const bot = rig.bot();
        bot.on("message", (ctx) => void seen.push(ctx.update.update_id));
        const handle = run(bot, { store: path, signals: false });
        const [quarantined] = handle.journal!.quarantined();
        assert.equal(quarantined?.updateId, 1);
        assert.equal(quarantined?.chatId, 9);
        assert.equal(quarantined?.attempts, 3);
        assert.equal(handle.retryQuarantined(1), true);
        assert.equal(handle.retryQuarantined(1), false);
        await until(() => seen.length === 1);
        await handle.stop();
        assert.deepEqual(seen, [1]);
        const check = openStore(path);
        assert.equal(Journal.open(check, botId).unfinishedCount(), 0);
        check.close();
    });

    it("never marks an update done before its handler ran: a suspect whose sink timeout passes while it waits for its trial", async () => {
        rig = await startRig();
        const botId = rig.botInfo.id;
        /** One life after two deaths of update 1 (a suspect): what happened, in order. */
        const lifeWithSuspect = async (attempt: number) => {
            const path = join(dir, `timeout-before-trial-${attempt}.db`);
            const store = openStore(path);
            for (let death = 0; death < 2; death++) {
                const journal = Journal.open<Update>(store, botId); // abandoned: a death without a record
                journal.recover();
                if (death === 0) journal.append([message(1, 5), message(2, 5)], 3);
                await journal.markStarted(1);
            }
            store.close();
            const events: string[] = [];
            const bot = rig!.bot();
            bot.on("message", async (ctx) => {
                events.push(`start ${ctx.update.update_id}`);
                await delay(10);
                events.push(`end ${ctx.update.update_id}`);
            });
            const handle = run(bot, {
                store: path,
                signals: false,
                journal: { onFlush: (ids) => void (ids.includes(1) && events.push("1 recorded done")) },
                sink: { timeout: { milliseconds: 5, handler: (update) => void events.push(`timeout ${update.update_id}`) } },
            });
            await until(() => events.includes("end 1") && events.includes("end 2"), 5_000, "both updates");
            await handle.stop();
            return events;
        };
        // The trial starts at a random moment of the first second: now and then within the 5 ms timeout. Such a
        // life does not test the case, so another is lived (three in a row: about one chance in a million).
        let events = await lifeWithSuspect(0);
        for (let attempt = 1; attempt < 3 && events.indexOf("timeout 1") > events.indexOf("start 1"); attempt++) {
            events = await lifeWithSuspect(attempt);
        }
        assert.ok(events.indexOf("timeout 1") < events.indexOf("start 1"), `update 1 timed out while it waited: ${events.join(", ")}`);
        assert.ok(events.indexOf("start 1") < events.indexOf("1 recorded done"), `recorded done only after it ran: ${events.join(", ")}`);
    });

    it("counts a handler that timed out as done, so it is not replayed", async () => {
        rig = await startRig();
        const path = join(dir, "timeout.db");
        const bot = rig.bot();
        const timedOut: number[] = [];
        bot.on("message", async (ctx) => {
            if (ctx.message.text === "hang") await new Promise(() => {});
        });
        rig.sim.pushMessage(rig.token, { chatId: 1, text: "hang" });
        rig.sim.pushMessage(rig.token, { chatId: 1, text: "after" });
        const handle = run(bot, {
            store: path,
            signals: false,
            sink: { timeout: { milliseconds: 50, handler: (update) => void timedOut.push(update.update_id) } },
        });
        await until(() => timedOut.length === 1 && handle.size() === 0, 5_000, "the timeout and the next update");
        await handle.stop();
        assert.deepEqual(timedOut, [1]);
        const check = openStore(path);
        const reread = Journal.open(check, rig.botInfo.id);
        assert.equal(reread.unfinishedCount(), 0);
        reread.close();
        check.close();
    });
});
