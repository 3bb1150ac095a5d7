import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Registry } from "prom-client";
import { SnapshotTaker } from "../src/admin/snapshot-taker.js";
import { type Cluster, createClusterOutbox, createLogger, DeadLetterError, joinCluster, run } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { clusterNames, REDIS, redisProxy } from "./helpers/redis.js";

const ADMIN_TOKEN = "an-admin-token-of-the-cluster-outbox-test";
const newCluster = clusterNames("outbox-ops");
const quiet = createLogger({ level: "silent" });
let rig: TestRig | undefined;
let cluster: Cluster | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await cluster?.leave();
    cluster = undefined;
    await rig?.close();
    rig = undefined;
});

const text = (chat_id: number, t: string) => ({ method: "sendMessage", payload: { chat_id, text: t } });

/** The sum of a series' values in `registry` whose labels include `labels` (scrape-time gauges are read now). */
async function seriesTotal(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
    const series = registry.getSingleMetric(name);
    assert.ok(series !== undefined, `${name} is registered`);
    const { values } = await series.get();
    return values
        .filter((value) => Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted))
        .reduce((sum, value) => sum + value.value, 0);
}

describe("a cluster node's outbox in metrics and the admin API", { timeout: 30_000 }, () => {
    it("moves the sluice_outbox_ series for this node's sends, and the admin API lists, requeues and purges its dead letters and enqueues", async () => {
        rig = await startRig();
        const { token, sim } = rig;
        cluster = await joinCluster({ redis: REDIS, name: newCluster(), partitions: 4, signals: false });
        // Chat 5's 1/s would space its sends a second apart; the test is about where they end.
        const handle = run(rig.bot(), {
            cluster,
            outbox: { privatePerSecond: 50 },
            signals: false,
            admin: { token: ADMIN_TOKEN, port: 0 },
        });
        cleanups.push(() => handle.stop());
        const { url } = await handle.admin!;
        const bodies: string[] = [];
        cleanups.push(async () => {
            for (const body of bodies) assert.ok(!body.includes(token.split(":")[1]!), "the bot token never appears in an answer");
        });
        const call = async (method: string, path: string, body?: unknown) => {
            const response = await fetch(`${url}${path}`, {
                method,
                headers: {
                    authorization: `Bearer ${ADMIN_TOKEN}`,
                    ...(body === undefined ? {} : { "content-type": "application/json" }),
                },
                ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            });
            const answer = await response.text();
            bodies.push(answer);
            // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as a client would.
            return { status: response.status, json: JSON.parse(answer) as Record<string, any> };
        };
        const outbox = handle.clusterOutbox!;
        const { registry } = handle.metrics!;
        assert.equal(outbox.metrics?.registry, registry, "the outbox's series are in run's registry");

        sim.blockChat(token, 5);
        sim.failNext("sendMessage", { status: 502 });
        const sent = await outbox.enqueueMany([text(1, "a"), text(2, "b"), text(3, "c")]);
        const blocked = await outbox.enqueue(text(5, "hello"));
        // Waits in the queue for the scrape: the queue gauge is the bot's in Redis, by priority.
        await outbox.enqueue({ ...text(4, "later"), priority: "low", notBefore: new Date(Date.now() + 60_000) });
        await Promise.all(sent.map(({ id }) => outbox.sent(id)));
        await assert.rejects(outbox.sent(blocked.id), DeadLetterError);
        sim.failNext("sendMessage", { status: 429, retryAfter: 1 });
        await outbox.sent((await outbox.enqueue(text(6, "after a flood"))).id);

        // sent() answers from the pub/sub connection, the counter moves when the main one has the script's reply.
        const sentTotalReaches = async (count: number) => {
            const sentTotal = () => seriesTotal(registry, "sluice_outbox_sent_total", { method: "sendMessage" });
            for (const deadline = Date.now() + 2_000; (await sentTotal()) < count && Date.now() < deadline; ) await delay(10);
            assert.equal(await sentTotal(), count);
        };
        await sentTotalReaches(4);
        assert.equal(await seriesTotal(registry, "sluice_outbox_failed_total", { error_class: "blocked_by_user" }), 1);
        assert.equal(await seriesTotal(registry, "sluice_outbox_retried_total"), 1, "the 502");
        assert.equal(
            await seriesTotal(registry, "sluice_telegram_429_total"),
            1,
            "counted once, by the outbox, not again by run's transformer",
        );
        assert.equal(await seriesTotal(registry, "sluice_outbox_queued", { priority: "low" }), 1);
        assert.equal(await seriesTotal(registry, "sluice_outbox_queued"), 1, "nothing else queued");
        assert.equal(await seriesTotal(registry, "sluice_outbox_in_flight"), 0);
        assert.equal(registry.getSingleMetric("sluice_campaign_recipients"), undefined, "no campaigns, no campaign series");

        const status = await call("GET", "/v1/status");
        assert.deepEqual(
            status.json.outbox,
            { deadLetters: 1, stoppedBy: null },
            "no campaigns or unreachable marks on a cluster's outbox",
        );
        const snapshot = await new SnapshotTaker(handle).take();
        assert.deepEqual(
            { ...snapshot.outbox, deadLetters: snapshot.outbox?.deadLetters?.items.map((letter) => [letter.id, letter.errorClass]) },
            {
                queued: { high: 0, normal: 0, low: 1 },
                inFlight: 0,
                sent: 4,
                globalPerSecond: 30,
                paidPerSecond: null,
                deadLetters: [[blocked.id, "blocked_by_user"]],
                unreachable: null,
                stoppedBy: null,
            },
        );

        const dead = await call("GET", "/v1/dead-letters");
        assert.deepEqual(
            dead.json.map((letter: { id: number; state: string; error: { errorClass: string } }) => [
                letter.id,
                letter.state,
                letter.error.errorClass,
            ]),
            [[blocked.id, "dead", "blocked_by_user"]],
        );
        sim.setChatState(token, 5, "active");
        assert.deepEqual(await call("POST", `/v1/dead-letters/${blocked.id}/requeue`), { status: 200, json: { requeued: blocked.id } });
        assert.equal(((await outbox.sent(blocked.id)) as { text: string }).text, "hello", "a dead letter requeued over HTTP is sent");
        assert.equal((await call("POST", `/v1/dead-letters/${blocked.id}/requeue`)).status, 404, "no longer a dead letter");
        assert.deepEqual((await call("GET", "/v1/dead-letters")).json, []);

        sim.blockChat(token, 5);
        await assert.rejects(outbox.sent((await outbox.enqueue(text(5, "again"))).id), DeadLetterError);
        assert.deepEqual(await call("DELETE", "/v1/dead-letters"), { status: 200, json: { purged: 1 } });
        assert.deepEqual((await call("GET", "/v1/status")).json.outbox, { deadLetters: 0, stoppedBy: null });

        const posted = await call("POST", "/v1/messages", { ...text(7, "over HTTP"), idempotencyKey: "k7" });
        assert.equal(posted.status, 201);
        assert.deepEqual(await call("POST", "/v1/messages", { ...text(7, "over HTTP"), idempotencyKey: "k7" }), {
            status: 200,
            json: { id: posted.json.id, duplicate: true },
        });
        let message = await call("GET", `/v1/messages/${posted.json.id}`);
        for (const deadline = Date.now() + 5_000; message.json.state === "queued" && Date.now() < deadline; ) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            message = await call("GET", `/v1/messages/${posted.json.id}`);
        }
        assert.equal(message.json.state, "sent");
        assert.equal(message.json.result.text, "over HTTP");
        assert.equal((await call("GET", "/v1/messages/999999")).status, 404);
        await sentTotalReaches(6);
        assert.equal(await seriesTotal(registry, "sluice_outbox_failed_total", { error_class: "blocked_by_user" }), 2);

        const campaigns = await call("GET", "/v1/campaigns");
        assert.equal(campaigns.status, 404);
        assert.equal(campaigns.json.error.code, "NOT_CONFIGURED");
        assert.match(campaigns.json.error.message, /cluster's, which has no campaigns/);
    });

    it("createClusterOutbox({ metrics }) reports the bot's whole queue in Redis by priority, whoever enqueued it", async () => {
        rig = await startRig();
        const name = newCluster();
        const options = { cluster: { redis: REDIS, name }, api: rig.bot().api, send: false };
        const [reporter, other] = [await createClusterOutbox({ ...options, metrics: true }), await createClusterOutbox(options)];
        cleanups.push(
            () => reporter.close(0),
            () => other.close(0),
        );
        const later = new Date(Date.now() + 60_000);
        await other.enqueueMany([
            { ...text(1, "a"), priority: "high", notBefore: later },
            { ...text(2, "b"), priority: "high", notBefore: later },
            { ...text(3, "c"), notBefore: later },
        ]);
        const { registry } = reporter.metrics!;
        const queued = async () =>
            Object.fromEntries(
                await Promise.all(
                    (["high", "normal", "low"] as const).map(async (priority) => [
                        priority,
                        await seriesTotal(registry, "sluice_outbox_queued", { priority }),
                    ]),
                ),
            );
        assert.deepEqual(await queued(), { high: 2, normal: 1, low: 0 });
        assert.equal(await reporter.queuedCount(), 3);
        await reporter.close(0);
        assert.deepEqual(await queued(), { high: 0, normal: 0, low: 0 }, "a closed outbox stops reporting");
    });

    it("answers /v1/status, /metrics and the dashboard's snapshot while Redis is unreachable, with what it cannot read as null", async () => {
        rig = await startRig();
        const proxy = await redisProxy();
        cleanups.push(() => proxy.close());
        cluster = await joinCluster({ redis: proxy.url, name: newCluster(), partitions: 4, signals: false, logger: quiet });
        const joined = cluster;
        cleanups.push(() => joined.leave()); // before the proxy closes
        const handle = run(rig.bot(), { cluster, outbox: true, signals: false, logger: quiet, admin: { token: ADMIN_TOKEN, port: 0 } });
        cleanups.push(() => handle.stop());
        const { url } = await handle.admin!;
        const get = async (path: string) => {
            const started = performance.now();
            const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
            return { ms: performance.now() - started, text: await response.text() };
        };
        await until(() => cluster!.status().partitions.length === 4, 10_000, "the partitions");
        assert.deepEqual(JSON.parse((await get("/v1/status")).text).cluster.lag, { waiting: 0, pending: 0 });

        proxy.cut();
        await until(() => !cluster!.status().redisReachable, 5_000, "the node to notice");
        const status = await get("/v1/status");
        const metrics = await get("/metrics");
        const started = performance.now();
        const snapshot = await new SnapshotTaker(handle).take();
        const snapshotMs = performance.now() - started;
        await proxy.restore();

        const { cluster: part, outbox } = JSON.parse(status.text);
        assert.equal(part.redisReachable, false);
        assert.equal(part.lag, null, "the backlog is unknown, not 0");
        assert.deepEqual(outbox, { deadLetters: null, stoppedBy: null });
        assert.match(metrics.text, /^sluice_cluster_redis_up\{[^}]*\} 0$/m);
        assert.doesNotMatch(metrics.text, /^sluice_cluster_lag\{/m, "no lag figure while it cannot be read");
        assert.equal(snapshot.outbox?.deadLetters, null);
        for (const [what, ms] of [
            ["/v1/status", status.ms],
            ["/metrics", metrics.ms],
            ["the snapshot", snapshotMs],
        ] as const) {
            assert.ok(ms < 3_000, `${what} answered in ${Math.round(ms)} ms during the outage`);
        }
    });

    it("on a URL, says once that Redis is unreachable and once that it answers again, not at every reconnection", async () => {
        rig = await startRig();
        const proxy = await redisProxy();
        cleanups.push(() => proxy.close());
        const lines: string[] = [];
        const logger = createLogger({ level: "info", destination: { write: (line: string) => void lines.push(line) } });
        const outbox = await createClusterOutbox({ cluster: { redis: proxy.url, name: newCluster() }, api: rig.bot().api, logger });
        cleanups.push(() => outbox.close(1_000));
        proxy.cut();
        await delay(1_500); // ioredis tries to reconnect several times meanwhile
        await proxy.restore();
        const sent = await outbox.enqueue(text(1, "after the outage"));
        assert.equal(((await outbox.sent(sent.id)) as { text: string }).text, "after the outage");
        const said = (what: string) => lines.filter((line) => line.includes(what)).length;
        assert.equal(said("Redis is unreachable"), 1, lines.join("\n"));
        assert.equal(said("Redis answers again"), 1, lines.join("\n"));
    });
});
