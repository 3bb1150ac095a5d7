import type { FastifyInstance } from "fastify";
import { type AdminTarget, outboxOf } from "../admin-target.js";

/**
 * `/healthz` (the process answers) and `/readyz` (the bot polls and its
 * outbox has not stopped on a revoked token): the two routes without auth,
 * for load balancers and orchestrators, which answer with a status only.
 */
export function healthRoutes(app: FastifyInstance, target: AdminTarget): void {
    app.get("/healthz", { config: { public: true } }, async () => ({ ok: true }));
    app.get("/readyz", { config: { public: true } }, async (_request, reply) => {
        const ready = target.isRunning() && outboxOf(target)?.stoppedBy === undefined;
        return reply.code(ready ? 200 : 503).send({ ready });
    });
}
