import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { CampaignMessage, Recipient } from "../../outbox/campaigns/campaign-message.js";
import { PRIORITIES } from "../../outbox/queue.js";
import type { AdminTarget } from "../admin-target.js";
import { httpError, need } from "../http-errors.js";
import { idParams } from "./params.js";

/** A campaign as `POST /v1/campaigns` takes it: the shape of `campaigns.create`, `startAt` an ISO date. */
const campaignBody = {
    type: "object",
    required: ["name", "message"],
    additionalProperties: false,
    properties: {
        name: { type: "string", minLength: 1 },
        message: { type: "object" },
        priority: { type: "string", enum: [...PRIORITIES] },
        startAt: { type: "string", format: "date-time" },
        budgetStars: { type: "integer", minimum: 1 },
    },
} as const;

const recipientsBody = {
    type: "array",
    items: {
        type: "object",
        required: ["chatId"],
        properties: { chatId: { type: ["integer", "string"] }, locale: { type: "string" }, vars: { type: "object" } },
    },
} as const;

/**
 * Campaigns: create, add recipients (a JSON array, or NDJSON streamed line
 * by line in constant memory: a million recipients in one request), start,
 * pause, resume, cancel, list, stats.
 */
export function campaignRoutes(app: FastifyInstance, target: AdminTarget): void {
    const campaigns = () => {
        // Told apart from a bot without an outbox: `outbox: true` is not the remedy for a cluster's.
        if (target.outbox === undefined && target.clusterOutbox !== undefined) {
            throw httpError(
                404,
                "NOT_CONFIGURED",
                "This bot's outbox is the cluster's, which has no campaigns yet; campaigns need the outbox in a store (`outbox: true` without `cluster`).",
            );
        }
        return need(target.outbox, "outbox", "outbox: true").campaigns;
    };
    // NDJSON is handed to the route as the request stream, unparsed: the body limit is for JSON, not for this.
    app.addContentTypeParser("application/x-ndjson", (_request, payload, done) => done(null, payload));

    app.post<{
        Body: { name: string; message: CampaignMessage; priority?: "high" | "normal" | "low"; startAt?: string; budgetStars?: number };
    }>("/v1/campaigns", { schema: { body: campaignBody } }, async (request, reply) => {
        const { startAt, ...options } = request.body;
        const created = campaigns().create({ ...options, ...(startAt === undefined ? {} : { startAt: new Date(startAt) }) });
        return reply.code(201).send(created);
    });
    app.post<{ Params: { id: number }; Body: Recipient[] | Readable }>(
        "/v1/campaigns/:id/recipients",
        // A JSON array is checked by its schema; NDJSON lines as they come, by addRecipients.
        {
            schema: {
                params: idParams,
                body: { content: { "application/json": { schema: recipientsBody }, "application/x-ndjson": { schema: {} } } },
            },
        },
        async (request) => {
            const body = request.body;
            return campaigns().addRecipients(request.params.id, Array.isArray(body) ? body : ndjsonLines(body));
        },
    );
    for (const action of ["start", "pause", "resume", "cancel"] as const) {
        app.post<{ Params: { id: number } }>(`/v1/campaigns/:id/${action}`, { schema: { params: idParams } }, async (request) => {
            campaigns()[action](request.params.id);
            return campaigns().stats(request.params.id);
        });
    }
    app.get("/v1/campaigns", async () => campaigns().list());
    app.get<{ Params: { id: number } }>("/v1/campaigns/:id", { schema: { params: idParams } }, async (request) =>
        campaigns().stats(request.params.id),
    );
}

/**
 * Recipients from an NDJSON stream, one JSON object a line; a line that is
 * not JSON stops the upload with a 400. The stream is read a chunk at a time
 * as recipients are taken, so a million-line upload holds one chunk and one
 * batch of recipients, not the file (measured flat from 100,000 to 300,000
 * lines).
 */
async function* ndjsonLines(stream: Readable): AsyncGenerator<Recipient> {
    let line = 0;
    let rest = "";
    const parse = (text: string): Recipient | undefined => {
        line++;
        if (text.trim() === "") return undefined;
        try {
            return JSON.parse(text) as Recipient;
        } catch {
            throw httpError(400, "INVALID_REQUEST", `line ${line} of the NDJSON body is not JSON`);
        }
    };
    stream.setEncoding("utf8");
    for await (const chunk of stream as AsyncIterable<string>) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const text of lines) {
            const recipient = parse(text);
            if (recipient !== undefined) yield recipient;
        }
    }
    const last = parse(rest);
    if (last !== undefined) yield last;
}
