import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createAdminServer } from "../src/admin/admin-server.js";
import type { Snapshot } from "../src/admin/snapshot.js";
import { run } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { spawnScript } from "./helpers/child.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("admin");
const TOKEN = "admin-token-0123456789abcdef";
let rig: TestRig;
let handle: ReturnType<typeof run>;
let admin: Awaited<ReturnType<typeof createAdminServer>>;
const bodies: string[] = [];
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

/** Calls the admin API; every answer's text is kept to check no token ever leaks. */
async function call(method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string } = {}) {
    const headers: Record<string, string> = {};
    if (options.token !== null) headers.authorization = `Bearer ${options.token ?? TOKEN}`;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${admin.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    bodies.push(text);
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as a client would.
    return { status: response.status, json: text === "" ? undefined : (JSON.parse(text) as Record<string, any>) };
}

before(async () => {
    rig = await startRig();
    const bot = rig.bot();
    bot.on("message", () => {});
    handle = run(bot, {
        store: join(dir, "bot.db"),
        outbox: { globalPerSecond: 500, privatePerSecond: 100 },
        tasks: { handlers: { noop: () => {} } },
        metrics: true,
        signals: false,
    });
    admin = await createAdminServer({ handle, token: TOKEN, port: 0 });
});
after(async () => {
    await admin.close();
    await handle.stop();
    await rig.close();
    for (const text of bodies) {
        assert.ok(!text.includes(TOKEN), "the admin token never appears in an answer");
        assert.ok(!text.includes(rig.token.split(":")[1]!), "the bot token never appears in an answer");
    }
});

describe("admin API", () => {
    it("answers health checks without a token and everything else only with the right one", async () => {
        assert.equal((await call("GET", "/healthz", { token: null })).status, 200);
        await until(() => handle.isRunning(), 5_000, "polling");
        assert.equal((await call("GET", "/readyz", { token: null })).status, 200);
        for (const path of ["/v1/status", "/v1/dead-letters", "/v1/campaigns", "/v1/quarantine", "/v1/tasks/dead"]) {
            assert.equal((await call("GET", path, { token: null })).status, 401, path);
            assert.equal((await call("GET", path, { token: "wrong-token-0123456789abcdef" })).status, 401, path);
            assert.equal((await call("GET", path)).status, 200, path);
        }
        const metrics = await fetch(`${admin.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const exposition = await metrics.text();
        bodies.push(exposition);
        assert.equal(metrics.status, 200, exposition);
        assert.match(exposition, /^sluice_sink_running\{bot_id="\d+"\} \d+$/m);
        assert.equal((await call("GET", "/metrics", { token: null })).status, 401);
        const status = await call("GET", "/v1/status");
        assert.equal(status.json!.polling, true);
        assert.equal(status.json!.outbox.deadLetters, 0);
    });

    it("refuses bad bodies with a 400 naming the field, malformed JSON with a 400, and oversized bodies with a 413", async () => {
        const missing = await call("POST", "/v1/messages", { body: { method: "sendMessage" } });
        assert.equal(missing.status, 400);
        assert.equal(missing.json!.error.field, "body.payload");
        const wrongType = await call("POST", "/v1/campaigns", { body: { name: "x", message: {}, priority: "urgent" } });
        assert.equal(wrongType.status, 400);
        assert.equal(wrongType.json!.error.field, "body.priority");
        assert.equal((await call("POST", "/v1/messages", { raw: "{not json" })).status, 400);
        const huge = await call("POST", "/v1/messages", {
            body: { method: "sendMessage", payload: { chat_id: 1, text: "x".repeat(2_000_000) } },
        });
        assert.equal(huge.status, 413);
        const unknown = await call("GET", "/v1/campaigns/999");
        assert.deepEqual([unknown.status, unknown.json!.error.code], [404, "CAMPAIGN_UNKNOWN"]);
    });

    it("sends a message and drives a campaign end to end", async () => {
        const queued = await call("POST", "/v1/messages", { body: { method: "sendMessage", payload: { chat_id: 5, text: "hello" } } });
        assert.equal(queued.status, 201);
        await until(() => rig.sim.sent(rig.token).some((c) => c.payload.text === "hello"), 5_000, "the message sent");
        const message = await call("GET", `/v1/messages/${queued.json!.id}`);
        assert.equal(message.json!.state, "sent");

        const created = await call("POST", "/v1/campaigns", { body: { name: "api", message: { text: "news" } } });
        assert.equal(created.status, 201);
        const id = created.json!.id as number;
        const added = await call("POST", `/v1/campaigns/${id}/recipients`, { body: [{ chatId: 10 }, { chatId: 11 }, { chatId: "x" }] });
        assert.deepEqual([added.json!.added, added.json!.rejected], [2, 1]);
        assert.equal((await call("POST", `/v1/campaigns/${id}/start`)).json!.state, "running");
        await until(() => handle.outbox!.campaigns.stats(id).state === "finished", 5_000, "the campaign to finish");
        const stats = await call("GET", `/v1/campaigns/${id}`);
        assert.deepEqual([stats.json!.sent, stats.json!.pending], [2, 0]);
        const illegal = await call("POST", `/v1/campaigns/${id}/resume`);
        assert.deepEqual([illegal.status, illegal.json!.error.code], [409, "CAMPAIGN_STATE"]);
    });

    it("takes 100,000 recipients as streamed NDJSON without holding them in memory", async () => {
        const { json } = await call("POST", "/v1/campaigns", { body: { name: "upload", message: { text: "hi" } } });
        // Live heap, not garbage: collected before each sample.
        const liveHeap = () => {
            collectGarbage();
            return process.memoryUsage().heapUsed;
        };
        const before = liveHeap();
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, liveHeap())), 50);
        let answer: { status: number; body: { added: number } } | undefined;
        const uploader = spawnScript(
            "test/helpers/ndjson-upload.ts",
            { URL: `${admin.url}/v1/campaigns/${json!.id}/recipients`, TOKEN, N: "100000" },
            (line) => void (answer = JSON.parse(line)),
        );
        await uploader.exit;
        clearInterval(sampler);
        assert.equal(answer?.status, 200, JSON.stringify(answer));
        assert.equal(answer!.body.added, 100_000);
        // The body is about 4 MB of text, and 100,000 recipients held as objects would be several times that.
        assert.ok(peak - before < 8 * 2 ** 20, `heap grew ${((peak - before) / 2 ** 20).toFixed(1)} MB`);
    });
});

describe("run(bot, { admin })", () => {
    it("serves the admin API while the bot runs and closes it when the bot stops", async () => {
        const own = await startRig();
        const bot = own.bot();
        bot.on("message", () => {});
        const running = run(bot, { outbox: true, admin: { token: TOKEN, port: 0 }, signals: false });
        try {
            const server = await running.admin!;
            const status = await fetch(`${server.url}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
            assert.equal(status.status, 200);
            await running.stop();
            await assert.rejects(fetch(`${server.url}/healthz`), "the server closed with the bot");
        } finally {
            await running.stop();
            await own.close();
        }
    });

    it("refuses to start without a usable admin token", async () => {
        const own = await startRig();
        try {
            assert.throws(() => run(own.bot(), { admin: { token: "short" }, signals: false }), {
                code: "INVALID_OPTION",
                message: /admin\.token/,
            });
        } finally {
            await own.close();
        }
    });
});

/** The snapshots of an event stream, parsed, as the dashboard reads them. */
async function* snapshotsOf(response: Response): AsyncGenerator<Snapshot> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body!) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
            const [event, data] = buffer.slice(0, end).split("\n");
            buffer = buffer.slice(end + 2);
            assert.equal(event, "event: snapshot");
            bodies.push(data!);
            yield JSON.parse(data!.slice("data: ".length)) as Snapshot;
        }
    }
}

/** Opens `GET /v1/events` on `server` (this file's server unless told). */
function openEvents(options: { server?: { url: string }; token?: string; signal?: AbortSignal } = {}): Promise<Response> {
    return fetch(`${(options.server ?? admin).url}/v1/events`, {
        headers: { authorization: `Bearer ${options.token ?? TOKEN}` },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
}

describe("event stream (GET /v1/events)", () => {
    it("needs the token, then sends a snapshot at once and one a second after", async () => {
        assert.equal((await openEvents({ token: "wrong-token-0123456789abcdef" })).status, 401);
        const controller = new AbortController();
        const response = await openEvents({ signal: controller.signal });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
        const snapshots = snapshotsOf(response);
        const first = (await snapshots.next()).value as Snapshot;
        assert.equal(first.polling, true);
        assert.equal(first.outbox!.globalPerSecond, 500);
        assert.ok(first.updates !== null && first.sink !== null && first.tasks!.byState !== null, "the series are read");
        const handledBefore = first.updates!.handled.ok;
        rig.sim.pushMessages(rig.token, [
            { chatId: 31, text: "a" },
            { chatId: 32, text: "b" },
        ]);
        let latest = first;
        for await (const snapshot of snapshots) {
            assert.ok(snapshot.at - latest.at >= 900, "about a second apart");
            latest = snapshot;
            if (snapshot.updates!.handled.ok >= handledBefore + 2) break;
        }
        controller.abort();
        assert.ok(latest.journal!.offset > first.journal!.offset);
    });

    it("carries the first 20 dead letters and their total, and counts without reading them all", async () => {
        const chats = Array.from({ length: 25 }, (_, i) => 900 + i);
        for (const chat of chats) rig.sim.blockChat(rig.token, chat);
        const outbox = handle.outbox!;
        const before = outbox.deadLetterCount();
        outbox.enqueueMany(chats.map((chat_id) => ({ method: "sendMessage", payload: { chat_id, text: "hi" } })));
        await until(() => outbox.deadLetterCount() === before + 25, 10_000, "the dead letters");
        assert.equal(outbox.deadLetters(5).length, 5);
        assert.equal(outbox.unreachableCount(), outbox.unreachable().length);
        const controller = new AbortController();
        const { value: snapshot } = await snapshotsOf(await openEvents({ signal: controller.signal })).next();
        controller.abort();
        assert.equal(snapshot!.outbox!.deadLetters.total, before + 25);
        assert.equal(snapshot!.outbox!.deadLetters.items.length, 20);
        assert.deepEqual(snapshot!.outbox!.deadLetters.items[0]!.errorClass, "blocked_by_user");
        assert.equal(snapshot!.outbox!.unreachable, outbox.unreachableCount());
    });

    it("serves at most 32 streams, and a stream's place is free again once its client goes away", async () => {
        const own = await createAdminServer({ handle, token: TOKEN, port: 0 });
        const controllers = Array.from({ length: 32 }, () => new AbortController());
        try {
            const streams = await Promise.all(controllers.map((controller) => openEvents({ server: own, signal: controller.signal })));
            assert.deepEqual(new Set(streams.map((response) => response.status)), new Set([200]));
            const refused = await openEvents({ server: own });
            assert.equal(refused.status, 503);
            assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "TOO_MANY_STREAMS");
            controllers[0]!.abort();
            const late = new AbortController();
            controllers.push(late);
            const deadline = Date.now() + 5_000;
            for (;;) {
                const reopened = await openEvents({ server: own, signal: late.signal });
                if (reopened.status === 200) break;
                await reopened.body?.cancel();
                assert.ok(Date.now() < deadline, "a place for a new stream within 5 s");
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
        } finally {
            for (const controller of controllers) controller.abort();
            await own.close();
        }
    });

    it("ends open streams when the server closes, without waiting for their clients", async () => {
        const own = await createAdminServer({ handle, token: TOKEN, port: 0 });
        const response = await openEvents({ server: own });
        const snapshots = snapshotsOf(response);
        await snapshots.next();
        const started = performance.now();
        await own.close();
        assert.ok(performance.now() - started < 1_000, `close took ${Math.round(performance.now() - started)} ms`);
        assert.equal((await snapshots.next()).done, true, "the stream ended");
    });
});

describe("dashboard page", () => {
    it("is served without a token, with a strict Content-Security-Policy, and only its own files", async () => {
        const page = await fetch(`${admin.url}/`);
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-type")!, /^text\/html/);
        const policy = page.headers.get("content-security-policy")!;
        assert.match(policy, /script-src 'self'/);
        assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
        assert.match(await page.text(), /<script type="module" src="\/assets\/app.js">/);
        for (const [name, type] of [
            ["app.js", /^text\/javascript/],
            ["dashboard.css", /^text\/css/],
            ["uPlot.esm.js", /^text\/javascript/],
            ["uPlot.min.css", /^text\/css/],
        ] as const) {
            const asset = await fetch(`${admin.url}/assets/${name}`);
            assert.equal(asset.status, 200, name);
            assert.match(asset.headers.get("content-type")!, type, name);
            const again = await fetch(`${admin.url}/assets/${name}`, { headers: { "if-none-match": asset.headers.get("etag")! } });
            assert.equal(again.status, 304, `${name} unchanged`);
        }
        for (const path of ["/assets/uPlot.esm.d.ts", "/assets/..%2F..%2Fpackage.json", "/assets/nothing.js"]) {
            assert.equal((await fetch(`${admin.url}${path}`)).status, 404, path);
        }
    });
});
