import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createBotPool, joinCluster } from "../src/index.js";
import { createSimulator, type Simulator } from "../src/simulator/index.js";
import { until } from "./helpers/bots.js";
import { type Child, spawnScript } from "./helpers/child.js";
import { clusterNames, REDIS } from "./helpers/redis.js";

const CLUSTER = clusterNames("pool")();
const BOTS = 100;
let sim: Simulator;

before(async () => {
    sim = await createSimulator();
});
after(() => sim.close());

/** What one pool node did, as it said it. */
interface PoolNode {
    id: string;
    child: Child;
    ready: boolean;
    /** The bots it polls. */
    polled: number[];
    /** `<bot>:<update>` of every handler start, with the time the test heard of it. */
    starts: { key: string; bot: number; at: number }[];
    ended: Set<string>;
    killedAt?: number;
}

function startNode(id: string, tokens: string[]): PoolNode {
    const node = { id, ready: false, polled: [], starts: [], ended: new Set() } as unknown as PoolNode;
    node.child = spawnScript(
        "test/helpers/pool-node.ts",
        { API_ROOT: sim.apiRoot, TOKENS: tokens.join(","), CLUSTER, REDIS, NODE: id },
        (line) => {
            const [kind, a, b] = line.split(" ");
            if (kind === "r") node.ready = true;
            else if (kind === "l") node.polled = a ? a.split(",").map(Number) : [];
            else if (kind === "s") node.starts.push({ key: `${a}:${b}`, bot: Number(a), at: performance.now() });
            else if (kind === "e") node.ended.add(`${a}:${b}`);
        },
    );
    return node;
}

describe("a bot pool in a cluster", () => {
    it(`polls each of ${BOTS} bots on exactly one of three nodes; a killed node's bots resume on the others within the failover bound`, async (t) => {
        const bots = Array.from({ length: BOTS }, () => sim.createBot());
        const tokens = bots.map((bot) => bot.token);
        const nodes = ["n0", "n1", "n2"].map((id) => startNode(id, tokens));
        const polledBy = (living: PoolNode[]) => living.flatMap((node) => node.polled);
        await until(
            () => nodes.every((node) => node.ready) && new Set(polledBy(nodes)).size === BOTS,
            60_000,
            "three nodes polling every bot",
        );
        assert.equal(polledBy(nodes).length, BOTS, "no bot is polled by two nodes");
        t.diagnostic(`bots polled per node: ${nodes.map((node) => node.polled.length).join(", ")}`);
        assert.ok(
            nodes.every((node) => node.polled.length >= BOTS / 6),
            "the pollers spread over the nodes (rendezvous hashing)",
        );

        // Every bot gets a message on one of five chats twice a second (200 updates/s in all).
        const pushed: { key: string; bot: number; at: number }[] = [];
        let round = 0;
        const feeder = setInterval(() => {
            round++;
            for (const bot of bots.slice((round % 10) * (BOTS / 10), ((round % 10) + 1) * (BOTS / 10))) {
                for (let twice = 0; twice < 2; twice++) {
                    const update = sim.pushMessage(bot.token, { chatId: 1 + ((round + twice) % 5), text: "x" });
                    pushed.push({ key: `${bot.botInfo.id}:${update.update_id}`, bot: bot.botInfo.id, at: performance.now() });
                }
            }
        }, 50);
        await delay(3_000);
        const victim = nodes.reduce((most, node) => (node.polled.length > most.polled.length ? node : most));
        const orphaned = [...victim.polled];
        victim.child.process.kill("SIGKILL");
        victim.killedAt = performance.now();
        await victim.child.exit;
        const survivors = nodes.filter((node) => node !== victim);
        await until(() => new Set(polledBy(survivors)).size === BOTS, 15_000, "the survivors to poll every bot");
        await delay(2_000);
        clearInterval(feeder);

        const handled = () => new Set(nodes.flatMap((node) => [...node.ended]));
        await until(() => pushed.every(({ key }) => handled().has(key)), 30_000, "every update to be handled").catch(() => {});
        const lost = pushed.filter(({ key }) => !handled().has(key));
        assert.deepEqual(lost, [], "no update is lost");
        assert.equal(polledBy(survivors).length, BOTS, "after the failover, still no bot is polled by two nodes");

        // A bot resumed when a survivor first started one of its updates pushed after the kill.
        const resumed = orphaned.map((bot) => {
            const sentAfter = new Set(pushed.filter((p) => p.bot === bot && p.at > victim.killedAt!).map((p) => p.key));
            const first = Math.min(...survivors.flatMap((node) => node.starts.filter((s) => sentAfter.has(s.key)).map((s) => s.at)));
            return first - victim.killedAt!;
        });
        const worst = Math.max(...resumed);
        const conflicts = bots.reduce((sum, bot) => sum + sim.stats(bot.token).conflicts, 0);
        t.diagnostic(
            `${pushed.length} updates, 0 lost; the killed node polled ${orphaned.length} bots; ` +
                `they resumed after ${Math.round(Math.min(...resumed))}-${Math.round(worst)} ms; 409s: ${conflicts}`,
        );
        assert.ok(worst <= 7_000, `the killed node's bots resumed within 7 s (the slowest took ${Math.round(worst)} ms)`);
        assert.equal(conflicts, 0, "never two pollers for one token");

        for (const node of survivors) node.child.process.kill("SIGTERM");
        const exits = await Promise.all(survivors.map((node) => node.child.exit));
        assert.deepEqual(
            exits.map(([code]) => code),
            [0, 0],
            "the pool closes and the nodes leave gracefully",
        );
    });

    it("refuses a store and an idle timeout by name: every node runs every bot it shares, its updates in Redis", async () => {
        const cluster = await joinCluster({ redis: REDIS, name: CLUSTER, signals: false });
        try {
            assert.throws(() => createBotPool({ cluster, store: ":memory:", signals: false }), /Invalid option `store`: in a cluster/);
            assert.throws(
                () => createBotPool({ cluster, idleTimeoutMs: 60_000, signals: false }),
                /Invalid option `idleTimeoutMs`: in a cluster/,
            );
            await createBotPool({ cluster, idleTimeoutMs: Number.POSITIVE_INFINITY, signals: false }).close();
        } finally {
            await cluster.leave();
        }
    });
});
