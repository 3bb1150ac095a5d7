/**
 * A cluster node running a bot pool in a child process, for the pool's
 * cluster test: joins CLUSTER on REDIS, and starts every bot of TOKENS
 * (comma-separated, against the simulator at API_ROOT) in a pool on it.
 * Each handler works 5 ms. Writes one line per event to stdout,
 * synchronously so that a SIGKILL loses none:
 *   r                             every bot started
 *   s <bot_id> <update_id> <chat> a handler started
 *   e <bot_id> <update_id>        a handler ended
 *   l <bot_id>,<bot_id>,...       the bots this node polls changed
 * SIGTERM: closes the pool and leaves the cluster gracefully, then exits 0.
 */
import { createBotPool, joinCluster } from "../../src/index.js";
import { say } from "./say.js";

const { API_ROOT, TOKENS, CLUSTER, REDIS, NODE } = process.env;

const cluster = await joinCluster({ redis: REDIS!, name: CLUSTER!, nodeId: NODE, partitions: 16, signals: false });
const pool = createBotPool({
    cluster,
    signals: false,
    botConfig: { client: { apiRoot: API_ROOT! } },
    setup: (bot) => {
        bot.on("message", async (ctx) => {
            say(`s ${ctx.me.id} ${ctx.update.update_id} ${ctx.chat.id}`);
            await new Promise((resolve) => setTimeout(resolve, 5));
            say(`e ${ctx.me.id} ${ctx.update.update_id}`);
        });
    },
});
await Promise.all(TOKENS!.split(",").map((token) => pool.start(token)));
let polled = "";
setInterval(() => {
    const now = cluster
        .status()
        .leases.filter((lease) => lease.startsWith("poller:"))
        .map((lease) => lease.slice("poller:".length))
        .join(",");
    if (now !== polled) say(`l ${(polled = now)}`);
}, 20).unref();
process.once("SIGTERM", async () => {
    await pool.close();
    await cluster.leave();
    process.exit(0);
});
say("r");
