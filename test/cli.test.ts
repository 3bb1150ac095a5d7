import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { createOutbox, createTasks, openStore, run } from "../src/index.js";
import { startRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("cli");
const TOKEN = "123456:cli-test-token-never-printed";

/** Runs `sluice <args>` as a child process to its end. */
function sluice(...args: string[]): { code: number | null; stdout: string; stderr: string } {
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Runs `sluice <args>` without blocking this process (which may be the bot the command talks to). */
async function sluiceAsync(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
            encoding: "utf8",
        });
        return { code: 0, stdout, stderr };
    } catch (error) {
        const failed = error as { code: number; stdout: string; stderr: string };
        return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
}

describe("the sluice command", () => {
    it("status reads a store, also while a process owns it, as text or JSON, without printing tokens", async () => {
        const path = join(dir, "status.db");
        const store = openStore(path);
        const api = { token: TOKEN, raw: {} };
        const outbox = createOutbox({ store, api });
        const tasks = createTasks({ store, botId: 123456, handlers: { later: () => {} } });
        try {
            outbox.enqueue({ method: "sendMessage", payload: { chat_id: 1, text: "hi" }, notBefore: new Date(Date.now() + 3_600_000) });
            const { id } = outbox.campaigns.create({ name: "news", message: { text: "hi" } });
            await outbox.campaigns.addRecipients(id, [{ chatId: 1 }, { chatId: 2 }]);
            await tasks.add("later", {}, { delayMs: 3_600_000 });

            const json = sluice("status", "--store", path, "--json");
            assert.equal(json.code, 0, json.stderr);
            const [bot] = JSON.parse(json.stdout) as {
                botId: number;
                owners: { role: string; pid: number }[];
                outbox: { queued: number };
                campaigns: { name: string; pending: number }[];
                tasks: { queued: number };
            }[];
            assert.equal(bot!.botId, 123456);
            assert.deepEqual(
                bot!.owners.map((owner) => [owner.role, owner.pid]),
                [
                    ["outbox", process.pid],
                    ["tasks", process.pid],
                ],
            );
            assert.equal(bot!.outbox.queued, 1);
            assert.deepEqual(
                bot!.campaigns.map((c) => [c.name, c.pending]),
                [["news", 2]],
            );
            assert.equal(bot!.tasks.queued, 1);

            const text = sluice("status", "--store", path);
            assert.equal(text.code, 0);
            assert.match(text.stdout, /campaign 1 "news" draft: 0 sent, 0 failed, 0 skipped, 2 pending of 2/);
            assert.ok(!`${text.stdout}${json.stdout}`.includes("cli-test-token"), "no token in the output");
        } finally {
            await tasks.close();
            await outbox.close();
            store.close();
        }
    });

    it("exits 2 on a usage error and 1 on a store it cannot read, saying what to do", () => {
        const usage = sluice("status");
        assert.equal(usage.code, 2);
        assert.match(usage.stderr, /--store/);
        const missing = sluice("status", "--store", join(dir, "missing.db"));
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /Cannot open the store .*missing\.db.*Check the path/);
    });

    it("simulator serves the Bot API and prints its apiRoot and a token", async () => {
        let printed: { apiRoot: string; token: string } | undefined;
        const child = spawnScript("src/cli/main.ts", {}, (line) => void (printed = JSON.parse(line)), [
            "simulator",
            "--port",
            "0",
            "--json",
        ]);
        const deadline = Date.now() + 15_000;
        while (printed === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(printed, "the simulator printed where it listens");
        const me = (await (await fetch(`${printed.apiRoot}/bot${printed.token}/getMe`)).json()) as {
            ok: boolean;
            result: { is_bot: boolean };
        };
        assert.equal(me.ok, true);
        assert.equal(me.result.is_bot, true);
        child.process.kill("SIGTERM");
        const [code] = await child.exit;
        assert.equal(code, 0);
    });

    it("operates a running bot through its admin API: send, campaigns, dead letters, the quarantine", async () => {
        const rig = await startRig();
        rig.sim.blockChat(rig.token, 66);
        const bot = rig.bot();
        bot.on("message", () => {});
        const ADMIN = "cli-admin-token-0123456789";
        const handle = run(bot, {
            store: join(dir, "remote.db"),
            outbox: { globalPerSecond: 500, privatePerSecond: 100 },
            admin: { token: ADMIN, port: 0 },
            signals: false,
        });
        try {
            const { url } = await handle.admin!;
            const remote = ["--url", url, "--token", ADMIN];
            const sent = await sluiceAsync("send", "--chat", "5", "--text", "from the shell", ...remote);
            assert.equal(sent.code, 0, sent.stderr);
            assert.match(sent.stdout, /queued as message \d+/);
            await until(() => rig.sim.sent(rig.token).some((call) => call.payload.text === "from the shell"), 5_000, "the message sent");

            const { id } = handle.outbox!.campaigns.create({ name: "shell", message: { text: "news" } });
            await handle.outbox!.campaigns.addRecipients(id, [{ chatId: 7 }, { chatId: 66 }]);
            const started = await sluiceAsync("campaign", "start", String(id), ...remote);
            assert.equal(started.code, 0, started.stderr);
            assert.match(started.stdout, /campaign \d+ "shell" running/);
            await handle.outbox!.campaigns.finished(id);
            const stats = JSON.parse((await sluiceAsync("campaign", "stats", String(id), "--json", ...remote)).stdout) as {
                sent: number;
                failed: number;
            };
            assert.deepEqual([stats.sent, stats.failed], [1, 1]);

            const watched = handle.outbox!.campaigns.create({ name: "watched", message: { text: "hi" } }).id;
            await handle.outbox!.campaigns.addRecipients(
                watched,
                Array.from({ length: 1_500 }, (_, n) => ({ chatId: 1_000 + n })),
            );
            handle.outbox!.campaigns.start(watched);
            const watch = await sluiceAsync("campaign", "stats", String(watched), "--watch", "--json", ...remote);
            assert.equal(watch.code, 0, watch.stderr);
            const looks = watch.stdout
                .trim()
                .split("\n")
                .map((line) => JSON.parse(line) as { state: string; sent: number });
            assert.ok(looks.length >= 2, `followed over ${looks.length} looks`);
            assert.equal(looks.at(-1)!.state, "finished");
            assert.equal(looks.at(-1)!.sent, 1_500);
            for (let n = 1; n < looks.length; n++) assert.ok(looks[n]!.sent >= looks[n - 1]!.sent, "counts only grow");

            const letters = await sluiceAsync("dlq", "list", ...remote);
            assert.match(letters.stdout, /chat 66 {2}blocked_by_user/);
            assert.match((await sluiceAsync("dlq", "purge", ...remote)).stdout, /1 purged/);
            assert.match((await sluiceAsync("quarantine", "list", ...remote)).stdout, /the quarantine is empty/);

            const wrong = await sluiceAsync("dlq", "list", "--url", url, "--token", "wrong-token-0123456789");
            assert.equal(wrong.code, 1);
            assert.match(wrong.stderr, /401/);
            assert.ok(!wrong.stderr.includes("wrong-token"), "the token is not echoed");
            const nowhere = await sluiceAsync("dlq", "list");
            assert.equal(nowhere.code, 1);
            assert.match(nowhere.stderr, /--url/);
        } finally {
            await handle.stop();
            await rig.close();
        }
    });

    it("creates a campaign and adds a 100,000-line CSV to it through the admin API", async () => {
        const rig = await startRig();
        const ADMIN = "cli-admin-token-0123456789";
        const handle = run(rig.bot(), {
            store: join(dir, "csv.db"),
            outbox: { templates: { hello: { en: "Hello, {name}!", de: "Hallo, {name}!" } } },
            admin: { token: ADMIN, port: 0 },
            signals: false,
        });
        try {
            const remote = ["--url", (await handle.admin!).url, "--token", ADMIN];
            const created = await sluiceAsync("campaign", "create", "--name", "csv", "--template", "hello", "--json", ...remote);
            assert.equal(created.code, 0, created.stderr);
            const { id } = JSON.parse(created.stdout) as { id: number };
            const csv = join(dir, "recipients.csv");
            const rows = ["chat_id,locale,name"];
            for (let n = 1; n <= 100_000; n++) rows.push(`${n},${n % 2 === 0 ? "de" : "en"},user ${n}`);
            rows.push("not-a-chat,en,nobody", "200000,en,");
            writeFileSync(csv, `${rows.join("\n")}\n`);
            const added = await sluiceAsync("campaign", "add", String(id), csv, ...remote);
            assert.equal(added.code, 0, added.stderr);
            assert.match(added.stdout, /added 100000, duplicates 0, rejected 2/);
            assert.match(added.stdout, /not a chat id/);
            assert.match(added.stdout, /"name"/);
            assert.equal(handle.outbox!.campaigns.stats(id).total, 100_000);
        } finally {
            await handle.stop();
            await rig.close();
        }
    });
});
