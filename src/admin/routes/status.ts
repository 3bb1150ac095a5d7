import type { FastifyInstance } from "fastify";
import { reportedBy } from "../../shared/timing.js";
import { type AdminTarget, outboxOf } from "../admin-target.js";
import { need } from "../http-errors.js";

/**
 * `GET /v1/status`: the bot at a glance (polling, journal, outbox, campaigns,
 * tasks, and in a cluster this node's part: nodes, partitions, leases, lag,
 * and the outbox in Redis);
 * `GET /metrics` for Prometheus.
 */
export function statusRoutes(app: FastifyInstance, target: AdminTarget): void {
    app.get("/metrics", async (_request, reply) => {
        const text = await need(target.metrics, "metrics", "metrics: true").text();
        return reply.type("text/plain; version=0.0.4").send(text);
    });
    app.get("/v1/status", async () => {
        const { journal, tasks } = target;
        const outbox = outboxOf(target);
        return {
            polling: target.isRunning(),
            journal: journal && {
                offset: journal.offset,
                unfinished: journal.unfinishedCount(),
                quarantined: journal.quarantined().length,
            },
            // A cluster's outbox has no unreachable-chat marks and no campaigns: those fields are absent, not 0.
            outbox: outbox && {
                deadLetters: await reportedBy(() => outbox.deadLetterCount()),
                stoppedBy: outbox.stoppedBy?.code ?? null,
                ...(target.outbox && {
                    unreachable: target.outbox.unreachableCount(),
                    campaigns: target.outbox.campaigns.list().length,
                }),
            },
            tasks: tasks && { dead: tasks.dead().length },
            cluster: target.cluster && (await target.cluster.status()),
        };
    });
}
