import type { FastifyInstance } from "fastify";
import type { SnapshotFeed } from "../snapshot-feed.js";

/**
 * Streams open at once. Snapshots are shared, so a stream costs a socket
 * and a write a second; the cap keeps a runaway client (a page reopened in
 * a loop) from holding every socket of the process.
 */
const MAX_STREAMS = 32;

/**
 * `GET /v1/events`: server-sent events (`text/event-stream`), a `snapshot`
 * event at once and then every second (see `Snapshot`), until the client
 * goes away or the server closes. It needs the bearer token like every
 * `/v1` route, so the dashboard reads it with `fetch` (an `EventSource`
 * cannot send the header, and a token in the URL would land in logs).
 */
export function eventRoutes(app: FastifyInstance, feed: SnapshotFeed): void {
    app.get("/v1/events", async (_request, reply) => {
        if (feed.size >= MAX_STREAMS) {
            const message = `At most ${MAX_STREAMS} event streams are served at once; close one.`;
            return reply.code(503).send({ error: { code: "TOO_MANY_STREAMS", message } });
        }
        // From here on the response is written by hand, one event at a time; fastify lets go of it.
        reply.hijack();
        const response = reply.raw;
        response.writeHead(200, {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-store",
            // A proxy in front (nginx) would otherwise hold events back to fill its buffer.
            "x-accel-buffering": "no",
            // The socket ends with the stream, so a closing server has no connection left to wait for.
            connection: "close",
        });
        const unsubscribe = feed.subscribe({
            send: (event) => {
                // A client that stopped reading misses snapshots rather than piling them up in memory.
                if (!response.writableNeedDrain) response.write(event);
            },
            end: () => response.end(),
        });
        response.on("close", unsubscribe);
    });
}
