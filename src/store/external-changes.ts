import type Database from "better-sqlite3";
import { outsideUpdateScope } from "../shared/update-scope.js";

/**
 * How often the owner of a store looks for commits by other connections:
 * well inside the second within which the `sluice` command's writes must be
 * noticed, and a read of one integer in SQLite's shared memory each time.
 */
export const EXTERNAL_CHANGES_EVERY_MS = 250;

/**
 * Tells listeners when another connection committed to the store: the
 * `sluice` command enqueuing a message or pausing a campaign while a bot
 * owns the file, or a second component that opened the same file on its own.
 * SQLite's `PRAGMA data_version` changes exactly when a commit came from a
 * connection other than this one, so the owner's own writes cost nothing.
 */
export class ExternalChanges {
    private readonly listeners = new Set<() => void>();
    private timer: NodeJS.Timeout | undefined;
    private version = 0;

    constructor(private readonly db: Database.Database) {}

    /** Calls `listener` after each look that found other connections' commits; returns how to stop. */
    listen(listener: () => void): () => void {
        this.listeners.add(listener);
        if (this.timer === undefined) {
            this.version = this.read();
            // Outside any update's scope: the listeners' work belongs to no handler. Unref'd: watching keeps nothing alive.
            this.timer = outsideUpdateScope(() => setInterval(() => this.look(), EXTERNAL_CHANGES_EVERY_MS)).unref();
        }
        return () => {
            this.listeners.delete(listener);
            if (this.listeners.size === 0) this.stop();
        };
    }

    /** Stops looking (the store closes). */
    stop(): void {
        clearInterval(this.timer);
        this.timer = undefined;
    }

    private look(): void {
        if (!this.db.open) {
            this.stop();
            return;
        }
        let version: number;
        try {
            version = this.read();
        } catch {
            return; // busy or failing: the next look sees the same change
        }
        if (version === this.version) return;
        this.version = version;
        for (const listener of this.listeners) listener();
    }

    private read(): number {
        return this.db.pragma("data_version", { simple: true }) as number;
    }
}
