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
