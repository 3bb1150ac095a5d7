import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { createOutbox, createTasks, openStore, PermanentTaskError, run } from "../src/index.js";
import { Quarantine } from "../src/journal/quarantine.js";
import { startRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("cli-store");

/** Runs `sluice <args>` as a child process without blocking this one (which may be the bot the command works on). */
async function sluice(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
            encoding: "utf8",
            env: { ...process.env, ...env },
        });
        return { code: 0, stdout, stderr };
    } catch (error) {
        const failed = error as { code: number; stdout: string; stderr: string };
        return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
}

/** Runs a command that must succeed and returns its JSON output. */
async function json<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
    const result = await sluice([...args, "--json"], env);
    assert.equal(result.code, 0, `sluice ${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
}

describe("the sluice command on a store file", () => {
    it("works on a store no bot runs on, says that what it wrote waits for the bot, and refuses what it cannot do", async () => {
        const path = join(dir, "idle.db");
        const botId = 424242;
        const store = openStore(path);
        const outbox = createOutbox({ store, api: { token: `${botId}:idle-test-token`, raw: {} } });
        await outbox.close();
        const tasks = createTasks({
            store,
            botId,
            handlers: {
                fails: () => {
                    throw new PermanentTaskError("the report has no data");
                },
            },
        });
        const { id: deadTask } = await tasks.add("fails", { day: 1 });
        await tasks.done(deadTask).catch(() => {});
        await tasks.close();
        new Quarantine<Record<string, unknown>>(store, botId).add(
            { update_id: 77, message: { chat: { id: 9 }, text: "poison" } },
            { judgement: "observed-exit", attempts: 3, lastExit: "uncaught exception: Error: boom" },
            Date.now(),
        );
        store.close();
        const on = ["--store", path];

        const sent = await sluice(["send", "--chat", "5", "--text", "later", ...on]);
        assert.equal(sent.code, 0, sent.stderr);
        assert.match(sent.stdout, /queued as message \d+/);
        assert.match(sent.stderr, /no process runs the outbox of bot 424242 .* when the bot \(or `sluice serve`\) starts/);

        const { id } = await json<{ id: number }>(["campaign", "create", "--name", "shell", "--text", "news", ...on]);
        const csv = join(dir, "three.csv");
        writeFileSync(csv, "chat_id\n1\n2\n3\n");
        assert.equal((await sluice(["campaign", "add", String(id), csv, ...on])).code, 0);
        assert.equal((await json<{ state: string }>(["campaign", "start", String(id), ...on])).state, "running");
        assert.equal((await json<{ state: string }>(["campaign", "pause", String(id), ...on])).state, "paused");
        const refused = await sluice(["campaign", "pause", String(id), ...on]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /is paused and cannot pause/);
        const cancelled = await json<{ state: string; skipped: number; pending: number }>(["campaign", "cancel", String(id), ...on]);
        assert.deepEqual([cancelled.state, cancelled.skipped, cancelled.pending], ["cancelled", 3, 0]);

        const [quarantined] = await json<{ updateId: number; judgement: string }[]>(["quarantine", "list", ...on]);
        assert.deepEqual([quarantined!.updateId, quarantined!.judgement], [77, "observed-exit"]);
        assert.equal((await sluice(["quarantine", "retry", "77", ...on])).code, 0);
        assert.equal((await json<{ retryRequested?: boolean }[]>(["quarantine", "list", ...on]))[0]!.retryRequested, true);
        assert.equal((await sluice(["quarantine", "drop", "77", ...on])).code, 0);
        assert.deepEqual(await json(["quarantine", "list", ...on]), []);

        const [dead] = await json<{ id: number; error: string }[]>(["tasks", "dead", ...on]);
        assert.deepEqual([dead!.id, dead!.error], [deadTask, "the report has no data"]);
        assert.equal((await sluice(["tasks", "retry", String(deadTask), ...on])).code, 0);
        assert.deepEqual(await json(["tasks", "dead", ...on]), []);

        const unknownBot = await sluice(["dlq", "list", ...on, "--bot", "x1"]);
        assert.equal(unknownBot.code, 1);
        assert.match(unknownBot.stderr, /--bot takes a bot's numeric id/);
        const missing = await sluice(["dlq", "list", "--store", join(dir, "nowhere.db")]);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /There is no store at .*nowhere\.db/);
        const both = await sluice(["dlq", "list", ...on, "--url", "http://127.0.0.1:1"]);
        assert.equal(both.code, 1);
        assert.match(both.stderr, /either --store .* or --url/);
    });

    it("is noticed by the bot running on the store within a second: sends, campaigns, pauses, retries", async () => {
        const rig = await startRig();
        const path = join(dir, "owned.db");
        const bot = rig.bot();
        const handled: number[] = [];
        bot.on("message", (ctx) => void handled.push(ctx.update.update_id));
        let reportRuns = 0;
        const handle = run(bot, {
            store: path,
            outbox: { globalPerSecond: 20, groupPerMinute: 1_000 },
            tasks: {
                handlers: {
                    report: () => {
                        if (++reportRuns === 1) throw new PermanentTaskError("first run fails");
                    },
                },
            },
            signals: false,
        });
        const on = ["--store", path];
        const sentTexts = () => rig.sim.sent(rig.token).map((call) => call.payload.text);
        try {
            // A message queued by the command is sent by the bot within a second of the command's end.
            const sent = await sluice(["send", "--chat", "5", "--text", "from the shell", ...on]);
            assert.equal(sent.code, 0, sent.stderr);
            assert.equal(sent.stderr, "", "the bot runs: no note");
            const queuedAt = Date.now();
            await until(() => sentTexts().includes("from the shell"), 5_000, "the message sent");
            const noticedMs = Date.now() - queuedAt;
            assert.ok(noticedMs < 1_000, `sent ${noticedMs} ms after the command queued it`);

            // A campaign made, filled and started by the command is sent by the bot; pausing stops it within a second.
            const { id } = await json<{ id: number }>(["campaign", "create", "--name", "owned", "--text", "news", ...on]);
            const csv = join(dir, "hundred.csv");
            writeFileSync(csv, `chat_id\n${Array.from({ length: 100 }, (_, n) => 1_000 + n).join("\n")}\n`);
            assert.equal((await sluice(["campaign", "add", String(id), csv, ...on])).code, 0);
            assert.equal((await json<{ state: string }>(["campaign", "start", String(id), ...on])).state, "running");
            const news = () => sentTexts().filter((text) => text === "news").length;
            await until(() => news() >= 10, 5_000, "the campaign sending");
            assert.equal((await json<{ state: string }>(["campaign", "pause", String(id), ...on])).state, "paused");
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            const atPause = news();
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            assert.equal(news(), atPause, "nothing of a paused campaign is sent a second after the pause");
            assert.ok(atPause < 100, "the pause came before the end");
            const paused = handle.outbox!.campaigns.stats(id);
            assert.equal(paused.state, "paused");
            assert.equal(paused.sent + paused.pending, 100, "withdrawn recipients are pending again");
            assert.equal((await json<{ state: string }>(["campaign", "resume", String(id), ...on])).state, "running");
            const final = await handle.outbox!.campaigns.finished(id);
            assert.deepEqual([final.state, final.sent], ["finished", 100]);
            assert.equal(news(), 100, "each recipient got it once");

            // A quarantined update retried by the command is handled by the bot.
            const store = openStore(path);
            try {
                const update = { update_id: 9_999, message: { message_id: 1, date: 0, chat: { id: 9, type: "private" }, text: "again" } };
                new Quarantine<Record<string, unknown>>(store, rig.botInfo.id).add(
                    update,
                    { judgement: "observed-exit", attempts: 3, lastExit: undefined },
                    0,
                );
            } finally {
                store.close();
            }
            assert.equal((await sluice(["quarantine", "retry", "9999", ...on])).code, 0);
            await until(() => handled.includes(9_999), 2_000, "the retried update handled");
            assert.deepEqual(handle.journal!.quarantined(), []);

            // A dead task retried by the command is run by the bot.
            const { id: task } = await handle.tasks!.add("report", {});
            await assert.rejects(handle.tasks!.done(task), /first run fails/);
            assert.equal((await sluice(["tasks", "retry", String(task), ...on])).code, 0);
            await until(() => handle.tasks!.status(task)?.state === "done", 2_000, "the retried task done");
        } finally {
            await handle.stop();
            await rig.close();
        }
    });

    for (const mode of ["store", "url"] as const) {
        it(`runs every operating command against a running bot through its ${mode === "store" ? "store file" : "admin API"}`, async () => {
            const rig = await startRig();
            const ADMIN = "every-command-admin-token-0123";
            const path = join(dir, `every-${mode}.db`);
            const bot = rig.bot();
            const handled: number[] = [];
            bot.on("message", (ctx) => void handled.push(ctx.update.update_id));
            let runs = 0;
            const handle = run(bot, {
                store: path,
                outbox: { globalPerSecond: 2 },
                tasks: {
                    handlers: {
                        flaky: () => {
                            if (++runs === 1) throw new PermanentTaskError("fails once");
                        },
                    },
                },
                admin: { token: ADMIN, port: 0 },
                signals: false,
            });
            try {
                const on = mode === "store" ? ["--store", path] : ["--url", (await handle.admin!).url, "--token", ADMIN];
                const outbox = handle.outbox!;
                rig.sim.blockChat(rig.token, 40);
                const { id: letter } = outbox.enqueue({ method: "sendMessage", payload: { chat_id: 40, text: "dead" } });
                await assert.rejects(outbox.sent(letter));
                const { id: task } = await handle.tasks!.add("flaky", {});
                await assert.rejects(handle.tasks!.done(task));
                const store = openStore(path);
                const update = { update_id: 5_000, message: { message_id: 1, date: 0, chat: { id: 41, type: "private" }, text: "q" } };
                new Quarantine<Record<string, unknown>>(store, rig.botInfo.id).add(
                    update,
                    { judgement: "observed-exit", attempts: 3, lastExit: undefined },
                    0,
                );
                store.close();
                const { id: campaign } = outbox.campaigns.create({ name: "every", message: { text: "all" } });
                await outbox.campaigns.addRecipients(
                    campaign,
                    Array.from({ length: 50 }, (_, n) => ({ chatId: 100 + n })),
                );
                outbox.campaigns.start(campaign);

                assert.deepEqual(
                    (await json<{ id: number }[]>(["dlq", "list", ...on])).map((l) => l.id),
                    [letter],
                );
                rig.sim.setChatState(rig.token, 40, "active");
                await json(["dlq", "requeue", String(letter), ...on]);
                await until(() => outbox.status(letter)?.state === "sent", 5_000, "the requeued letter sent");
                assert.deepEqual(await json(["dlq", "purge", ...on]), { purged: 0 });
                assert.equal((await json<{ name: string }[]>(["campaign", "list", ...on]))[0]!.name, "every");
                assert.equal((await json<{ state: string }>(["campaign", "pause", String(campaign), ...on])).state, "paused");
                assert.equal((await json<{ state: string }>(["campaign", "resume", String(campaign), ...on])).state, "running");
                assert.equal((await json<{ state: string }>(["campaign", "cancel", String(campaign), ...on])).state, "cancelled");
                const final = await outbox.campaigns.finished(campaign);
                assert.equal(final.sent + final.skipped, 50, "every recipient sent or skipped");
                assert.equal((await json<{ state: string }>(["campaign", "stats", String(campaign), ...on])).state, "cancelled");
                assert.deepEqual(
                    (await json<{ updateId: number }[]>(["quarantine", "list", ...on])).map((q) => q.updateId),
                    [5_000],
                );
                await json(["quarantine", "retry", "5000", ...on]);
                await until(() => handled.includes(5_000), 2_000, "the retried update handled");
                assert.deepEqual(await json(["quarantine", "list", ...on]), []);
                assert.equal((await sluice(["quarantine", "drop", "5000", ...on])).code, 1, "nothing left to drop");
                assert.deepEqual(
                    (await json<{ id: number }[]>(["tasks", "dead", ...on])).map((t) => t.id),
                    [task],
                );
                await json(["tasks", "retry", String(task), ...on]);
                await until(() => handle.tasks!.status(task)?.state === "done", 2_000, "the retried task done");
            } finally {
                await handle.stop();
                await rig.close();
            }
        });
    }

    it("serve sends a bot's outbox and campaigns without polling, behind the admin API, and stops on SIGTERM", async () => {
        const rig = await startRig();
        const ADMIN = "serve-admin-token-0123456789";
        let url = "";
        const server = spawnScript(
            "src/cli/main.ts",
            { BOT_TOKEN: rig.token, BOT_API_ROOT: rig.sim.apiRoot, SLUICE_ADMIN_TOKEN: ADMIN },
            (line) => {
                url = /on (http:\S+)/.exec(line)?.[1] ?? url;
            },
            ["serve", "--store", join(dir, "serve.db"), "--port", "0"],
        );
        try {
            await until(() => url !== "", 10_000, "the server's address");
            const remote = ["--url", url, "--token", ADMIN];
            assert.equal((await sluice(["send", "--chat", "8", "--text", "served", ...remote])).code, 0);
            await until(() => rig.sim.sent(rig.token).some((call) => call.payload.text === "served"), 5_000, "the served message");
            const { id } = await json<{ id: number }>(["campaign", "create", "--name", "served", "--text", "all", ...remote]);
            const csv = join(dir, "five.csv");
            writeFileSync(csv, "chat_id\n11\n12\n13\n14\n15\n");
            assert.equal((await sluice(["campaign", "add", String(id), csv, ...remote])).code, 0);
            await json(["campaign", "start", String(id), ...remote]);
            await until(() => rig.sim.sent(rig.token).filter((call) => call.payload.text === "all").length === 5, 5_000, "the campaign");
            assert.equal(rig.sim.calls(rig.token, "getUpdates").length, 0, "serve does not poll");
            const ready = await fetch(`${url}/readyz`);
            assert.equal(ready.status, 200);
            server.process.kill("SIGTERM");
            assert.deepEqual(await server.exit, [0, null]);
        } finally {
            await rig.close();
        }
    });

    it("send with neither --store nor --url sends now for the bot of BOT_TOKEN and prints Telegram's answer", async () => {
        const rig = await startRig();
        try {
            const env = { BOT_TOKEN: rig.token, BOT_API_ROOT: rig.sim.apiRoot };
            const sent = await sluice(["send", "--chat", "12", "--text", "right now"], env);
            assert.equal(sent.code, 0, sent.stderr);
            assert.match(sent.stdout, /sent as message \d+ in chat 12/);
            assert.ok(rig.sim.sent(rig.token).some((call) => call.payload.text === "right now"));
            const refused = await sluice(["send", "--chat", "12", "--text", "x"], { ...env, BOT_TOKEN: "" });
            assert.equal(refused.code, 1);
            assert.match(refused.stderr, /Set BOT_TOKEN/);
            rig.sim.blockChat(rig.token, 13);
            const blocked = await sluice(["send", "--chat", "13", "--text", "x"], env);
            assert.equal(blocked.code, 1);
            assert.match(blocked.stderr, /blocked/);
            assert.ok(!blocked.stderr.includes(rig.token.split(":")[1]!), "no token in the error");
        } finally {
            await rig.close();
        }
    });
});
