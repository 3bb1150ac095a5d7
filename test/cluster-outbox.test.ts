import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { type ClusterOutbox, type ClusterOutboxOptions, createClusterOutbox, DeadLetterError, InvalidOptionError } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";
import { clusterNames, REDIS } from "./helpers/redis.js";

let rig: TestRig | undefined;
const outboxes: ClusterOutbox[] = [];
const newCluster = clusterNames("outbox");

afterEach(async () => {
    await Promise.all(outboxes.splice(0).map((outbox) => outbox.close(0)));
    await rig?.close();
    rig = undefined;
});
/** An outbox on the cluster `name` in this process: a node of its own (or, with `send: false`, one that only enqueues). */
async function outboxOn(name: string, options: Partial<ClusterOutboxOptions> = {}): Promise<ClusterOutbox> {
    const outbox = await createClusterOutbox({ cluster: { redis: REDIS, name }, api: rig!.bot().api, ...options });
    outboxes.push(outbox);
    return outbox;
}

/** A node in a child process (test/helpers/outbox-node.ts) and the texts it was about to send. */
interface OutboxNode {
    id: string;
    child: Child;
    ready: boolean;
    took: string[];
    /** Updates whose handler's reply resolved. */
    replied: number[];
}

function startNode(cluster: string, id: string, env: Record<string, string> = {}): OutboxNode {
    const node = { id, ready: false, took: [] as string[], replied: [] as number[] } as OutboxNode;
    node.child = spawnScript(
        "test/helpers/outbox-node.ts",
        { API_ROOT: rig!.sim.apiRoot, BOT_TOKEN: rig!.token, CLUSTER: cluster, REDIS, NODE: id, ...env },
        (line) => {
            if (line === "r") node.ready = true;
            else if (line.startsWith("t ")) node.took.push(line.slice(2));
            else if (line.startsWith("h ")) node.replied.push(Number(line.slice(2)));
        },
    );
    return node;
}

async function stopNodes(nodes: OutboxNode[]): Promise<void> {
    for (const node of nodes)
        if (node.child.process.exitCode === null && node.child.process.signalCode === null) node.child.process.kill("SIGTERM");
    await Promise.all(nodes.map((node) => node.child.exit));
}

const text = (chat_id: number, t: string) => ({ method: "sendMessage", payload: { chat_id, text: t } });
/** The texts the simulator accepted, in arrival order, as "<chat>:<text>". */
const arrived = () => rig!.sim.sent(rig!.token).map((call) => `${call.payload.chat_id}:${call.payload.text}`);

/** The most arrivals within any 1 s at the server. */
function busiestSecond(times: number[]): number {
    const sorted = [...times].sort((a, b) => a - b);
    let most = 0;
    for (let first = 0, last = 0; last < sorted.length; last++) {
        while (sorted[last]! - sorted[first]! >= 1000) first++;
        most = Math.max(most, last - first + 1);
    }
    return most;
}

describe("the outbox in Redis, shared by a cluster's nodes", { timeout: 60_000 }, () => {
    it("three nodes broadcasting 600 messages together keep 30 in every second at the server, with no 429, at 95% of the rate or more, each chat in order", async (t) => {
        rig = await startRig({ limits: { globalPerSecond: 30, privatePerSecond: 1, groupPerMinute: 20 } });
        const name = newCluster();
        const nodes = ["a", "b", "c"].map((id) => startNode(name, id));
        await until(() => nodes.every((node) => node.ready), 20_000, "three nodes");
        const broadcaster = await outboxOn(name, { send: false });
        // 200 chats, three messages each: each chat's order is checked, and its 1/s never binds.
        const messages = [0, 1, 2].flatMap((round) => Array.from({ length: 200 }, (_, chat) => text(1000 + chat, String(round))));
        const started = performance.now();
        const ids = await broadcaster.enqueueMany(messages);
        const results = await Promise.all(ids.map(({ id }) => broadcaster.sent(id)));
        const seconds = (performance.now() - started) / 1000;
        const calls = rig.sim.calls(rig.token, "sendMessage");
        const times = calls.filter((call) => call.ok).map((call) => call.at);
        const rate = ((times.length - 1) * 1000) / (Math.max(...times) - Math.min(...times));
        const busiest = busiestSecond(calls.map((call) => call.at));
        const floods = rig.sim.stats(rig.token).floodRejections;
        t.diagnostic(
            `600 messages in ${seconds.toFixed(1)} s: ${rate.toFixed(2)}/s at the server, busiest second ${busiest}, ${floods} × 429, ` +
                `sent by the nodes ${nodes.map((node) => node.took.length).join(" / ")}`,
        );
        assert.equal(results.length, 600);
        assert.equal(times.length, 600, "each message arrived once");
        assert.equal(floods, 0, "no 429");
        assert.ok(busiest <= 30, `at most 30 in any second at the server, saw ${busiest}`);
        assert.ok(rate >= 0.95 * 30, `at least 95% of 30/s, measured ${rate.toFixed(2)}/s`);
        for (const node of nodes) assert.ok(node.took.length > 50, `node ${node.id} did its share (${node.took.length})`);
        const order = new Map<string, string[]>();
        for (const entry of arrived()) {
            const [chat, round] = entry.split(":") as [string, string];
            order.set(chat, [...(order.get(chat) ?? []), round]);
        }
        for (const [chat, rounds] of order) assert.deepEqual(rounds, ["0", "1", "2"], `chat ${chat} in order`);
        await stopNodes(nodes);
    });

    it("answers handlers' replies on any node through the outbox in Redis, once each, also when another node handles an update again", async () => {
        rig = await startRig();
        const name = newCluster();
        const nodes = ["h1", "h2"].map((id) => startNode(name, id, { CLUSTER_LEASE_MS: "1500" }));
        await until(() => nodes.every((node) => node.ready), 20_000, "two nodes");
        const updates = Array.from({ length: 12 }, (_, n) => rig!.sim.pushMessage(rig!.token, { chatId: 3000 + (n % 4), text: `q${n}` }));
        await until(() => nodes.flatMap((node) => node.replied).length >= 12, 15_000, "12 replies resolved");
        assert.deepEqual(
            nodes.flatMap((node) => node.replied).sort((a, b) => a - b),
            updates.map((update) => update.update_id),
        );
        const replies = arrived().filter((entry) => entry.includes(":re:"));
        assert.equal(replies.length, 12, "each reply sent once");
        for (let chat = 3000; chat < 3004; chat++) {
            const order = replies.filter((entry) => entry.startsWith(`${chat}:`)).map((entry) => Number(entry.split(":q")[1]));
            assert.deepEqual(
                order,
                [...order].sort((a, b) => a - b),
                `chat ${chat}'s replies in order`,
            );
        }
        // A handler that replied and never ended: its node dies, the other handles the update again,
        // and its reply (the same idempotency key) is answered from the first one instead of sent.
        const held = rig.sim.pushMessage(rig.token, { chatId: 3010, text: "hold" }).update_id;
        await until(() => nodes.some((node) => node.replied.includes(held)), 5_000, "the held reply");
        const first = nodes.find((node) => node.replied.includes(held))!;
        first.child.process.kill("SIGKILL");
        const second = nodes.find((node) => node !== first)!;
        await until(() => second.replied.includes(held), 15_000, "the update handled again on the other node");
        assert.deepEqual(
            arrived().filter((entry) => entry === "3010:re:hold"),
            ["3010:re:hold"],
            "the replayed handler's reply was not sent again",
        );
        // Its held handler would make a graceful stop wait out the stop timeout.
        second.child.process.kill("SIGKILL");
        await second.child.exit;
    });

    it("loses nothing when a node holding leases is SIGKILLed, and sends again only the messages it held", async (t) => {
        rig = await startRig();
        const name = newCluster();
        const nodes = ["k1", "k2"].map((id) => startNode(name, id, { LEASE_MS: "1500" }));
        await until(() => nodes.every((node) => node.ready), 20_000, "two nodes");
        // The first sends hang at the server, so whoever takes them holds their leases for a while.
        rig.sim.delayNext("sendMessage", { delayMs: 1_000, count: 4 });
        const broadcaster = await outboxOn(name, { send: false });
        const messages = [0, 1, 2].flatMap((round) => Array.from({ length: 8 }, (_, chat) => text(2000 + chat, `${2000 + chat}/${round}`)));
        const ids = await broadcaster.enqueueMany(messages);
        await until(() => nodes.some((node) => node.took.length > 0), 5_000, "a node holding a message");
        const victim = nodes.find((node) => node.took.length > 0)!;
        victim.child.process.kill("SIGKILL");
        const held = new Set(victim.took);
        const killedAt = performance.now();
        await Promise.all(ids.map(({ id }) => broadcaster.sent(id)));
        t.diagnostic(
            `node ${victim.id} killed holding ${held.size}; all 24 sent ${((performance.now() - killedAt) / 1000).toFixed(1)} s later`,
        );
        const texts = arrived();
        const twice = texts.filter((entry, index) => texts.indexOf(entry) !== index);
        for (const entry of twice)
            assert.ok(held.has(entry.split(":")[1]!), `${entry} was sent twice, but the killed node had not held it`);
        assert.equal(new Set(texts).size, 24, "every message arrived");
        // Each chat's first arrivals in order: a repeat of a held message may follow it, never precede it.
        for (let chat = 2000; chat < 2008; chat++) {
            const rounds = texts.filter((entry) => entry.startsWith(`${chat}:`)).map((entry) => entry.split("/")[1]);
            assert.deepEqual([...new Set(rounds)], ["0", "1", "2"], `chat ${chat} in order`);
        }
        await stopNodes(nodes);
    });

    it("moves a 403 to the dead letters (requeue, purge) and retries 5xx answers", async () => {
        rig = await startRig();
        const name = newCluster();
        // Chat 5's 1/s would space its four sends a second apart; the test is about where they end.
        const outbox = await outboxOn(name, { privatePerSecond: 50 });
        rig.sim.blockChat(rig.token, 5);
        const blocked = await outbox.enqueue(text(5, "hello"));
        await assert.rejects(outbox.sent(blocked.id), (error: unknown) => {
            assert.ok(error instanceof DeadLetterError);
            assert.equal(error.errorClass, "blocked_by_user");
            assert.equal(error.errorCode, 403);
            return true;
        });
        assert.deepEqual(
            (await outbox.deadLetters()).map((dead) => [dead.id, dead.state, dead.error?.errorClass]),
            [[blocked.id, "dead", "blocked_by_user"]],
        );
        rig.sim.setChatState(rig.token, 5, "active");
        assert.equal(await outbox.requeue(blocked.id), true);
        assert.equal(((await outbox.sent(blocked.id)) as { text: string }).text, "hello", "a requeued dead letter is sent");
        assert.deepEqual(await outbox.deadLetters(), []);
        rig.sim.blockChat(rig.token, 5);
        await assert.rejects(outbox.sent((await outbox.enqueue(text(5, "again"))).id), DeadLetterError);
        assert.equal(await outbox.purgeDeadLetters(), 1);
        assert.deepEqual(await outbox.deadLetters(), []);
        rig.sim.failNext("sendMessage", { status: 502, count: 2 });
        const flaky = await outbox.enqueue(text(6, "again"));
        assert.equal(((await outbox.sent(flaky.id)) as { text: string }).text, "again");
        assert.equal((await outbox.status(flaky.id))?.attempts, 3, "sent at the third attempt");
        assert.equal(await outbox.queuedCount(), 0);
    });

    it("a 429 on one node holds back the chat and the bot on every node for retry_after", async (t) => {
        rig = await startRig();
        const name = newCluster();
        const [a, b] = [await outboxOn(name), await outboxOn(name)];
        rig.sim.failNext("sendMessage", { status: 429, retryAfter: 2 });
        const first = await a.enqueue(text(7, "first"));
        await until(() => rig!.sim.calls(rig!.token, "sendMessage").length === 1, 5_000, "the 429");
        const floodAt = rig.sim.calls(rig.token, "sendMessage")[0]!.at;
        const others = await Promise.all([8, 9, 10].map((chat) => b.enqueue(text(chat, "other"))));
        await Promise.all([first, ...others].map(({ id }) => b.sent(id)));
        const next = rig.sim.calls(rig.token, "sendMessage").slice(1);
        const soonest = Math.min(...next.map((call) => call.at)) - floodAt;
        t.diagnostic(`first send after the 429: ${soonest} ms later`);
        assert.equal(next.length, 4);
        assert.ok(soonest >= 1_950, `no node sent within retry_after (first after ${soonest} ms)`);
        assert.ok(arrived().includes("7:first"), "the flooded message went after its wait");
    });

    it("follows a group that became a supergroup: the chat's queue and later messages go to the new id, in order", async () => {
        rig = await startRig();
        const name = newCluster();
        // A group's 20 a minute would space these 3 s apart; the test is about where they go.
        const outbox = await outboxOn(name, { groupPerMinute: 1200 });
        rig.sim.failNext("sendMessage", {
            status: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat",
            parameters: { migrate_to_chat_id: -1001234 },
        });
        const ids = await outbox.enqueueMany([0, 1, 2].map((n) => text(-55, String(n))));
        await Promise.all(ids.map(({ id }) => outbox.sent(id)));
        const later = await outbox.enqueue(text(-55, "3"));
        await outbox.sent(later.id);
        assert.deepEqual(arrived(), ["-1001234:0", "-1001234:1", "-1001234:2", "-1001234:3"]);
    });

    it("serves priorities 5:3:1 across nodes and holds a message until its notBefore", async () => {
        rig = await startRig();
        const name = newCluster();
        const [a] = [await outboxOn(name, { globalPerSecond: 20 }), await outboxOn(name, { globalPerSecond: 20 })];
        const batch = (priority: "low" | "normal" | "high", base: number) =>
            Array.from({ length: 9 }, (_, n) => ({ ...text(base + n, priority), priority }));
        const enqueuedAt = Date.now();
        const ids = await a.enqueueMany([
            { ...text(99, "later"), priority: "high" as const, notBefore: new Date(enqueuedAt + 1_000) },
            ...batch("low", 300),
            ...batch("normal", 400),
            ...batch("high", 500),
        ]);
        await Promise.all(ids.map(({ id }) => a.sent(id)));
        const firstNine = arrived()
            .slice(0, 9)
            .map((entry) => entry.split(":")[1]);
        const count = (priority: string) => firstNine.filter((p) => p === priority).length;
        assert.deepEqual([count("high"), count("normal"), count("low")], [5, 3, 1], `first nine: ${firstNine.join(" ")}`);
        const later = rig.sim.calls(rig.token, "sendMessage").find((call) => call.payload.text === "later")!;
        assert.ok(later.at >= enqueuedAt + 990, `sent ${later.at - enqueuedAt} ms after enqueuing, not before its notBefore`);
    });

    it("an idempotency key used on two nodes sends once, and both hear the result", async () => {
        rig = await startRig();
        const name = newCluster();
        const [a, b] = [await outboxOn(name), await outboxOn(name)];
        const first = await a.enqueue({ ...text(11, "once"), idempotencyKey: "u:1:42:0" });
        const again = await b.enqueue({ ...text(11, "once"), idempotencyKey: "u:1:42:0" });
        assert.deepEqual([first.duplicate, again.duplicate, again.id], [false, true, first.id]);
        const [one, two] = await Promise.all([a.sent(first.id), b.sent(again.id)]);
        assert.deepEqual(one, two);
        const late = await b.enqueue({ ...text(11, "once"), idempotencyKey: "u:1:42:0" });
        assert.equal(late.id, first.id, "after it was sent too");
        assert.deepEqual(arrived(), ["11:once"]);
    });

    it("admits calls outside the queue (file uploads) against the same buckets, on any node", async () => {
        rig = await startRig();
        const name = newCluster();
        const [a, b] = [await outboxOn(name, { send: false }), await outboxOn(name, { send: false })];
        const started = performance.now();
        await a.admit("77");
        await b.admit("77");
        const waitedMs = performance.now() - started;
        assert.ok(waitedMs >= 990, `the second call to a private chat waited its second on the other node (${waitedMs.toFixed(0)} ms)`);
    });

    it("refuses the single-node outbox's settings it does not have, rather than ignoring them", async () => {
        rig = await startRig();
        await assert.rejects(outboxOn(newCluster(), { templates: { hi: { en: "Hi" } } } as never), InvalidOptionError);
    });

    it("close hands its sends in flight back at once: another node sends them without waiting for the lease", async (t) => {
        rig = await startRig();
        const name = newCluster();
        const closing = await outboxOn(name, { leaseMs: 20_000 });
        rig.sim.delayNext("sendMessage", { delayMs: 3_000 });
        const { id } = await closing.enqueue(text(12, "handed over"));
        // The call is out (held at the server), so this node holds its lease.
        await delay(300);
        const closedAt = performance.now();
        await closing.close(0);
        const other = await outboxOn(name, { leaseMs: 20_000 });
        await other.sent(id);
        const tookMs = performance.now() - closedAt;
        t.diagnostic(`sent by the other node ${tookMs.toFixed(0)} ms after the close`);
        assert.ok(tookMs < 2_000, `handed over at once, not after the 20 s lease (${tookMs.toFixed(0)} ms)`);
        assert.equal((await other.status(id))?.attempts, 1, "the cancelled send is not counted as an attempt");
    });
});
