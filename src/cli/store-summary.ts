import Database from "better-sqlite3";
import { StoreError } from "../shared/errors.js";
import { MIGRATIONS } from "../store/schema.js";
import type { CampaignCounts } from "./campaign-line.js";

/** One bot's part of a store, as `sluice status` shows it. */
export interface BotSummary {
    botId: number;
    /** Processes that own a role for the bot (journal, outbox, tasks), and how long ago they were last seen. */
    owners: { role: string; pid: number; host: string; seenMsAgo: number }[];
    journal: { nextOffset: number | null; quarantined: number };
    outbox: { queued: number; deadLetters: number; unreachable: number };
    campaigns: CampaignCounts[];
    tasks: { queued: number; done: number; dead: number };
}

/**
 * Reads what a store holds, per bot, without changing it: opened read-only
 * (a bot process may own it and keep writing; WAL lets both go on), never
 * migrated. Counts here scan their tables, which is fine for an operator's
 * command and is why the running components keep counters instead.
 */
export function summarizeStore(path: string, now = Date.now()): BotSummary[] {
    let db: Database.Database;
    try {
        db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (error) {
        throw new StoreError(
            "STORE_UNWRITABLE",
            path,
            `Cannot open the store ${path} to read it: ${(error as Error).message}. Check the path.`,
            {
                cause: error,
            },
        );
    }
    try {
        const version = db.pragma("user_version", { simple: true }) as number;
        if (version !== MIGRATIONS.length) {
            throw new StoreError(
                "STORE_TOO_NEW",
                path,
                `The store ${path} has schema ${version}; this sluice reads schema ${MIGRATIONS.length}. Use the sluice version the bot runs (or start the bot once to migrate it).`,
            );
        }
        const count = (sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
        const botIds = botIdsIn(db);
        return botIds.map((botId) => ({
            botId,
            owners: (
                db.prepare("SELECT role, pid, host, heartbeat_at FROM owners WHERE bot_id = ? ORDER BY role").all(botId) as {
                    role: string;
                    pid: number;
                    host: string;
                    heartbeat_at: number;
                }[]
            ).map((owner) => ({ role: owner.role, pid: owner.pid, host: owner.host, seenMsAgo: now - owner.heartbeat_at })),
            journal: {
                nextOffset:
                    (
                        db.prepare("SELECT next_offset FROM journal_offsets WHERE bot_id = ?").get(botId) as
                            | { next_offset: number }
                            | undefined
                    )?.next_offset ?? null,
                quarantined: count("SELECT COUNT(*) AS n FROM journal_quarantine WHERE bot_id = ?", botId),
            },
            outbox: {
                queued: count("SELECT COUNT(*) AS n FROM outbox_messages WHERE bot_id = ? AND state = 'queued'", botId),
                deadLetters: count("SELECT COUNT(*) AS n FROM outbox_messages WHERE bot_id = ? AND state = 'dead'", botId),
                unreachable: count("SELECT COUNT(*) AS n FROM outbox_unreachable WHERE bot_id = ?", botId),
            },
            campaigns: (
                db
                    .prepare("SELECT id, name, state, total, sent, failed, skipped FROM campaigns WHERE bot_id = ? ORDER BY id")
                    .all(botId) as Omit<CampaignCounts, "pending">[]
            ).map((campaign) => ({ ...campaign, pending: campaign.total - campaign.sent - campaign.failed - campaign.skipped })),
            tasks: {
                queued: count("SELECT COUNT(*) AS n FROM tasks WHERE bot_id = ? AND state = 'queued'", botId),
                done: count("SELECT COUNT(*) AS n FROM tasks WHERE bot_id = ? AND state = 'done'", botId),
                dead: count("SELECT COUNT(*) AS n FROM tasks WHERE bot_id = ? AND state = 'dead'", botId),
            },
        }));
    } finally {
        db.close();
    }
}

/** The bots a store holds anything for (or that a process owns), in id order. */
export function botIdsIn(db: Database.Database): number[] {
    const rows = db
        .prepare(
            `SELECT bot_id FROM owners UNION SELECT bot_id FROM journal_offsets UNION SELECT bot_id FROM outbox_messages
             UNION SELECT bot_id FROM campaigns UNION SELECT bot_id FROM tasks ORDER BY bot_id`,
        )
        .all() as { bot_id: number }[];
    return rows.map((row) => row.bot_id);
}
