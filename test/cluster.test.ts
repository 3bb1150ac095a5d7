import assert from "node:assert/strict";
import { after, afterEach, before, describe, it, type TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { joinCluster } from "../src/index.js";
import { startRig, type TestRig, until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";

const REDIS = "redis://127.0.0.1:6379";
let redis: Redis;
let rig: TestRig | undefined;
const clusterNames: string[] = [];

before(async () => {
    redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch(() => {
        throw new Error("the cluster tests need Redis on 127.0.0.1:6379: install redis-server and start it (see .ci/run)");
    });
});
afterEach(async () => {
    await rig?.close();
    rig = undefined;
});
after(async () => {
    for (const name of clusterNames) {
        const keys = await redis.keys(`{sluice:${name}}*`);
        if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
});

/** What one node did, as it said it. */
interface NodeRecord {
    id: string;
    child: Child;
    ready: boolean;
    /** Starts, ends and refused calls, each with the time the test heard of it. */
    events: { kind: "s" | "e" | "x"; updateId: number; chat?: number; at: number }[];
    leases: string[];
    killedAt?: number;
}

function newCluster(): string {
    const name = `test-${process.pid}-${clusterNames.length}`;
    clusterNames.push(name);
    return name;
}

function startNode(cluster: string, id: string, env: Record<string, string> = {}): NodeRecord {
    const record: NodeRecord = { id, ready: false, events: [], leases: [] } as unknown as NodeRecord;
    record.child = spawnScript(
        "test/helpers/cluster-node.ts",
        { API_ROOT: rig!.sim.apiRoot, BOT_TOKEN: rig!.token, CLUSTER: cluster, REDIS, NODE: id, WORK_MS: "5-20", ...env },
        (line) => {
            const [kind, a, b] = line.split(" ");
            const at = performance.now();
            if (kind === "r") record.ready = true;
            else if (kind === "l") record.leases = a ? a.split(",") : [];
            else if (kind === "s" || kind === "e" || kind === "x")
                record.events.push({ kind, updateId: Number(a), chat: b === undefined ? undefined : Number(b), at });
        },
    );
    return record;
}

/** Feeds `perSecond` messages a second over `chats` chats until stopped; returns the ids pushed so far. */
function feed(perSecond: number, chats: number) {
    const pushed: number[] = [];
    let chat = 0;
    const timer = setInterval(() => {
        for (let i = 0; i < perSecond / 50; i++)
            pushed.push(rig!.sim.pushMessage(rig!.token, { chatId: 1 + (chat++ % chats), text: "x" }).update_id);
    }, 20);
    return { pushed, stop: () => clearInterval(timer) };
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
 * started in order, and only updates started on a node that then died
 * started again.
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
                earlier.some((node) => node.killedAt !== undefined || node.events.some((e) => e.kind === "x")),
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
});
