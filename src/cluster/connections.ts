import type { Redis, RedisOptions } from "ioredis";
import { SluiceError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { OutageLog } from "./outage-log.js";

/** How often a node asks Redis whether it answers (a PING, one at a time). */
const PING_MS = 500;

/**
 * How long Redis may leave a node without an answer before it counts as
 * unreachable: a connection to a Redis cut off without a reset (a network
 * partition, a frozen host) stays "ready" and simply never answers.
 */
const SILENCE_MS = 2_000;

/**
 * Waits for `work` that waits on Redis: `true` once it finished, `false` if
 * Redis has been silent for `ms` (`silentMs()`: for how long it has not
 * answered, 0 while it does) first. ioredis holds a command
 * until Redis answers, through a `disconnect()` too, so work caught in an
 * outage may never end; past a lease of silence its leases have lapsed on
 * this node's clock, and nothing is gained by waiting.
 */
export async function finishesUnlessSilent(work: Promise<unknown>, ms: number, silentMs: () => number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<false>((resolve) => {
        timer = setInterval(() => silentMs() >= ms && resolve(false), ms / 10);
    });
    try {
        return await Promise.race([work.then(() => true), silent]);
    } finally {
        clearInterval(timer);
    }
}

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
    private readonly outage: OutageLog;
    private lastAnswerAt = performance.now();
    private pinging = false;
    private readonly pinger: NodeJS.Timeout;

    /** Whether Redis answers: the main connection is up and answered within the last two seconds. */
    get reachable(): boolean {
        return !this.outage.down && this.main.status === "ready" && performance.now() - this.lastAnswerAt < SILENCE_MS;
    }

    private constructor(
        private readonly RedisClient: new (url: string, options: RedisOptions) => Redis,
        private readonly url: string,
        log: Logger,
        quiet: () => boolean,
    ) {
        this.main = this.create();
        this.outage = new OutageLog(
            this.main,
            log,
            {
                lost:
                    "Redis is unreachable: this node's leases lapse, so its polling and handling pause until Redis answers again; " +
                    "nothing is lost (unacknowledged updates stay in their streams, unconfirmed ones at Telegram)",
                back: "Redis answers again: this node takes its leases back and resumes polling and handling",
            },
            quiet,
        );
        this.main.on("ready", () => (this.lastAnswerAt = performance.now()));
        this.pinger = setInterval(() => this.ping(), PING_MS).unref();
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

    /** Waits for `work` that waits on Redis, unless Redis has not answered for `ms` (see `finishesUnlessSilent`). */
    finishes(work: Promise<unknown>, ms: number): Promise<boolean> {
        return finishesUnlessSilent(work, ms, () => (this.reachable ? 0 : performance.now() - this.lastAnswerAt));
    }

    /** Drops `connection` (without one: every connection) at once, without waiting for Redis to take a QUIT. */
    disconnect(connection?: Redis): void {
        if (connection !== undefined) {
            this.others.delete(connection);
            connection.disconnect();
            return;
        }
        clearInterval(this.pinger);
        for (const other of [...this.others, this.main]) other.disconnect();
        this.others.clear();
    }

    /** Closes every connection. */
    async close(): Promise<void> {
        clearInterval(this.pinger);
        await Promise.all([...this.others].map((connection) => this.drop(connection)));
        await this.main.quit().catch(() => this.main.disconnect());
    }

    /** One PING at a time: a PING still unanswered is the silence `reachable` measures. */
    private ping(): void {
        if (this.pinging || this.main.status !== "ready") return;
        this.pinging = true;
        this.main
            .ping()
            .then(() => (this.lastAnswerAt = performance.now()))
            .catch(() => {})
            .finally(() => (this.pinging = false));
    }

    private create(): Redis {
        return new this.RedisClient(this.url, { lazyConnect: true, maxRetriesPerRequest: null });
    }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
    return url.replace(/\/\/([^@/]*)@/, "//***@");
}
