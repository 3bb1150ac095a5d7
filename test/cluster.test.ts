import assert from "node:assert/strict";
import { afterEach, describe, it, type TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Update } from "grammy/types";
import { partitionOf, placePartitions } from "../src/cluster/partitioning.js";
import { type Cluster, createLogger, joinCluster, type RunHandle, run } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";
import { clusterNames, REDIS, redisProxy } from "./helpers/redis.js";

let rig: TestRig | undefined;
const newCluster = clusterNames("test");

afterEach(async () => {
    await rig?.close();
    rig = undefined;
});
/** What one node did, as it said it. */
interface NodeRecord {
    id: string;
    child: Child;
    ready: boolean;
    /** Starts, ends and refused calls, each with the time the test heard of it. */
    events: { kind: "s" | "e" | "x"; updateId: number; chat?: number; at: number }[];
    leases: string[];
    /** Its leases each time they changed (looked at every 20 ms), with the time the test heard of it. */
    leaseHistory: { at: number; leases: Set<string> }[];
    /** The cluster's partition count, as the node said when ready. */
    partitions: number;
    /** sluice's log lines (with LOG_LEVEL). */
    logs: { level: number; msg: string; at: number }[];
    killedAt?: number;
}

function startNode(cluster: string, id: string, env: Record<string, string> = {}): NodeRecord {
    const record: NodeRecord = { id, ready: false, events: [], leases: [], leaseHistory: [], logs: [] } as unknown as NodeRecord;
    record.child = spawnScript(
        "test/helpers/cluster-node.ts",
        { API_ROOT: rig!.sim.apiRoot, BOT_TOKEN: rig!.token, CLUSTER: cluster, REDIS, NODE: id, WORK_MS: "5-20", ...env },
        (line) => {
            const [kind, a, b] = line.split(" ");
            const at = performance.now();
            if (line.startsWith("{")) record.logs.push({ ...JSON.parse(line), at });
            else if (kind === "r") {
                record.ready = true;
                record.partitions = Number(a);
            } else if (kind === "l") {
                record.leases = a ? a.split(",") : [];
                record.leaseHistory.push({ at, leases: new Set(record.leases) });
            } else if (kind === "s" || kind === "e" || kind === "x")
                record.events.push({ kind, updateId: Number(a), chat: b === undefined ? undefined : Number(b), at });
        },
    );
    return record;
}

/** Feeds `perSecond` messages a second over `chats` chats until stopped; returns the ids pushed so far. */
function feed(perSecond: number, chats: number) {
    const pushed: number[] = [];
    const pushedAt = new Map<number, number>();
    let chat = 0;
    const timer = setInterval(() => {
        for (let i = 0; i < perSecond / 50; i++) {
            const id = rig!.sim.pushMessage(rig!.token, { chatId: 1 + (chat++ % chats), text: "x" }).update_id;
            pushed.push(id);
            pushedAt.set(id, performance.now());
        }
    }, 20);
    return { pushed, pushedAt, stop: () => clearInterval(timer) };
}

const startsOf = (nodes: NodeRecord[]) =>
    nodes
        .flatMap((node) => node.events.filter((event) => event.kind === "s").map((event) => ({ ...event, node })))
        .sort((a, b) => a.at - b.at);
const endedIn = (nodes: NodeRecord[]) => new Set(nodes.flatMap((node) => node.events.filter((e) => e.kind === "e").map((e) => e.updateId)));
const poller = (nodes: NodeRecord[]) =>
    nodes.find((node) => node.killedAt === undefined && node.leases.some((lease) => lease.startsWith("poller:")));

async function stopAll(nodes: NodeRecord[]): Promise<void> {
    for (const node of nodes) if (node.killedAt === undefined && node.child.process.exitCode === null) node.child.process.kill("SIGTERM");
    await Promise.all(nodes.map((node) => node.child.exit));
}

/**
 * Checks what the cluster promises: nothing lost, a chat's updates first
 * started in order, and only updates in flight on a node that then died or
 * was fenced (a refused call, or its partition's lease gone while the update
 * ran there) started again.
 */
function assertDelivery(t: TestContext, nodes: NodeRecord[], pushed: number[], label: string): { repeated: number } {
    const ended = endedIn(nodes);
    const lost = pushed.filter((id) => !ended.has(id));
    assert.deepEqual(lost, [], `${label}: no update lost`);
    const firstStart = new Map<number, number>();
    const lastOfChat = new Map<number, number>();
    let repeated = 0;
    for (const start of startsOf(nodes)) {
        if (firstStart.has(start.updateId)) {
            repeated++;
            const earlier = nodes.filter((node) =>
                node.events.some((e) => e.kind === "s" && e.updateId === start.updateId && e.at < start.at),
            );
            assert.ok(
                earlier.some(
                    (node) =>
                        node.killedAt !== undefined ||
                        node.events.some((e) => e.kind === "x") ||
                        lostWhileRunning(node, start.updateId, start.chat!),
                ),
                `${label}: update ${start.updateId} started again, but no node that had started it died or was fenced`,
            );
            continue;
        }
        firstStart.set(start.updateId, start.at);
        assert.ok(
            (lastOfChat.get(start.chat!) ?? 0) < start.updateId,
            `${label}: chat ${start.chat} went backwards at update ${start.updateId}`,
        );
        lastOfChat.set(start.chat!, start.updateId);
    }
    t.diagnostic(`${label}: ${pushed.length} updates, 0 lost, ${repeated} started again`);
    return { repeated };
}

/** Whether the node's lease on the update's partition went away while the update ran there (a lapse, or a hand-over past its limit). */
function lostWhileRunning(node: NodeRecord, updateId: number, chat: number): boolean {
    const started = node.events.find((e) => e.kind === "s" && e.updateId === updateId)!.at;
    const ended = node.events.find((e) => e.kind === "e" && e.updateId === updateId && e.at >= started)?.at ?? Number.POSITIVE_INFINITY;
    const lease = `p:${partitionOf(String(chat), node.partitions)}`;
    return node.leaseHistory.some((seen) => seen.at > started && seen.at < ended && !seen.leases.has(lease));
}

/** Updates the node had started and not ended when it resumed: its handlers from the stale epoch. */
function staleIds(node: NodeRecord, resumedAt: number): Set<number> {
    const ended = new Set(node.events.filter((e) => e.kind === "e" && e.at < resumedAt).map((e) => e.updateId));
    return new Set(node.events.filter((e) => e.kind === "s" && e.at < resumedAt && !ended.has(e.updateId)).map((e) => e.updateId));
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.99) - 1)]!;

describe("the cluster on Redis", () => {
    it("loses nothing and keeps each chat's order while a random node is SIGKILLed every few seconds, 10 times", async (t) => {
        rig = await startRig();
        const cluster = newCluster();
        let next = 0;
        const nodes = [0, 1, 2].map(() => startNode(cluster, `k${next++}`));
        await until(() => nodes.every((node) => node.ready) && poller(nodes) !== undefined, 20_000, "three nodes and a poller");
        const updates = feed(200, 200);
        const failovers: number[] = [];
        for (let kill = 0; kill < 10; kill++) {
            await delay(2_500);
            const living = nodes.filter((node) => node.killedAt === undefined);
            // Every other kill takes the poller down: those measure the failover.
            const victim = kill % 2 === 0 ? poller(nodes)! : living[Math.floor(Math.random() * living.length)]!;
            const wasPoller = victim.leases.some((lease) => lease.startsWith("poller:"));
            const newestBefore = Math.max(0, ...nodes.flatMap((node) => node.events.map((e) => e.updateId)));
            victim.child.process.kill("SIGKILL");
            victim.killedAt = performance.now();
            await victim.child.exit;
            nodes.push(startNode(cluster, `k${next++}`));
            if (wasPoller) {
                const killedAt = victim.killedAt;
                void until(
                    () => nodes.some((node) => node.events.some((e) => e.kind === "s" && e.updateId > newestBefore + 400)),
                    30_000,
                ).then(() => {
                    const first = Math.min(
                        ...nodes.flatMap((node) =>
                            node.events.filter((e) => e.kind === "s" && e.updateId > newestBefore + 400).map((e) => e.at),
                        ),
                    );
                    failovers.push(first - killedAt);
                });
            }
        }
        updates.stop();
        await until(
            () => endedIn(nodes).size >= new Set(updates.pushed).size && updates.pushed.every((id) => endedIn(nodes).has(id)),
            30_000,
            "every update to be handled",
        );
        await stopAll(nodes);
        assertDelivery(t, nodes, updates.pushed, "kills");
        t.diagnostic(`failover after killing the poller (ms): ${failovers.map((ms) => Math.round(ms)).join(" ")}`);
        assert.ok(failovers.length >= 5);
        assert.ok(p99(failovers) <= 7_000, `failover p99 ${Math.round(p99(failovers))} ms, at most 7 s`);
    });

    it("hands polling and partitions over within a second when the polling node leaves gracefully", async (t) => {
        rig = await startRig();
        const cluster = newCluster();
        const nodes = ["g0", "g1", "g2"].map((id) => startNode(cluster, id));
        await until(() => nodes.every((node) => node.ready) && poller(nodes) !== undefined, 20_000, "three nodes and a poller");
        const updates = feed(200, 200);
        await delay(1_500);
        const leaving = poller(nodes)!;
        const leftAt = performance.now();
        leaving.child.process.kill("SIGTERM");
        assert.equal((await leaving.child.exit)[0], 0);
        await delay(2_000);
        updates.stop();
        await until(() => updates.pushed.every((id) => endedIn(nodes).has(id)), 15_000, "every update to be handled");
        const startsAround = startsOf(nodes).filter((start) => start.at > leftAt - 500);
        const gap = Math.max(...startsAround.slice(1).map((start, i) => start.at - startsAround[i]!.at));
        await stopAll(nodes);
        const { repeated } = assertDelivery(t, nodes, updates.pushed, "leave");
        t.diagnostic(`longest pause in handling around the leave: ${Math.round(gap)} ms`);
        assert.equal(repeated, 0, "a graceful leave finishes what it started: nothing is handled twice");
        assert.ok(gap <= 1_000, `handling paused ${Math.round(gap)} ms, at most 1 s`);
    });

    it("fences a node paused for twice its lease: it stands down by itself and nothing it does afterwards counts", async (t) => {
        rig = await startRig();
        const cluster = newCluster();
        const LEASE_MS = 2_000;
        // Slow handlers, so the paused node holds handlers in the middle of their work.
        const nodes = ["f0", "f1"].map((id) => startNode(cluster, id, { LEASE_MS: String(LEASE_MS), WORK_MS: "200-400" }));
        await until(() => nodes.every((node) => node.ready) && poller(nodes) !== undefined, 20_000, "two nodes and a poller");
        const updates = feed(100, 100);
        await delay(1_500);
        const paused = poller(nodes)!;
        const other = nodes.find((node) => node !== paused)!;
        const leasesBefore = paused.leases.length;
        const runningAtPause = paused.events.filter((e) => e.kind === "s").length - paused.events.filter((e) => e.kind === "e").length;
        paused.child.process.kill("SIGSTOP");
        await delay(2 * LEASE_MS);
        const sentBeforeResume = rig.sim.sent(rig.token).length;
        const resumedAt = performance.now();
        paused.child.process.kill("SIGCONT");
        await until(
            () => paused.leases.length === 0 || paused.leases.every((lease) => other.leases.includes(lease)) === false,
            1_000,
        ).catch(() => {});
        await delay(1_000);
        updates.stop();
        await until(() => updates.pushed.every((id) => endedIn(nodes).has(id)), 20_000, "every update to be handled");
        const staleSends = rig.sim
            .sent(rig.token)
            .slice(sentBeforeResume)
            .filter((call) => call.text?.startsWith(`${paused.id}:`) && staleIds(paused, resumedAt).has(Number(call.text.split(":")[1])));
        const refused = paused.events.filter((e) => e.kind === "x").length;
        await stopAll(nodes);
        t.diagnostic(
            `paused node held ${leasesBefore} leases and ${runningAtPause} running handlers; after resuming: ${refused} calls refused, ${staleSends.length} stale sends`,
        );
        assert.deepEqual(staleSends, [], "no reply of a handler from the stale epoch reached Telegram");
        assert.ok(refused > 0, "the handlers caught by the pause had their calls refused");
        assert.equal(rig.sim.stats(rig.token).conflicts <= 1, true, "at most the one getUpdates open at the pause was answered 409");
        assertDelivery(
            t,
            nodes.map((node) => (node === paused ? { ...node, killedAt: resumedAt } : node)),
            updates.pushed,
            "pause",
        );
    });

    it("moves about a quarter of the partitions to a fourth node, none of them stalled for over a second", async (t) => {
        rig = await startRig();
        const cluster = newCluster();
        const PARTITIONS = 64;
        const nodes = ["r0", "r1", "r2"].map((id) => startNode(cluster, id, { PARTITIONS: String(PARTITIONS) }));
        const partitionsOf = (node: NodeRecord) => node.leases.filter((lease) => lease.startsWith("p:"));
        const placed = (node: NodeRecord) => {
            const owners = placePartitions(
                PARTITIONS,
                nodes.map((n) => n.id),
            );
            return (
                partitionsOf(node).length > 0 &&
                partitionsOf(node).every((lease) => owners[Number(lease.slice(2))] === node.id) &&
                nodes.reduce((sum, n) => sum + partitionsOf(n).length, 0) === PARTITIONS
            );
        };
        await until(() => nodes.every(placed), 20_000, "three nodes holding their shares of the partitions");
        const updates = feed(200, 200);
        await delay(1_000);
        const before = new Map(nodes.flatMap((node) => partitionsOf(node).map((lease) => [lease, node.id])));
        const joinedAt = performance.now();
        nodes.push(startNode(cluster, "r3", { PARTITIONS: String(PARTITIONS) }));
        await until(() => partitionsOf(nodes[3]!).length > 0, 15_000, "the fourth node to take partitions");
        await delay(2_000);
        updates.stop();
        await until(() => updates.pushed.every((id) => endedIn(nodes).has(id)), 15_000, "every update to be handled");
        const after = new Map(nodes.flatMap((node) => partitionsOf(node).map((lease) => [lease, node.id])));
        const moved = [...before].filter(([lease, owner]) => after.get(lease) !== owner).map(([lease]) => Number(lease.slice(2)));
        // How long each update of a moved partition, pushed from the join on, waited to start: a stall shows here.
        const waits = startsOf(nodes)
            .filter((start) => start.at > joinedAt && moved.includes(partitionOf(String(start.chat), PARTITIONS)))
            .map((start) => start.at - updates.pushedAt.get(start.updateId)!);
        await stopAll(nodes);
        assertDelivery(t, nodes, updates.pushed, "rebalance");
        const longest = Math.round(Math.max(...waits));
        const betweenOld = moved.filter((partition) => after.get(`p:${partition}`) !== "r3").length;
        t.diagnostic(
            `moved ${moved.length} of ${PARTITIONS} partitions (${betweenOld} between old nodes); longest wait of an update in a moved partition: ${longest} ms`,
        );
        assert.equal(after.size, PARTITIONS, "every partition held after the join");
        assert.deepEqual(
            [...after].filter(([lease, owner]) => placePartitions(PARTITIONS, ["r0", "r1", "r2", "r3"])[Number(lease.slice(2))] !== owner),
            [],
            "every partition where the placement puts it",
        );
        assert.ok(moved.length <= PARTITIONS * (1 / 4 + 0.05), `${moved.length} moved, at most a quarter plus 5%`);
        assert.ok(waits.length > 100 && longest <= 1_000, "no update of a moved partition waited over a second");
    });

    it("pauses while Redis is unreachable, says so once, and resumes without loss when it answers again", async (t) => {
        rig = await startRig();
        const cluster = newCluster();
        const proxy = await redisProxy();
        // Closed even when the test fails: a listening proxy would keep this file's process alive.
        t.after(() => proxy.close());
        const LEASE_MS = 2_000;
        const node = startNode(cluster, "u0", { REDIS: proxy.url, LEASE_MS: String(LEASE_MS), LOG_LEVEL: "info" });
        await until(() => node.ready && poller([node]) !== undefined, 20_000, "the node polling");
        const updates = feed(100, 50);
        await delay(1_000);
        const cutAt = performance.now();
        proxy.cut();
        await delay(3 * LEASE_MS);
        const startsDuringOutage = node.events.filter((e) => e.kind === "s" && e.at > cutAt + LEASE_MS).length;
        const restoredAt = performance.now();
        await proxy.restore();
        await delay(1_500);
        updates.stop();
        await until(() => updates.pushed.every((id) => endedIn([node]).has(id)), 20_000, "every update to be handled").catch((error) => {
            const unhandled = updates.pushed.filter((id) => !endedIn([node]).has(id));
            const said = node.logs.map((line) => `${Math.round(line.at - restoredAt)} ms: ${line.msg}`);
            throw new Error(
                `${error.message}: ${unhandled.length} unhandled (from ${unhandled[0]}); leases ${node.leases.join(",")}; the node said, relative to Redis' return:\n${said.join("\n")}`,
            );
        });
        const resumedAt = Math.min(...node.events.filter((e) => e.kind === "s" && e.at > restoredAt).map((e) => e.at));
        node.child.process.kill("SIGTERM");
        await node.child.exit;
        const warnings = node.logs.filter((line) => line.level === 40 && line.at > cutAt && line.msg.startsWith("Redis is unreachable"));
        const back = node.logs.filter((line) => line.at > restoredAt && line.msg.startsWith("Redis answers again"));
        // Updates whose handlers ended as Redis went away could not be acknowledged: those, and only those, run again.
        const endedBeforeCut = new Set(node.events.filter((e) => e.kind === "e" && e.at < cutAt - 200).map((e) => e.updateId));
        const unacknowledged = new Set(
            node.events.filter((e) => e.kind === "s" && e.at < cutAt + LEASE_MS && !endedBeforeCut.has(e.updateId)).map((e) => e.updateId),
        );
        const { repeated } = assertDelivery(t, [{ ...node, killedAt: cutAt }], updates.pushed, "outage");
        const startedTwice = node.events
            .filter((e) => e.kind === "s")
            .map((e) => e.updateId)
            .filter((id, i, all) => all.indexOf(id) !== i);
        assert.ok(
            startedTwice.every((id) => unacknowledged.has(id)),
            `only updates under way as Redis went away ran again (${startedTwice.join(" ")})`,
        );
        t.diagnostic(
            `${repeated} updates read before the outage ran again; handler starts after the leases lapsed: ${startsDuringOutage}; work resumed ${Math.round(resumedAt - restoredAt)} ms after Redis came back`,
        );
        assert.equal(startsDuringOutage, 0, "nothing is handled once the leases lapsed");
        assert.equal(warnings.length, 1, "the outage is logged once, when it begins");
        assert.equal(back.length, 1, "and its end once");
        assert.ok(resumedAt - restoredAt <= 2 * LEASE_MS, "work resumes within two leases of Redis answering again");
    });
});

describe("a bot stopped on a node that stays", () => {
    it("is warned of a lease after its stop (its updates in the node's partitions wait); stop-then-leave says nothing", async () => {
        rig = await startRig();
        const lines: string[] = [];
        const logger = createLogger({ level: "warn", destination: { write: (line: string) => void lines.push(line) } });
        const warned = () => lines.filter((line) => line.includes("stopped on this node while the node stays")).length;
        const name = newCluster();
        const cluster = await joinCluster({ redis: REDIS, name, partitions: 4, leaseMs: 500, signals: false, logger });
        try {
            await until(() => cluster.status().partitions.length === 4, 10_000, "the partitions");
            const shutdown = run(rig.bot(), { cluster, signals: false });
            await shutdown.stop();
            await cluster.leave();
            await delay(800);
            assert.equal(warned(), 0, "the usual shutdown, stop then leave, is quiet");

            const again = await joinCluster({ redis: REDIS, name, partitions: 4, leaseMs: 500, signals: false, logger });
            try {
                await until(() => again.status().partitions.length === 4, 10_000, "the partitions again");
                await run(rig.bot(), { cluster: again, signals: false }).stop();
                await until(() => warned() === 1, 5_000, "the warning a lease after the stop");
            } finally {
                await again.leave();
            }
        } finally {
            await cluster.leave();
        }
    });
});

describe("a node leaving while Redis is unreachable", () => {
    const LEASE_MS = 1_000;
    for (const [order, shutDown] of [
        [
            "stop, then leave",
            async (handle: RunHandle<Update>, cluster: Cluster) => {
                await handle.stop();
                await cluster.leave();
            },
        ],
        [
            "stop and leave at once, as on SIGTERM",
            (handle: RunHandle<Update>, cluster: Cluster) => Promise.all([handle.stop(), cluster.leave()]),
        ],
    ] as const) {
        it(`${order}: ends within about two leases, says it could not hand over, and leaves nothing waiting for Redis`, async () => {
            rig = await startRig();
            const proxy = await redisProxy();
            const lines: string[] = [];
            const logger = createLogger({ level: "warn", destination: { write: (line: string) => void lines.push(line) } });
            const cluster = await joinCluster({
                redis: proxy.url,
                name: newCluster(),
                partitions: 4,
                leaseMs: LEASE_MS,
                signals: false,
                logger,
            });
            try {
                const bot = rig.bot();
                let handled = 0;
                bot.on("message", () => void handled++);
                const handle = run(bot, { cluster, outbox: { leaseMs: LEASE_MS }, signals: false, logger });
                await until(() => cluster.status().partitions.length === 4, 10_000, "the partitions");
                // Handled, so the poller's getUpdates and the consumer's blocking read are under way at the cut.
                rig.sim.pushMessage(rig.token, { chatId: 1, text: "x" });
                await until(() => handled === 1, 10_000, "an update to be handled");
                proxy.cut();
                const started = performance.now();
                await shutDown(handle, cluster);
                const took = performance.now() - started;
                assert.ok(took < 3 * LEASE_MS + 3_000, `the shutdown took ${Math.round(took)} ms`);
                assert.equal(lines.filter((line) => line.includes("left without handing over")).length, 1, lines.join("\n"));
                // Once, by the cluster, if it began before the leave (a leaving node expects its connections to go).
                assert.ok(
                    lines.filter((line) => line.includes("Redis is unreachable")).length <= 1 &&
                        !lines.some((line) => line.includes("ECONNREFUSED")),
                    `the outage is not said by the outbox on its connections, nor at every reconnection:\n${lines.join("\n")}`,
                );
            } finally {
                await proxy.close();
            }
        });
    }
});
