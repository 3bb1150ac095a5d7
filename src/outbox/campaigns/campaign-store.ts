import type { Statement } from "better-sqlite3";
import { preparedStatement, type Store } from "../../store/store.js";

/**
 * Where a campaign is in its life: `draft` until started, `scheduled` until
 * its `startAt`, `running`, `paused` (by `pause()` or its Stars budget),
 * then `finished` (nothing pending) or `cancelled`.
 */
export type CampaignState = "draft" | "scheduled" | "running" | "paused" | "cancelled" | "finished";

/** A recipient's state, as stored. */
export const RecipientState = { pending: 0, queued: 1, sent: 2, failed: 3, skipped: 4 } as const;

/** A campaign as stored. */
export interface CampaignRow {
    id: number;
    name: string;
    message: string;
    priority: number;
    state: CampaignState;
    paused_by: "user" | "budget" | null;
    start_at: number | null;
    total: number;
    sent: number;
    failed: number;
    skipped: number;
    budget_stars: number | null;
    spent_tenths: number;
    created_at: number;
    started_at: number | null;
    finished_at: number | null;
}

/** A campaign's recipient counters, as stored. */
export type CampaignCounters = Pick<CampaignRow, "id" | "total" | "sent" | "failed" | "skipped">;

/** A recipient waiting to be queued. */
export interface PendingRecipient {
    chat_id: number;
    locale: string | null;
    vars: string | null;
}

/** The counters a recipient's outcome moves. */
export type Tally = "sent" | "failed" | "skipped";

/**
 * The campaign tables and their statements. Counters live in the campaign's
 * row and move in the same transaction as the recipient whose state they
 * count, so `sent + failed + skipped + pending = total` holds at every
 * commit, and reading them costs the same for ten recipients or a million.
 */
export class CampaignStore {
    private readonly sql: Record<string, Statement>;

    constructor(
        readonly store: Store,
        private readonly botId: number,
    ) {
        const sql = (text: string) => preparedStatement(store, text);
        this.sql = {
            create: sql(
                `INSERT INTO campaigns (bot_id, name, message, priority, state, start_at, budget_stars, created_at)
                 VALUES (?, ?, ?, ?, 'draft', ?, ?, ?)`,
            ),
            get: sql("SELECT * FROM campaigns WHERE bot_id = ? AND id = ?"),
            list: sql("SELECT * FROM campaigns WHERE bot_id = ? ORDER BY id"),
            unfinished: sql("SELECT * FROM campaigns WHERE bot_id = ? AND state != 'draft' AND finished_at IS NULL"),
            notEndedBefore: sql(
                "SELECT id, total, sent, failed, skipped FROM campaigns WHERE bot_id = ? AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id",
            ),
            setState: sql(
                `UPDATE campaigns SET state = ?, paused_by = ?, started_at = COALESCE(started_at, ?), finished_at = ?
                 WHERE id = ?`,
            ),
            addRecipient: sql("INSERT OR IGNORE INTO campaign_recipients (campaign_id, chat_id, locale, vars) VALUES (?, ?, ?, ?)"),
            addTotal: sql("UPDATE campaigns SET total = total + ? WHERE id = ?"),
            pending: sql(
                "SELECT chat_id, locale, vars FROM campaign_recipients WHERE campaign_id = ? AND state = 0 ORDER BY chat_id LIMIT ?",
            ),
            setRecipient: sql("UPDATE campaign_recipients SET state = ? WHERE campaign_id = ? AND chat_id = ?"),
            skipPending: sql("UPDATE campaign_recipients SET state = 4 WHERE campaign_id = ? AND state = 0"),
            sent: sql("UPDATE campaigns SET sent = sent + ? WHERE id = ?"),
            failed: sql("UPDATE campaigns SET failed = failed + ? WHERE id = ?"),
            skipped: sql("UPDATE campaigns SET skipped = skipped + ? WHERE id = ?"),
            outcome: sql(
                `INSERT INTO campaign_outcomes (campaign_id, class, count) VALUES (?, ?, ?)
                 ON CONFLICT (campaign_id, class) DO UPDATE SET count = count + excluded.count`,
            ),
            outcomes: sql("SELECT class, count FROM campaign_outcomes WHERE campaign_id = ? ORDER BY class"),
            spend: sql("UPDATE campaigns SET spent_tenths = spent_tenths + 1 WHERE id = ? RETURNING spent_tenths, budget_stars"),
        };
    }

    /** Stores a new campaign in `draft`; returns its id. */
    create(
        campaign: { name: string; message: string; priority: number; startAt: number | null; budgetStars: number | null },
        now: number,
    ): number {
        const { name, message, priority, startAt, budgetStars } = campaign;
        return Number(this.sql.create!.run(this.botId, name, message, priority, startAt, budgetStars, now).lastInsertRowid);
    }

    /** A campaign of this bot, or `undefined`. */
    get(id: number): CampaignRow | undefined {
        return this.sql.get!.get(this.botId, id) as CampaignRow | undefined;
    }

    /** Every campaign of this bot, oldest first. */
    list(): CampaignRow[] {
        return this.sql.list!.all(this.botId) as CampaignRow[];
    }

    /** Campaigns started and not ended: scheduled, running, paused, or cancelled with sends still in flight. */
    unfinished(): CampaignRow[] {
        return this.sql.unfinished!.all(this.botId) as CampaignRow[];
    }

    /** The counters of campaigns not ended, and of those that ended at or after `since` (unix ms). */
    notEndedBefore(since: number): CampaignCounters[] {
        return this.sql.notEndedBefore!.all(this.botId, since) as CampaignCounters[];
    }

    /** Moves a campaign to `state`; `started_at` is set the first time it is given. */
    setState(id: number, state: CampaignState, fields: { pausedBy?: "user" | "budget"; startedAt?: number; finishedAt?: number }): void {
        this.sql.setState!.run(state, fields.pausedBy ?? null, fields.startedAt ?? null, fields.finishedAt ?? null, id);
    }

    /** Adds recipients in one transaction, ignoring chats already in the campaign; returns how many were new. */
    addRecipients(id: number, recipients: readonly [chatId: number, locale: string | null, vars: string | null][]): number {
        return this.store.transaction(() => {
            let added = 0;
            for (const [chatId, locale, vars] of recipients) added += this.sql.addRecipient!.run(id, chatId, locale, vars).changes;
            this.sql.addTotal!.run(added, id);
            return added;
        });
    }

    /** Up to `limit` recipients not yet queued, by chat id. */
    pending(id: number, limit: number): PendingRecipient[] {
        return this.sql.pending!.all(id, limit) as PendingRecipient[];
    }

    /** Records a recipient's new state (call inside a transaction that also tallies it, if it ended). */
    setRecipient(id: number, chatId: number, state: number): void {
        this.sql.setRecipient!.run(state, id, chatId);
    }

    /** Counts `n` recipients as sent, failed or skipped, under `outcome` (an error class or why skipped) unless sent. */
    tally(id: number, tally: Tally, n: number, outcome?: string): void {
        if (n === 0) return;
        this.sql[tally]!.run(n, id);
        if (outcome !== undefined) this.sql.outcome!.run(id, outcome, n);
    }

    /** Marks every recipient not yet queued as skipped; returns how many. */
    skipPending(id: number): number {
        return this.sql.skipPending!.run(id).changes;
    }

    /** Failed and skipped recipients by error class (or `cancelled`, `unreachable`). */
    outcomes(id: number): Record<string, number> {
        const rows = this.sql.outcomes!.all(id) as { class: string; count: number }[];
        return Object.fromEntries(rows.map((row) => [row.class, row.count]));
    }

    /** Records one paid message's 0.1 Star; returns whether the campaign's budget is now spent. */
    spend(id: number): boolean {
        const row = this.sql.spend!.get(id) as { spent_tenths: number; budget_stars: number | null };
        return row.budget_stars !== null && row.spent_tenths >= row.budget_stars * 10;
    }
}
