/**
 * A cluster node with the outbox in Redis, in a child process, for the
 * cluster outbox tests: joins CLUSTER on REDIS and runs the bot BOT_TOKEN
 * (against the simulator at API_ROOT) with `outbox` (LEASE_MS, GLOBAL per
 * second) and the cluster's CLUSTER_LEASE_MS. A handler replies "re:<text>" to every message through
 * the outbox; for a text starting with "hold" it then never ends (its update stays unacknowledged, so
 * another node handles it again once this one dies).
 * Writes one line per event to stdout, synchronously so that a SIGKILL loses none:
 *   r              joined and running
 *   t <text>       the outbox is about to send a message with this text (it holds its lease)
 *   h <update_id>  a handler's reply resolved with Telegram's message
 * SIGTERM: stops the bot (closing the outbox) and leaves the cluster, then exits 0.
 */
import { Bot, type Context } from "grammy";
import { joinCluster, run } from "../../src/index.js";
import { say } from "./say.js";

const { API_ROOT, BOT_TOKEN, CLUSTER, REDIS, NODE, LEASE_MS, GLOBAL, CLUSTER_LEASE_MS } = process.env;

const cluster = await joinCluster({
    redis: REDIS!,
    name: CLUSTER!,
    nodeId: NODE,
    partitions: 4,
    leaseMs: Number(CLUSTER_LEASE_MS ?? 4000),
    signals: false,
});
const bot = new Bot<Context>(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
// Installed first, so it is the innermost transformer: it sees the outbox's own calls as they leave.
bot.api.config.use((previous, method, payload, signal) => {
    const text = (payload as { text?: unknown }).text;
    if (method === "sendMessage" && typeof text === "string") say(`t ${text}`);
    return previous(method, payload, signal);
});
bot.on("message", async (ctx) => {
    await ctx.reply(`re:${ctx.message.text}`);
    say(`h ${ctx.update.update_id}`);
    if (ctx.message.text?.startsWith("hold")) await new Promise(() => {});
});
const handle = run(bot, {
    cluster,
    outbox: { leaseMs: Number(LEASE_MS ?? 5000), globalPerSecond: Number(GLOBAL ?? 30) },
    signals: false,
});
process.once("SIGTERM", async () => {
    await handle.stop();
    await cluster.leave();
    process.exit(0);
});
await handle.clusterOutbox!.ready;
say("r");
await handle.task();
