import type { Statement } from "better-sqlite3";
import { preparedStatement, type Store } from "../store/store.js";

/** A chat the bot cannot write to, as Telegram last said. */
export interface UnreachableChat {
    /** The chat's id, as the outbox keys it (`chat_id` as text). */
    chat: string;
    /** The answer that said so: `blocked_by_user`, `user_deactivated` or `chat_not_found`. */
    reason: string;
    /** When it was marked. */
    since: Date;
}

/**
 * Chats that answered "bot was blocked by the user", "user is deactivated"
 * or "chat not found". Campaigns skip them instead of spending a send (and
 * a place in the 30/s) on a certain failure; an update from the chat (the
 * user unblocked the bot and wrote) clears the mark.
 */
export class UnreachableChats {
    private readonly sql: Record<string, Statement>;
    /**
     * How many are marked, at least: while none are, checks and clears cost
     * nothing. A mark rolled back with its transaction leaves it one too
     * high, which only costs a look.
     */
    private count: number;

    constructor(
        private readonly store: Store,
        private readonly botId: number,
    ) {
        const sql = (text: string) => preparedStatement(store, text);
        this.sql = {
            mark: sql(
                `INSERT INTO outbox_unreachable (bot_id, chat_key, reason, since) VALUES (?, ?, ?, ?)
                 ON CONFLICT (bot_id, chat_key) DO UPDATE SET reason = excluded.reason, since = excluded.since`,
            ),
            has: sql("SELECT 1 FROM outbox_unreachable WHERE bot_id = ? AND chat_key = ?"),
            clear: sql("DELETE FROM outbox_unreachable WHERE bot_id = ? AND chat_key = ?"),
            list: sql("SELECT chat_key, reason, since FROM outbox_unreachable WHERE bot_id = ? ORDER BY since, chat_key"),
            count: sql("SELECT COUNT(*) AS count FROM outbox_unreachable WHERE bot_id = ?"),
        };
        this.count = (this.sql.count!.get(botId) as { count: number }).count;
    }

    /** Marks `chat` unreachable for `reason` (inside the caller's transaction, if any). */
    mark(chat: string, reason: string, now: number): void {
        const isNew = this.sql.has!.get(this.botId, chat) === undefined;
        this.sql.mark!.run(this.botId, chat, reason, now);
        if (isNew) this.count++;
    }

    /** Whether `chat` is marked. */
    has(chat: string): boolean {
        return this.count > 0 && this.sql.has!.get(this.botId, chat) !== undefined;
    }

    /** Clears the marks of chats that wrote to the bot; returns how many were marked. */
    clear(chats: Iterable<string | number>): number {
        if (this.count === 0) return 0;
        const cleared = this.store.transaction(() => {
            let changes = 0;
            for (const chat of chats) changes += this.sql.clear!.run(this.botId, String(chat)).changes;
            return changes;
        });
        this.count -= cleared;
        return cleared;
    }

    /** How many chats are marked (counted, not the cached lower bound). */
    size(): number {
        return (this.sql.count!.get(this.botId) as { count: number }).count;
    }

    /** Every marked chat, longest marked first. */
    list(): UnreachableChat[] {
        return (this.sql.list!.all(this.botId) as { chat_key: string; reason: string; since: number }[]).map((row) => ({
            chat: row.chat_key,
            reason: row.reason,
            since: new Date(row.since),
        }));
    }
}
