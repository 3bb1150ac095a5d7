import type { FastifyInstance } from "fastify";
import { PRIORITIES } from "../../outbox/queue.js";
import { type AdminTarget, outboxOf } from "../admin-target.js";
import { httpError, need } from "../http-errors.js";
import { idParams } from "./params.js";

/** A message as `POST /v1/messages` takes it: the shape of `outbox.enqueue`, with `notBefore` as an ISO date. */
const messageBody = {
    type: "object",
    required: ["method", "payload"],
    additionalProperties: false,
    properties: {
        method: { type: "string", minLength: 1 },
        payload: { type: "object", required: ["chat_id"], properties: { chat_id: { type: ["integer", "string"] } } },
        priority: { type: "string", enum: [...PRIORITIES] },
        idempotencyKey: { type: "string", minLength: 1 },
        notBefore: { type: "string", format: "date-time" },
    },
} as const;

/**
 * Messages and dead letters: enqueue, look one up, list, requeue and purge
 * dead letters, on the store's outbox or a cluster node's.
 */
export function outboxRoutes(app: FastifyInstance, target: AdminTarget): void {
    const outbox = () => need(outboxOf(target), "outbox", "outbox: true");
    app.post<{
        Body: {
            method: string;
            payload: Record<string, unknown>;
            priority?: "high" | "normal" | "low";
            idempotencyKey?: string;
            notBefore?: string;
        };
    }>("/v1/messages", { schema: { body: messageBody } }, async (request, reply) => {
        const { notBefore, ...message } = request.body;
        const queued = await outbox().enqueue({ ...message, ...(notBefore === undefined ? {} : { notBefore: new Date(notBefore) }) });
        return reply.code(queued.duplicate ? 200 : 201).send(queued);
    });
    app.get<{ Params: { id: number } }>("/v1/messages/:id", { schema: { params: idParams } }, async (request) => {
        const status = await outbox().status(request.params.id);
        if (status === undefined) throw httpError(404, "NOT_FOUND", `No message ${request.params.id}.`);
        return status;
    });
    app.get("/v1/dead-letters", async () => outbox().deadLetters());
    app.post<{ Params: { id: number } }>("/v1/dead-letters/:id/requeue", { schema: { params: idParams } }, async (request) => {
        if (!(await outbox().requeue(request.params.id)))
            throw httpError(404, "NOT_FOUND", `Message ${request.params.id} is not a dead letter.`);
        return { requeued: request.params.id };
    });
    app.delete("/v1/dead-letters", async () => ({ purged: await outbox().purgeDeadLetters() }));
}
