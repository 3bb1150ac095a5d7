import type { Registry } from "prom-client";
import type { ClusterBotStatus } from "../cluster/cluster.js";
import { scrapedGauge } from "./series.js";

/**
 * Reports what this node does for one bot in a cluster, read at scrape time
 * (each node is scraped on its own, so the series are this node's view):
 * `sluice_cluster_nodes`, `sluice_cluster_partitions`, `sluice_cluster_polling`,
 * `sluice_cluster_lag{state}`, `sluice_cluster_leases_lost` and
 * `sluice_cluster_redis_up`. One Redis round trip per scrape (the lag).
 * Returns the function that stops reporting.
 */
export function measureCluster(registry: Registry, botId: number, status: () => Promise<ClusterBotStatus>): () => void {
    const bot_id = String(botId);
    // The series of one scrape come from one status, read once by whichever gauge is collected first.
    let current: Promise<ClusterBotStatus> | undefined;
    const read = () => {
        current ??= status().finally(() => setImmediate(() => (current = undefined)));
        return current;
    };
    const gauges: [string, string, (status: ClusterBotStatus) => number][] = [
        ["sluice_cluster_nodes", "Live nodes of the cluster, as this node sees them.", (s) => s.nodes.length],
        ["sluice_cluster_partitions", "Partitions this node holds (it handles their chats' updates).", (s) => s.partitions.length],
        ["sluice_cluster_polling", "1 while this node polls the bot (holds its poller lease).", (s) => Number(s.polling)],
        [
            "sluice_cluster_leases_lost",
            "Leases this node lost since it joined (renewals that lapsed, not hand-overs).",
            (s) => s.leasesLost,
        ],
        ["sluice_cluster_redis_up", "1 while Redis answers this node; its work pauses while it does not.", (s) => Number(s.redisReachable)],
    ];
    const removers = gauges.map(([name, help, value]) =>
        scrapedGauge(registry, name, help, ["bot_id"], async (gauge) => gauge.set({ bot_id }, value(await read()))),
    );
    removers.push(
        scrapedGauge(
            registry,
            "sluice_cluster_lag",
            "The bot's updates in this node's partitions: appended and not read yet (waiting), read and not acknowledged (pending).",
            ["bot_id", "state"],
            async (gauge) => {
                const { lag } = await read();
                if (lag === null) return; // Redis does not answer: no figure rather than a stale or made-up one
                gauge.set({ bot_id, state: "waiting" }, lag.waiting);
                gauge.set({ bot_id, state: "pending" }, lag.pending);
            },
        ),
    );
    return () => {
        for (const remove of removers) remove();
    };
}
