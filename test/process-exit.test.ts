import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";

let rig: TestRig | undefined;
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});

interface ChildBot extends Child {
    handled: number[];
    stopped: () => boolean;
}

function startChildBot(env: Record<string, string>): ChildBot {
    const handled: number[] = [];
    let stopped = false;
    const child = spawnScript("test/helpers/child-bot.ts", env, (line) => {
        const event = JSON.parse(line) as { handled?: number; stopped?: boolean };
        if (event.handled !== undefined) handled.push(event.handled);
        if (event.stopped) stopped = true;
    });
    return { ...child, handled, stopped: () => stopped };
}

describe("a bot in a child process", () => {
    it("exits by itself once stop() resolved: nothing of sluice keeps the event loop alive", async () => {
        rig = await startRig();
        for (let i = 0; i < 10; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + i, text: "x" });
        const bot = startChildBot({ API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, STOP_AFTER: "10" });
        await until(bot.stopped, 15_000, "the child to stop");
        const stoppedAt = Date.now();
        const [code] = await bot.exit;
        assert.equal(code, 0);
        assert.ok(Date.now() - stoppedAt < 2_000, "the process ended right after stop()");
        assert.equal(rig.sim.confirmedOffset(rig.token), 11);
    });

    it("drains on SIGTERM: every accepted update is handled, confirmed, and the process exits 0", async () => {
        rig = await startRig();
        const bot = startChildBot({ API_ROOT: rig.sim.apiRoot, BOT_TOKEN: rig.token, WORK_MS: "200" });
        for (let i = 0; i < 50; i++) rig.sim.pushMessage(rig.token, { chatId: 1 + (i % 25), text: "x" });
        await until(() => bot.handled.length > 0 && rig!.sim.pending(rig!.token) === 0, 15_000, "the child to fetch");
        bot.process.kill("SIGTERM");
        const [code, signal] = await bot.exit;
        assert.equal(signal, null);
        assert.equal(code, 0);
        assert.equal(bot.handled.length, 50, "in-flight and waiting updates were finished");
        assert.equal(rig.sim.confirmedOffset(rig.token), 51);
    });
});
