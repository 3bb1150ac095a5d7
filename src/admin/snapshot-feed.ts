import type { Logger } from "../shared/logger.js";
import type { SnapshotTaker } from "./snapshot-taker.js";

/** One open event stream, as the feed sees it. */
export interface FeedSubscriber {
    /** Sends one server-sent event (its text, ready to write). */
    send(event: string): void;
    /** The feed closed: end the stream. */
    end(): void;
}

/**
 * Takes one snapshot a second while anyone watches and sends it to every
 * open stream: however many pages are open, the bot pays for one snapshot
 * a second (each serialised once), and nothing at all while none is. A new
 * stream gets a fresh snapshot at once (the others get it too, and the
 * second starts over): one taken before it connected could predate what
 * its client just did.
 */
export class SnapshotFeed {
    private readonly subscribers = new Set<FeedSubscriber>();
    /** The next snapshot, while anyone watches. */
    private timer: NodeJS.Timeout | undefined;
    /** A snapshot is being taken: a stream that opens meanwhile gets it. */
    private taking = false;
    private closed = false;
    /** The last snapshot failed: the next failure is not logged again. */
    private failing = false;

    constructor(
        private readonly taker: SnapshotTaker,
        private readonly log: Logger,
        private readonly everyMs = 1_000,
    ) {}

    /** Open streams. */
    get size(): number {
        return this.subscribers.size;
    }

    /** Adds a stream; returns what removes it (when its client goes away). */
    subscribe(subscriber: FeedSubscriber): () => void {
        if (this.closed) {
            subscriber.end();
            return () => {};
        }
        this.subscribers.add(subscriber);
        if (!this.taking) {
            clearTimeout(this.timer);
            void this.tick();
        }
        return () => this.subscribers.delete(subscriber);
    }

    /** Ends every stream and stops taking snapshots (the server is closing). */
    close(): void {
        this.closed = true;
        clearTimeout(this.timer);
        for (const subscriber of this.subscribers) subscriber.end();
        this.subscribers.clear();
    }

    private async tick(): Promise<void> {
        this.taking = true;
        let event: string | undefined;
        try {
            event = `event: snapshot\ndata: ${JSON.stringify(await this.taker.take())}\n\n`;
            this.failing = false;
        } catch (error) {
            // Streams keep their last snapshot; the page shows its age. One log line per run of failures.
            if (!this.failing) this.log.error({ err: error }, "could not take the dashboard's snapshot; retrying every second");
            this.failing = true;
        }
        this.taking = false;
        if (this.closed || this.subscribers.size === 0) return;
        if (event !== undefined) for (const subscriber of this.subscribers) subscriber.send(event);
        this.timer = setTimeout(() => void this.tick(), this.everyMs).unref();
    }
}
