/**
 * The cluster on Redis (127.0.0.1:6379): what a node's trip through Redis
 * costs against a plain `run`, and how throughput grows with nodes when
 * handlers wait on I/O.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Redis } from "ioredis";
import { joinCluster, run, sequentialize } from "../src/index.js";
import type { RemoteSimulator } from "../src/simulator/index.js";
import { chatAndUser, freshBot, until } from "./rig.js";

const REDIS = "redis://127.0.0.1:6379";
let clusters = 0;
const clusterName = () => `bench-${process.pid}-${clusters++}`;

/** Deletes a benchmark cluster's keys. */
async function forget(name: string): Promise<void> {
    const redis = new Redis(REDIS);
    const keys = await redis.keys(`{sluice:${name}}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
}

/** Fails with what to do when no Redis answers. */
export async function needRedis(): Promise<void> {
    const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch(() => {
        throw new Error("the cluster benchmark needs Redis on 127.0.0.1:6379: install redis-server and start it (see .ci/run)");
    });
    redis.disconnect();
}

/**
 * Updates per second of the throughput run (`count` updates over 1,000
 * chats, a zero-work handler behind `sequentialize`) with plain `run`, or
 * as the one node of a cluster: every batch goes through Redis streams
 * before it is handled, and every handled update is acknowledged there.
 */
export async function singleNodeThroughput(sim: RemoteSimulator, mode: "plain" | "cluster", count: number): Promise<number> {
    const { bot, token } = await freshBot(sim);
    const messages = Array.from({ length: count }, (_, i) => ({ chatId: 1 + (i % 1_000), text: "x" }));
    for (let i = 0; i < count; i += 10_000) await sim.pushMessages(token, messages.slice(i, i + 10_000));
    let handled = 0;
    bot.use(sequentialize(chatAndUser));
    bot.on("message", () => {
        handled++;
    });
    const name = clusterName();
    const cluster = mode === "cluster" ? await joinCluster({ redis: REDIS, name, signals: false }) : undefined;
    // Timed from when the node holds its partitions, as a node that has been up a while does.
    if (cluster !== undefined) await until(() => cluster.status().partitions.length === cluster.partitions);
    const started = performance.now();
    const handle = run(bot, { signals: false, stopTimeoutMs: 100, cluster });
    await until(() => handled === count);
    const rate = count / ((performance.now() - started) / 1000);
    await handle.stop();
    await cluster?.leave();
    await forget(name);
    return rate;
}

/** What `clusterThroughput` measured. */
export interface ClusterThroughput {
    perSecond: number;
    /** The share of the partitions each node held. */
    shares: number[];
}

/**
 * Updates per second handled by `nodes` cluster nodes (child processes),
 * each running at most `concurrency` handlers of `handlerMs` at once.
 */
export async function clusterThroughput(
    sim: RemoteSimulator,
    nodes: number,
    options: { count: number; handlerMs: number; concurrency: number; partitions: number },
): Promise<ClusterThroughput> {
    const { token } = await freshBot(sim);
    const name = clusterName();
    const script = new URL("./cluster-node.ts", import.meta.url).pathname;
    const handled = new Array<number>(nodes).fill(0);
    const shares: number[] = [];
    const children: ChildProcess[] = Array.from({ length: nodes }, (_, index) => {
        const child = spawn(process.execPath, ["--import", "tsx", script], {
            env: {
                ...process.env,
                API_ROOT: sim.apiRoot,
                BOT_TOKEN: token,
                CLUSTER: name,
                REDIS,
                NODES: String(nodes),
                HANDLER_MS: String(options.handlerMs),
                CONCURRENCY: String(options.concurrency),
                PARTITIONS: String(options.partitions),
            },
            stdio: ["ignore", "pipe", "inherit"],
        });
        let buffered = "";
        child.stdout!.on("data", (chunk: Buffer) => {
            const lines = (buffered + chunk.toString()).split("\n");
            buffered = lines.pop()!;
            for (const line of lines) {
                if (line.startsWith("r ")) shares.push(Number(line.slice(2)) / options.partitions);
                else if (line !== "") handled[index] = Number(line);
            }
        });
        return child;
    });
    try {
        await until(() => shares.length === nodes);
        const messages = Array.from({ length: options.count }, (_, i) => ({ chatId: 1 + (i % 1_000), text: "x" }));
        const started = performance.now();
        for (let i = 0; i < options.count; i += 10_000) await sim.pushMessages(token, messages.slice(i, i + 10_000));
        await until(() => handled.reduce((sum, n) => sum + n, 0) >= options.count);
        return { perSecond: options.count / ((performance.now() - started) / 1000), shares };
    } finally {
        await Promise.all(
            children.map(
                (child) =>
                    new Promise((resolve) => {
                        child.once("exit", resolve);
                        child.kill("SIGTERM");
                    }),
            ),
        );
        await forget(name);
    }
}
