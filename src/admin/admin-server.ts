import type { FastifyInstance } from "fastify";
import { InvalidOptionError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { wholeNumber } from "../shared/options.js";
import type { AdminTarget } from "./admin-target.js";
import { BearerToken } from "./bearer-token.js";
import { toErrorAnswer } from "./http-errors.js";
import { campaignRoutes } from "./routes/campaigns.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { eventRoutes } from "./routes/events.js";
import { healthRoutes } from "./routes/health.js";
import { maintenanceRoutes } from "./routes/maintenance.js";
import { outboxRoutes } from "./routes/outbox.js";
import { statusRoutes } from "./routes/status.js";
import { SnapshotFeed } from "./snapshot-feed.js";
import { SnapshotTaker } from "./snapshot-taker.js";

/** How the admin API listens. The same shape for `run(bot, { admin })` and `createAdminServer`. */
export interface AdminSettings {
    /** The bearer token every route but `/healthz` and `/readyz` requires (required; at least 16 characters). */
    token: string;
    /** TCP port. @default 8080 (0: a free one; read `url`) */
    port?: number;
    /** Interface to listen on; loopback unless told otherwise. @default "127.0.0.1" */
    host?: string;
    /** Largest JSON body accepted, in bytes (413 above; NDJSON uploads stream and are not limited). @default 1_048_576 */
    bodyLimit?: number;
}

/** Options of `createAdminServer`: what it operates, and how it listens. */
export interface AdminServerOptions extends AdminSettings {
    /** A `run()` handle, or anything with its journal, outbox and tasks. */
    handle: AdminTarget;
    /** pino logger; sluice's quiet default otherwise. */
    logger?: Logger;
}

/** A running admin API. */
export interface AdminServer {
    /** Where it listens, e.g. `http://127.0.0.1:8080`. */
    readonly url: string;
    /** Stops listening and closes open connections, event streams included. */
    close(): Promise<void>;
}

const MIN_TOKEN_LENGTH = 16;

/**
 * Refuses settings the admin API cannot start with, before anything starts
 * (`run` checks them synchronously); returns them with their defaults.
 */
export function checkAdminSettings(settings: AdminSettings): { token: string; port: number; bodyLimit: number } {
    const { token } = settings;
    if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH) {
        throw new InvalidOptionError(
            "admin.token",
            `the admin API needs a bearer token of at least ${MIN_TOKEN_LENGTH} characters, e.g. from \`openssl rand -hex 24\``,
        );
    }
    return {
        token,
        port: wholeNumber("admin.port", settings.port, 8080, { min: 0 }),
        bodyLimit: wholeNumber("admin.bodyLimit", settings.bodyLimit, 1_048_576),
    };
}

/**
 * Starts the admin HTTP API (fastify): health checks, status, messages, dead
 * letters, campaigns (with NDJSON uploads), the quarantine and dead tasks,
 * JSON in and out, every body checked by a schema whose 400 names the field;
 * a live event stream of the bot's state, and the dashboard that shows it at `/`.
 *
 * ```ts
 * const admin = await createAdminServer({ handle, token: process.env.SLUICE_ADMIN_TOKEN!, port: 8080 });
 * ```
 */
export async function createAdminServer(options: AdminServerOptions): Promise<AdminServer> {
    const app = await buildAdminApp(options);
    const address = await app.listen({ port: checkAdminSettings(options).port, host: options.host ?? "127.0.0.1" });
    componentLogger("admin", options.logger).info({ url: address }, "admin API listening");
    return { url: address, close: () => app.close() };
}

/**
 * The admin API's application, not yet listening: `createAdminServer`
 * listens with it, and the `sluice` command answers `--store` commands by
 * injecting requests into it, so both go through the same routes, schemas
 * and answers.
 */
export async function buildAdminApp(options: Omit<AdminServerOptions, "port" | "host">): Promise<FastifyInstance> {
    const { token, bodyLimit } = checkAdminSettings(options);
    const log = componentLogger("admin", options.logger);
    // Loaded here, not at import: a bot that never serves the admin API does not pay fastify's load time.
    const { default: Fastify } = await import("fastify");
    // Union types ("integer or string" for a chat id) are meant: said so, Ajv validates them without a warning on stderr.
    const app = Fastify({ bodyLimit, logger: false, ajv: { customOptions: { allowUnionTypes: true } } });
    const bearer = new BearerToken(token);
    app.addHook("onRequest", async (request, reply) => {
        if ((request.routeOptions.config as { public?: boolean }).public === true) return;
        if (!bearer.admits(request.headers.authorization)) {
            return reply
                .code(401)
                .send({ error: { code: "UNAUTHORIZED", message: "Send the admin token as `Authorization: Bearer <token>`." } });
        }
    });
    app.setErrorHandler((error, request, reply) => {
        const { status, body } = toErrorAnswer(error);
        if (status >= 500) log.error({ err: error, url: request.url }, "admin request failed");
        return reply.code(status).send(body);
    });
    const feed = new SnapshotFeed(new SnapshotTaker(options.handle), log);
    // Open streams never end on their own: they end here, or the server would wait for them forever.
    app.addHook("preClose", async () => feed.close());
    registerRoutes(app, options.handle, feed);
    return app;
}

function registerRoutes(app: FastifyInstance, target: AdminTarget, feed: SnapshotFeed): void {
    dashboardRoutes(app);
    eventRoutes(app, feed);
    healthRoutes(app, target);
    statusRoutes(app, target);
    outboxRoutes(app, target);
    campaignRoutes(app, target);
    maintenanceRoutes(app, target);
}
