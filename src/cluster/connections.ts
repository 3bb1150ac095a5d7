import type { Redis, RedisOptions } from "ioredis";
import { SluiceError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/**
 * A node's connections to Redis: one for commands and scripts, one for the
 * membership channel, and one per attached bot for its blocking reads.
 * Commands wait through a lost connection and run when it is back (ioredis
 * reconnects); meanwhile the lease deadlines on this node's clock stop the
 * work they fence. An outage is logged once when it begins and once when it
 * ends, not at every reconnection attempt.
 */
export class ClusterConnections {
    /** Commands and scripts. */
    readonly main: Redis;
    private readonly others = new Set<Redis>();
    private down = false;

    /** Whether the main connection is up (commands wait while it is not). */
    get reachable(): boolean {
        return !this.down && this.main.status === "ready";
    }

    private constructor(
        private readonly RedisClient: new (url: string, options: RedisOptions) => Redis,
        private readonly url: string,
        private readonly log: Logger,
        private readonly quiet: () => boolean,
    ) {
        this.main = this.create();
        this.main.on("error", (error: Error) => this.lost(error));
        this.main.on("close", () => this.lost());
        this.main.on("ready", () => {
            if (!this.down) return;
            this.down = false;
            this.log.info("Redis answers again: this node takes its leases back and resumes polling and handling");
        });
    }

    /**
     * Connects to Redis at `url` (ioredis is loaded now, not with sluice: see
     * "Startup cost" in docs/ARCHITECTURE.md). Rejects with
     * `CLUSTER_UNREACHABLE` if the first connection fails.
     */
    static async open(url: string, log: Logger, quiet: () => boolean): Promise<ClusterConnections> {
        const { Redis: RedisClient } = await import("ioredis");
        const connections = new ClusterConnections(RedisClient, url, log, quiet);
        try {
            await connections.main.connect();
        } catch (error) {
            connections.main.disconnect();
            throw new SluiceError(
                "CLUSTER_UNREACHABLE",
                `Could not reach Redis at ${redactUrl(url)}: ${(error as Error).message}. Is redis-server running?`,
                { cause: error },
            );
        }
        return connections;
    }

    /** Another connection (it connects on first use, or on `connect()`), closed by its user, `drop()` or `close()`. */
    extra(): Redis {
        const connection = this.create();
        // Its errors are the main connection's too, and that one says so.
        connection.on("error", () => {});
        // Its user may quit it first (the cluster outbox does).
        connection.once("end", () => this.others.delete(connection));
        this.others.add(connection);
        return connection;
    }

    /** Closes a connection from `extra()`. */
    async drop(connection: Redis): Promise<void> {
        this.others.delete(connection);
        await connection.quit().catch(() => connection.disconnect());
    }

    /**
     * Resolves once Redis has been unreachable for `ms` on end (looked at
     * every tenth of it); never while it answers, nor after `signal` aborts.
     */
    unreachableFor(ms: number, signal: AbortSignal): Promise<void> {
        return new Promise((resolve) => {
            let since: number | undefined;
            const timer = setInterval(() => {
                if (this.reachable) since = undefined;
                else if (performance.now() - (since ??= performance.now()) >= ms) {
                    clearInterval(timer);
                    resolve();
                }
            }, ms / 10).unref();
            signal.addEventListener("abort", () => clearInterval(timer), { once: true });
        });
    }

    /** Drops every connection at once, without waiting for Redis to take a QUIT. */
    disconnect(): void {
        for (const connection of [...this.others, this.main]) connection.disconnect();
        this.others.clear();
    }

    /** Closes every connection. */
    async close(): Promise<void> {
        await Promise.all([...this.others].map((connection) => this.drop(connection)));
        await this.main.quit().catch(() => this.main.disconnect());
    }

    private create(): Redis {
        return new this.RedisClient(this.url, { lazyConnect: true, maxRetriesPerRequest: null });
    }

    private lost(error?: Error): void {
        if (this.down || this.quiet()) return;
        this.down = true;
        this.log.warn(
            { err: error },
            "Redis is unreachable: this node's leases lapse, so its polling and handling pause until Redis answers again; " +
                "nothing is lost (unacknowledged updates stay in their streams, unconfirmed ones at Telegram)",
        );
    }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
    return url.replace(/\/\/([^@/]*)@/, "//***@");
}
