/**
 * A cluster node for the cluster benchmark, in a process of its own: joins
 * CLUSTER on REDIS and runs the bot BOT_TOKEN (against the simulator at
 * API_ROOT); each handler waits HANDLER_MS (I/O, not CPU) and at most
 * CONCURRENCY run at once on this node, like handlers that share a pool of
 * that many database connections. Prints `r <partitions held>` once it holds
 * exactly the partitions placed on it, then the number of updates handled, every 100 ms.
 */
import { Bot } from "grammy";
import { placePartitions } from "../src/cluster/partitioning.js";
import { joinCluster, run } from "../src/index.js";

const { API_ROOT, BOT_TOKEN, CLUSTER, REDIS, HANDLER_MS, CONCURRENCY, NODES, PARTITIONS } = process.env;
const cluster = await joinCluster({ redis: REDIS!, name: CLUSTER!, partitions: Number(PARTITIONS), signals: false });
const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
let handled = 0;
bot.on("message", async () => {
    await new Promise((resolve) => setTimeout(resolve, Number(HANDLER_MS)));
    handled++;
});
const handle = run(bot, { cluster, signals: false, sink: { concurrency: Number(CONCURRENCY) } });
// Ready once every node is seen and this node holds exactly the partitions placed on it (not one still handing over).
const settled = () => {
    const { nodes, partitions } = cluster.status();
    const placed = placePartitions(cluster.partitions, nodes).flatMap((owner, partition) => (owner === cluster.nodeId ? [partition] : []));
    return nodes.length === Number(NODES) && placed.join() === partitions.join();
};
while (!settled()) await new Promise((resolve) => setTimeout(resolve, 20));
console.log(`r ${cluster.status().partitions.length}`);
setInterval(() => console.log(handled), 100);
process.once("SIGTERM", async () => {
    await Promise.all([handle.stop(), cluster.leave()]);
    process.exit(0);
});
