import type { Redis } from "ioredis";
import type { Logger } from "../shared/logger.js";

/** What an outage log says when Redis stops answering and when it answers again. */
export interface OutageMessages {
    lost: string;
    back: string;
}

/**
 * Logs a Redis connection's outage once when it begins and once when it
 * ends, rather than at every reconnection attempt (ioredis reports each
 * failed attempt as an error, several a second).
 */
export class OutageLog {
    /** Whether the connection is down, as its last event said. */
    down = false;

    /** `quiet()`: while it is true (a node leaving), a lost connection is expected and not logged. */
    constructor(
        connection: Redis,
        private readonly log: Logger,
        private readonly says: OutageMessages,
        private readonly quiet: () => boolean = () => false,
    ) {
        connection.on("error", (error: Error) => this.lost(error));
        connection.on("close", () => this.lost());
        connection.on("ready", () => {
            if (!this.down) return;
            this.down = false;
            this.log.info(this.says.back);
        });
    }

    private lost(error?: Error): void {
        if (this.down || this.quiet()) return;
        this.down = true;
        this.log.warn({ err: error }, this.says.lost);
    }
}
