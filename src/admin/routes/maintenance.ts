import type { FastifyInstance } from "fastify";
import type { AdminTarget } from "../admin-target.js";
import { httpError, need } from "../http-errors.js";
import { idParams } from "./params.js";

const updateParams = { type: "object", required: ["updateId"], properties: { updateId: { type: "integer", minimum: 0 } } } as const;

/** What waits for an operator: the journal's quarantine (retry, drop) and dead tasks (retry). */
export function maintenanceRoutes(app: FastifyInstance, target: AdminTarget): void {
    const journal = () => need(target.journal, "journal", 'store: "bot.db"');
    const tasks = () => need(target.tasks, "tasks", "tasks: { handlers }");
    app.get("/v1/quarantine", async () => journal().quarantined());
    app.post<{ Params: { updateId: number } }>("/v1/quarantine/:updateId/retry", { schema: { params: updateParams } }, async (request) => {
        if (!journal().retryQuarantined(request.params.updateId)) throw notQuarantined(request.params.updateId);
        return { retried: request.params.updateId };
    });
    app.delete<{ Params: { updateId: number } }>("/v1/quarantine/:updateId", { schema: { params: updateParams } }, async (request) => {
        if (!journal().dropQuarantined(request.params.updateId)) throw notQuarantined(request.params.updateId);
        return { dropped: request.params.updateId };
    });
    app.get("/v1/tasks/dead", async () => tasks().dead());
    app.post<{ Params: { id: number } }>("/v1/tasks/:id/retry", { schema: { params: idParams } }, async (request) => {
        if (!tasks().retry(request.params.id)) throw httpError(404, "NOT_FOUND", `Task ${request.params.id} is not dead.`);
        return { retried: request.params.id };
    });
}

function notQuarantined(updateId: number): Error {
    return httpError(404, "NOT_FOUND", `Update ${updateId} is not in the quarantine.`);
}
