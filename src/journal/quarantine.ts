import type { Statement } from "better-sqlite3";
import { chatIdOfUpdate } from "../shared/update-chat.js";
import { preparedStatement, type Store } from "../store/store.js";
import type { Judgement, Verdict } from "./attempts.js";

/** An update the journal gave up replaying, with what is known about it. */
export interface QuarantinedUpdate<Y> {
    updateId: number;
    chatId: number | undefined;
    /** The evidence against it: observed exits its handler caused plus deaths while it ran alone. */
    attempts: number;
    /**
     * How it was judged: `"observed-exit"` (its handler ended the process
     * through `process.exit`, an uncaught exception or an unhandled
     * rejection) or `"repeated-hard-deaths"` (the process died without a
     * trace each time it ran alone).
     */
    judgement: Judgement;
    /** How the last exit it caused happened, e.g. `"uncaught exception: Error: boom"`. */
    lastExit: string | undefined;
    quarantinedAt: Date;
    /** A retry was asked for by another process (the `sluice` command); the bot's journal does it within a second. */
    retryRequested?: true;
    update: Y;
}

interface QuarantineRow {
    update_id: number;
    payload: string;
    chat_id: number | null;
    attempts: number;
    quarantined_at: number;
    judgement: Judgement | null;
    last_exit: string | null;
    retry_requested_at: number | null;
}

/**
 * One bot's quarantined updates in a store. The journal that owns the bot
 * moves updates in and out; any other connection (the `sluice` command on a
 * store a bot is running on) may list and drop them, and asks for a retry
 * with a mark the owner acts on: only the owner can hand an update to the bot.
 */
export class Quarantine<Y> {
    private readonly sql: Record<"add" | "list" | "get" | "drop" | "requestRetry" | "retryRequested", Statement>;

    constructor(
        store: Store,
        private readonly botId: number,
    ) {
        const sql = (text: string) => preparedStatement(store, text);
        this.sql = {
            add: sql(
                `INSERT OR REPLACE INTO journal_quarantine
                     (bot_id, update_id, payload, chat_id, attempts, quarantined_at, judgement, last_exit)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            ),
            list: sql("SELECT * FROM journal_quarantine WHERE bot_id = ? ORDER BY update_id"),
            get: sql("SELECT payload FROM journal_quarantine WHERE bot_id = ? AND update_id = ?"),
            drop: sql("DELETE FROM journal_quarantine WHERE bot_id = ? AND update_id = ?"),
            requestRetry: sql("UPDATE journal_quarantine SET retry_requested_at = ? WHERE bot_id = ? AND update_id = ?"),
            retryRequested: sql(
                "SELECT update_id FROM journal_quarantine WHERE bot_id = ? AND retry_requested_at IS NOT NULL ORDER BY update_id",
            ).pluck(),
        };
    }

    /** Sets an update aside (inside the journal's transaction). */
    add(update: Y & { update_id: number }, verdict: Verdict, now: number): void {
        const { judgement, attempts, lastExit } = verdict;
        const chatId = chatIdOfUpdate(update) ?? null;
        this.sql.add.run(this.botId, update.update_id, JSON.stringify(update), chatId, attempts, now, judgement, lastExit ?? null);
    }

    /** The quarantined updates, oldest first. */
    list(): QuarantinedUpdate<Y>[] {
        return (this.sql.list.all(this.botId) as QuarantineRow[]).map((row) => ({
            updateId: row.update_id,
            chatId: row.chat_id ?? undefined,
            attempts: row.attempts,
            // Quarantined before schema 4: by starts without finishing, the nearest of today's judgements.
            judgement: row.judgement ?? "repeated-hard-deaths",
            lastExit: row.last_exit ?? undefined,
            quarantinedAt: new Date(row.quarantined_at),
            ...(row.retry_requested_at === null ? {} : { retryRequested: true as const }),
            update: JSON.parse(row.payload) as Y,
        }));
    }

    /** Removes an update from the quarantine and returns it (for the owner's retry); `undefined` if it is not there. */
    take(updateId: number): Y | undefined {
        const row = this.sql.get.get(this.botId, updateId) as { payload: string } | undefined;
        if (row === undefined) return undefined;
        this.sql.drop.run(this.botId, updateId);
        return JSON.parse(row.payload) as Y;
    }

    /** Deletes an update for good; `false` if it is not quarantined. */
    drop(updateId: number): boolean {
        return this.sql.drop.run(this.botId, updateId).changes > 0;
    }

    /** Marks an update for the owner to retry; `false` if it is not quarantined. */
    requestRetry(updateId: number, now: number): boolean {
        return this.sql.requestRetry.run(now, this.botId, updateId).changes > 0;
    }

    /** Updates another process asked to retry, oldest first. */
    retryRequested(): number[] {
        return this.sql.retryRequested.all(this.botId) as number[];
    }
}
