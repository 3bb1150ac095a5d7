import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Asset, loadDashboardAssets } from "../dashboard-assets.js";
import { httpError } from "../http-errors.js";

/**
 * What the page may do: run its own modules and styles, and call this
 * server; no inline script or style, no other origin, not inside a frame.
 * uPlot styles its elements through the DOM's style properties, which this
 * allows, not through style attributes, which it would not.
 */
const CONTENT_SECURITY_POLICY = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
].join("; ");

/**
 * The dashboard: the page at `/` and its files at `/assets/<name>`, public
 * (the page holds no data; it asks for the token and sends it with every
 * call, never in a URL). Files are read when the page is first asked for,
 * so a bot whose dashboard nobody opens reads none of them.
 */
export function dashboardRoutes(app: FastifyInstance): void {
    let assets: Promise<ReadonlyMap<string, Asset>> | undefined;
    const serve = async (name: string, request: FastifyRequest, reply: FastifyReply) => {
        assets ??= loadDashboardAssets();
        const asset = (await assets).get(name);
        if (asset === undefined) throw httpError(404, "NOT_FOUND", `The dashboard has no file ${name}.`);
        reply.headers({
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            // Revalidated each time (a 304 while unchanged), so an upgraded sluice never runs a stale page.
            "cache-control": "no-cache",
            etag: asset.etag,
            vary: "accept-encoding",
        });
        if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
        const gzip = /\bgzip\b/.test(request.headers["accept-encoding"] ?? "");
        if (gzip) reply.header("content-encoding", "gzip");
        return reply.type(asset.type).send(gzip ? asset.gzipped : asset.body);
    };
    app.get("/", { config: { public: true } }, (request, reply) => serve("index.html", request, reply));
    app.get<{ Params: { name: string } }>("/assets/:name", { config: { public: true } }, (request, reply) =>
        serve(request.params.name, request, reply),
    );
}
