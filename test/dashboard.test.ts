import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { createLogger, joinCluster, run } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { clusterNames, redisProxy } from "./helpers/redis.js";
import { tempDir } from "./helpers/temp-dir.js";

/** Debian's Chromium, which `.ci/run` installs; playwright-core brings no browser of its own. */
const CHROMIUM = "/usr/bin/chromium";
const chromiumMissing = !existsSync(CHROMIUM);
const skip =
    chromiumMissing && !process.env.CI
        ? `Chromium is not installed at ${CHROMIUM}; \`apt-get install chromium\` to run the dashboard's browser test`
        : false;

const TOKEN = "dashboard-token-0123456789abcdef";
const SCREENSHOT = "test-artifacts/dashboard.png";
/** Mailboxes the `digest` task cannot deliver to (until one is fixed). */
const unreachableMailboxes = new Set(["ops@example.com", "old@example.com"]);
/** Chats of the dead letters: one requeued by a click, one left for the screenshot. */
const REQUEUED_CHAT = 7001;
const BLOCKED_CHAT = 7002;

describe("the dashboard in headless Chromium", { skip, timeout: 60_000 }, () => {
    const dir = tempDir("dashboard");
    let rig: TestRig;
    let handle: ReturnType<typeof run>;
    let url: string;
    let browser: Browser;
    let page: Page;
    let feeder: NodeJS.Timeout | undefined;
    /** Every URL the page asked for: the token must never be in one. */
    const requested: string[] = [];

    before(async () => {
        if (chromiumMissing) {
            throw new Error(
                `CI must run the dashboard's browser test, but ${CHROMIUM} is missing: \`apt-get install chromium\` (.ci/run does).`,
            );
        }
        rig = await startRig();
        const bot = rig.bot();
        // A few milliseconds of work each, so some handlers are running when a snapshot is taken.
        bot.on("message", () => new Promise((resolve) => setTimeout(resolve, Math.random() * 20)));
        const digest = (payload: { to: string }) => {
            if (unreachableMailboxes.has(payload.to)) throw new Error(`the mail server refused ${payload.to}: 550 mailbox unavailable`);
        };
        handle = run(bot, {
            store: join(dir, "bot.db"),
            // Slow on purpose: the campaign is still running when the test pauses it.
            outbox: { globalPerSecond: 4 },
            tasks: { handlers: { digest: (payload) => digest(payload as { to: string }) } },
            admin: { port: 0, token: TOKEN },
            signals: false,
        });
        url = (await handle.admin!).url;
        browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
        page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
        page.on("request", (request) => requested.push(request.url()));
        await page.goto(url);
    });
    after(async () => {
        clearInterval(feeder);
        await browser?.close();
        await handle?.stop();
        await rig?.close();
    });

    /** Calls the admin API as a script would. */
    async function api(method: string, path: string, body?: unknown) {
        const response = await fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        assert.ok(response.ok, `${method} ${path}: ${response.status}`);
        // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as a client would.
        return (await response.json()) as Record<string, any>;
    }

    /** Resolves once `holds()` does, checked every 50 ms; rejects after 10 s. */
    async function eventually(holds: () => Promise<boolean>, what: string): Promise<void> {
        const deadline = Date.now() + 10_000;
        while (!(await holds())) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    }

    /** Resolves once the API's answer for `path` satisfies `check`. */
    const untilApi = (path: string, check: (answer: Record<string, unknown>) => boolean, what: string) =>
        eventually(async () => check(await api("GET", path)), what);

    /** The page's number in the element with this test id (`12,345` reads 12345; a dash, NaN). */
    const numberIn = async (testId: string) => Number((await page.getByTestId(testId).textContent())?.replaceAll(",", ""));

    it("refuses a wrong token with a message, then opens with the right one", async () => {
        await page.getByTestId("login-token").fill("wrong-token-0123456789abcdef");
        await page.getByTestId("login-submit").click();
        await page.getByTestId("login-error").waitFor({ state: "visible" });
        assert.match((await page.getByTestId("login-error").textContent()) ?? "", /refused/);
        assert.equal(await page.getByTestId("dashboard").isVisible(), false);

        await page.getByTestId("login-token").fill(TOKEN);
        await page.getByTestId("login-submit").click();
        await page.getByTestId("dashboard").waitFor({ state: "visible" });
        await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    });

    it("shows the updates counter rising while the simulator feeds updates", async () => {
        await until(() => handle.isRunning(), 5_000, "polling");
        await eventually(async () => !Number.isNaN(await numberIn("updates-handled")), "the first snapshot");
        const before = await numberIn("updates-handled");
        // Waves of messages from 200 chats, a few every 200 ms, for as long as the test runs: the chart gets a curve.
        let tick = 0;
        feeder = setInterval(() => {
            tick++;
            const count = Math.round(8 + 7 * Math.sin(tick / 6));
            rig.sim.pushMessages(
                rig.token,
                Array.from({ length: count }, (_, i) => ({ chatId: 1 + ((tick * 31 + i) % 200), text: "hello" })),
            );
        }, 200);
        await eventually(async () => (await numberIn("updates-handled")) >= before + 50, "the page's counter to rise");
        await eventually(async () => (await numberIn("updates-rate")) > 0, "the page's rate");
    });

    it("requeues a dead letter by a click", async () => {
        rig.sim.blockChat(rig.token, REQUEUED_CHAT);
        rig.sim.blockChat(rig.token, BLOCKED_CHAT);
        const { id } = await api("POST", "/v1/messages", { method: "sendMessage", payload: { chat_id: REQUEUED_CHAT, text: "hi" } });
        await api("POST", "/v1/messages", { method: "sendMessage", payload: { chat_id: BLOCKED_CHAT, text: "hi" } });
        await untilApi(`/v1/messages/${id}`, (message) => message.state === "dead", "the dead letter");
        // The user unblocked the bot: the same message can go now.
        rig.sim.setChatState(rig.token, REQUEUED_CHAT, "active");
        await page.getByTestId(`dead-letter-${id}-requeue`).click();
        await untilApi(`/v1/messages/${id}`, (message) => message.state === "sent", "the requeued message to be sent");
        await page.getByTestId(`dead-letter-${id}`).waitFor({ state: "detached" });
        assert.match((await page.getByTestId("action-done").textContent()) ?? "", new RegExp(`Message ${id} requeued`));
    });

    it("retries a dead task by a click", async () => {
        const tasks = handle.tasks!;
        await tasks.addMany(Array.from({ length: 20 }, (_, i) => ({ name: "digest", payload: { to: `user${i}@example.com` } })));
        const [fixed, broken] = await tasks.addMany(
            ["ops@example.com", "old@example.com"].map((to) => ({ name: "digest", payload: { to }, maxAttempts: 1 })),
        );
        await eventually(async () => tasks.status(broken!.id)?.state === "dead" && tasks.status(fixed!.id)?.state === "dead", "dead tasks");
        unreachableMailboxes.delete("ops@example.com");
        await page.getByTestId(`dead-task-${fixed!.id}-retry`).click();
        await eventually(async () => tasks.status(fixed!.id)?.state === "done", "the retried task to be done");
        await page.getByTestId(`dead-task-${fixed!.id}`).waitFor({ state: "detached" });
        await eventually(async () => (await numberIn("tasks-done")) >= 21, "the page's count of done tasks");
    });

    it("pauses and resumes a running campaign by clicks", async () => {
        const { id } = await api("POST", "/v1/campaigns", { name: "November news", message: { text: "news" } });
        await api(
            "POST",
            `/v1/campaigns/${id}/recipients`,
            Array.from({ length: 300 }, (_, i) => ({ chatId: 10_000 + i })),
        );
        await api("POST", `/v1/campaigns/${id}/start`);

        await page.getByTestId(`campaign-${id}-pause`).click();
        await untilApi(`/v1/campaigns/${id}`, (stats) => stats.state === "paused", "the campaign to be paused");
        await page.getByTestId(`campaign-${id}-state`).filter({ hasText: "paused" }).waitFor();

        await page.getByTestId(`campaign-${id}-resume`).click();
        await untilApi(`/v1/campaigns/${id}`, (stats) => stats.state === "running", "the campaign to run again");
        await page.getByTestId(`campaign-${id}-state`).filter({ hasText: "running" }).waitFor();
        await page.getByTestId(`campaign-${id}-pause`).waitFor({ state: "visible" });
    });

    it("keeps a screenshot, and never puts the token in the page or a URL", async () => {
        // A few more seconds of traffic after the clicks, so both charts have a curve and the campaign a rate.
        const since = await numberIn("outbox-sent");
        await eventually(async () => (await numberIn("outbox-sent")) >= since + 8, "more sends");
        mkdirSync("test-artifacts", { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        assert.ok(existsSync(SCREENSHOT));
        assert.ok(!(await page.content()).includes(TOKEN), "the token is not in the page");
        assert.ok(!requested.some((address) => address.includes(TOKEN)), "the token is in no URL");
    });

    it("asks before cancelling a campaign, and shows the API's refusal on the page", async () => {
        const { id } = await api("POST", "/v1/campaigns", { name: "Welcome back", message: { text: "hey" } });
        await api("POST", `/v1/campaigns/${id}/recipients`, [{ chatId: 20_000 }]);
        // While the page asks for confirmation, another operator (the CLI, say) cancels it first: the page's call meets a 409.
        page.once("dialog", async (dialog) => {
            assert.match(dialog.message(), /cannot be undone/);
            await api("POST", `/v1/campaigns/${id}/cancel`);
            await dialog.accept();
        });
        await page.getByTestId(`campaign-${id}-cancel`).click();
        await page.getByTestId("action-error").filter({ hasText: "CAMPAIGN_STATE" }).waitFor();
        await page.getByTestId(`campaign-${id}-state`).filter({ hasText: "cancelled" }).waitFor();
    });

    it("logs out back to the login, forgetting the token", async () => {
        await page.getByTestId("logout").click();
        await page.getByTestId("login").waitFor({ state: "visible" });
        assert.equal(await page.evaluate("sessionStorage.length"), 0);
        assert.equal(await page.getByTestId("dashboard").isVisible(), false);
    });
});

describe("the dashboard of a cluster node while Redis is unreachable", { skip, timeout: 60_000 }, () => {
    const newCluster = clusterNames("dashboard");

    it("keeps answering: Redis shown down, the dead letters unknown rather than absent", async () => {
        assert.ok(!chromiumMissing, `CI must run the dashboard's browser test, but ${CHROMIUM} is missing: \`apt-get install chromium\`.`);
        const rig = await startRig();
        const proxy = await redisProxy();
        const quiet = createLogger({ level: "silent" });
        const cluster = await joinCluster({ redis: proxy.url, name: newCluster(), partitions: 4, signals: false, logger: quiet });
        const handle = run(rig.bot(), { cluster, outbox: true, signals: false, logger: quiet, admin: { port: 0, token: TOKEN } });
        const browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
        try {
            const page = await browser.newPage();
            await page.goto((await handle.admin!).url);
            await page.getByTestId("login-token").fill(TOKEN);
            await page.getByTestId("login-submit").click();
            await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
            await page.getByTestId("dead-letters").getByText("None: every message was sent").waitFor();
            proxy.cut();
            await page.getByTestId("dead-letters-total").filter({ hasText: "unknown" }).waitFor();
            assert.equal(await page.getByTestId("dead-letters").getByText("This bot has no outbox").isVisible(), false);
            assert.equal(await page.getByTestId("connection").filter({ hasText: "live" }).count(), 1, "the page still gets snapshots");
            await proxy.restore();
            // Known again once Redis answers: none, so no total.
            const total = () => page.getByTestId("dead-letters-total").textContent();
            for (const deadline = Date.now() + 10_000; (await total()) !== "" && Date.now() < deadline; ) {
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            assert.equal(await total(), "");
        } finally {
            await browser.close();
            await handle.stop();
            await cluster.leave();
            await proxy.close();
            await rig.close();
        }
    });
});
