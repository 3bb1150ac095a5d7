/**
 * A cluster node in a child process, for the cluster tests: joins CLUSTER on
 * REDIS and runs the bot BOT_TOKEN (against the simulator at API_ROOT) with
 * LEASE_MS and PARTITIONS; each handler works WORK_MS ("min-max" ms) and
 * replies "<node>:<update_id>" (so the test sees which node sent it).
 * Writes one line per event to stdout, synchronously so that a SIGKILL loses none:
 *   r <partitions>            joined and running, with the cluster's partition count
 *   s <update_id> <chat_id>   a handler started
 *   e <update_id>             a handler ended
 *   l <lease>,<lease>,...     the leases it holds changed (p:<n>, poller:<bot>)
 *   x <update_id>             a handler's call was refused: its partition had passed to another node
 * With LOG_LEVEL, sluice's log lines (JSON, starting with "{") go to stdout too.
 * SIGTERM: stops the bot and leaves the cluster gracefully, then exits 0.
 */
import { Bot, type Context } from "grammy";
import { pino } from "pino";
import { joinCluster, run, SluiceError } from "../../src/index.js";
import { say } from "./say.js";

const { API_ROOT, BOT_TOKEN, CLUSTER, REDIS, WORK_MS, LEASE_MS, PARTITIONS, NODE, LOG_LEVEL } = process.env;
const [minWork, maxWork] = (WORK_MS ?? "0").includes("-") ? WORK_MS!.split("-").map(Number) : [0, Number(WORK_MS ?? 0)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const logger = LOG_LEVEL === undefined ? undefined : pino({ level: LOG_LEVEL }, pino.destination({ fd: 1, sync: true }));
const cluster = await joinCluster({
    logger,
    redis: REDIS ?? "redis://127.0.0.1:6379",
    name: CLUSTER!,
    nodeId: NODE,
    partitions: Number(PARTITIONS ?? 16),
    leaseMs: Number(LEASE_MS ?? 4000),
    signals: false,
});
const bot = new Bot<Context>(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
bot.on("message", async (ctx) => {
    say(`s ${ctx.update.update_id} ${ctx.chat.id}`);
    if (maxWork! > 0) await sleep(minWork! + Math.random() * (maxWork! - minWork!));
    await ctx.reply(`${cluster.nodeId}:${ctx.update.update_id}`);
    say(`e ${ctx.update.update_id}`);
});
bot.catch((error) => {
    if (error.error instanceof SluiceError && error.error.code === "CLUSTER_FENCED") say(`x ${error.ctx.update.update_id}`);
});
const handle = run(bot, { cluster, signals: false, logger });
let leases = "";
setInterval(() => {
    const now = cluster.status().leases.join(",");
    if (now !== leases) say(`l ${(leases = now)}`);
}, 20).unref();
process.once("SIGTERM", async () => {
    await Promise.all([handle.stop(), cluster.leave()]);
    process.exit(0);
});
say(`r ${cluster.partitions}`);
await handle.task();
