import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, before } from "node:test";
import { Redis } from "ioredis";

/** The Redis the cluster tests run against (`.ci/run` starts one if none answers). */
export const REDIS = "redis://127.0.0.1:6379";

/**
 * Names for one test file's clusters (`<prefix>-<pid>-<n>`, apart from other
 * runs sharing the Redis). Checks before the file's tests that Redis answers,
 * failing with what to install, and deletes the named clusters' keys after them.
 */
export function clusterNames(prefix: string): () => string {
    const names: string[] = [];
    before(async () => {
        const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect().catch(() => {
            throw new Error("the cluster tests need Redis on 127.0.0.1:6379: install redis-server and start it (see .ci/run)");
        });
        redis.disconnect();
    });
    after(() => forgetClusters(names));
    return () => {
        const name = `${prefix}-${process.pid}-${names.length}`;
        names.push(name);
        return name;
    };
}

/** Deletes every key of the named clusters. */
export async function forgetClusters(names: readonly string[]): Promise<void> {
    const redis = new Redis(REDIS);
    for (const name of names) {
        const keys = await redis.keys(`{sluice:${name}}*`);
        if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
}

/** A TCP proxy to the test's Redis that can be cut (connections reset, new ones refused) and restored on the same port. */
export async function redisProxy(): Promise<{ url: string; cut(): void; restore(): Promise<void>; close(): Promise<void> }> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((client) => {
        const upstream = tcpConnect(6379, "127.0.0.1");
        for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.on("error", () => {});
            socket.on("close", () => {
                sockets.delete(socket);
                client.destroy();
                upstream.destroy();
            });
        }
        client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    return {
        url: `redis://127.0.0.1:${port}`,
        cut() {
            server.close();
            for (const socket of sockets) socket.destroy();
        },
        restore: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve)),
        close: () =>
            new Promise<void>((resolve) => {
                for (const socket of sockets) socket.destroy();
                server.close(() => resolve());
            }),
    };
}
