import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createOutbox, createTasks, openStore } from "../src/index.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("cli");
const TOKEN = "123456:cli-test-token-never-printed";

/** Runs `sluice <args>` as a child process to its end. */
function sluice(...args: string[]): { code: number | null; stdout: string; stderr: string } {
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
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
});
