import type { Statement } from "better-sqlite3";
import type { SendFailure } from "../shared/errors.js";
import { deleteInSlices } from "../store/slices.js";
import { preparedStatement, type Store } from "../store/store.js";

/** Priority of an outbound message: served 5 : 3 : 1 when all three wait. */
export type Priority = "high" | "normal" | "low";
export const PRIORITIES: readonly Priority[] = ["high", "normal", "low"];

/** A queued message as the dispatcher sends it. */
export interface QueuedMessage {
    readonly id: number;
    /** The chat's queue it is in: `chat_id` as text. */
    chat: string;
    readonly method: string;
    payload: Record<string, unknown>;
    readonly priority: number;
    notBefore: number;
    attempts: number;
    /** The campaign it belongs to, if any. */
    readonly campaignId: number | null;
    /** A campaign message's recipient, as it was added (kept when its group migrates). */
    readonly recipient: number | null;
}

/** A message to store. */
export interface NewMessage {
    chat: string;
    method: string;
    payload: Record<string, unknown>;
    priority: number;
    notBefore: number;
    idempotencyKey?: string | undefined;
    campaignId?: number | undefined;
    recipient?: number | undefined;
}

/** What enqueuing answers: the message's id, and whether its idempotency key had been used before. */
export interface Enqueued {
    id: number;
    duplicate: boolean;
}

/** Where a message is in its life. */
export type MessageState = "queued" | "sent" | "dead" | "cancelled";

/** What `status(id)` tells about a message. */
export interface MessageStatus {
    id: number;
    state: MessageState;
    method: string;
    chat: string;
    attempts: number;
    /** Telegram's result, once sent. */
    result?: unknown;
    /** Why it was given up (dead or cancelled), with Telegram's answer where there was one. */
    error?: SendFailure;
    /** The campaign it belongs to, if any. */
    campaignId?: number;
}

/** How a message left the queue. */
export type Ending = { state: "sent"; result: unknown } | { state: "dead"; failure: SendFailure } | { state: "cancelled" };

/** A ready head as the dispatcher's window holds it: enough to find it again. */
export interface HeadRef {
    readonly id: number;
    readonly chat: string;
}

/** What the queue tells its owner, inside the transaction that made the change. */
export interface QueueEvents {
    /** A chat's head was written: a message of `priority` may leave at `readyAt`. */
    headWritten(priority: number, readyAt: number): void;
    /** A message left the queue: sent, given up or cancelled. */
    ended(message: QueuedMessage, ending: Ending, now: number): void;
}

interface Row {
    id: number;
    chat_key: string;
    method: string;
    payload: string;
    priority: number;
    not_before: number;
    state: MessageState;
    attempts: number;
    result: string | null;
    error: string | null;
    error_class: string | null;
    error_code: number | null;
    error_parameters: string | null;
    campaign_id: number | null;
    recipient: number | null;
}

/**
 * The outbox's table. Messages live in SQLite, not in memory: a chat's
 * queue is its queued rows in id order, and each chat with queued messages
 * has one head row (its oldest message and the earliest time it may leave),
 * indexed by priority and that time. The dispatcher asks for the heads that
 * are ready, a few hundred at a time, so choosing the next message costs an
 * index seek however many chats wait. Every change of state is written
 * before it is acted on, so a restart resumes exactly the messages that
 * were not marked sent.
 */
export class OutboxQueue {
    private readonly sql: Record<string, Statement>;
    /**
     * Queued messages by priority, for the metrics: counted when first asked
     * and kept as messages enter and leave here, since a count per scrape
     * reads every queued row (a tenth of a second for a million). They are
     * counted again when the store's `changeMark` moved: another process (the
     * `sluice` command) wrote the file, or a transaction that counted rolled back.
     */
    private queuedCounts: number[] | undefined;
    /** The store's change mark when `queuedCounts` was counted. */
    private countedAt: string | undefined;

    constructor(
        private readonly store: Store,
        private readonly botId: number,
        private readonly events: QueueEvents,
    ) {
        const sql = (text: string) => preparedStatement(store, text);
        this.sql = {
            insert: sql(
                `INSERT INTO outbox_messages (bot_id, chat_key, method, payload, priority, not_before, idempotency_key, state,
                     created_at, campaign_id, recipient)
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
            ),
            byKey: sql("SELECT id FROM outbox_messages WHERE bot_id = ? AND idempotency_key = ?"),
            get: sql("SELECT * FROM outbox_messages WHERE bot_id = ? AND id = ?"),
            // A chat with queued messages already has its head: then this does nothing.
            insertHead: sql("INSERT OR IGNORE INTO outbox_heads (bot_id, chat_key, message_id, priority, ready_at) VALUES (?, ?, ?, ?, ?)"),
            firstQueued: sql(
                "SELECT id, priority, not_before FROM outbox_messages WHERE bot_id = ? AND chat_key = ? AND state = 'queued' ORDER BY id LIMIT 1",
            ),
            writeHead: sql(
                `INSERT INTO outbox_heads (bot_id, chat_key, message_id, priority, ready_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (bot_id, chat_key) DO UPDATE SET message_id = excluded.message_id, priority = excluded.priority,
                     ready_at = excluded.ready_at`,
            ),
            deleteHead: sql("DELETE FROM outbox_heads WHERE bot_id = ? AND chat_key = ?"),
            delayHead: sql("UPDATE outbox_heads SET ready_at = ? WHERE bot_id = ? AND chat_key = ? RETURNING priority"),
            ready: sql(
                `SELECT message_id AS id, chat_key AS chat FROM outbox_heads
                 WHERE bot_id = ? AND priority = ? AND ready_at <= ? ORDER BY ready_at LIMIT ?`,
            ),
            nextReady: sql("SELECT MIN(ready_at) AS at FROM outbox_heads WHERE bot_id = ? AND priority = ? AND ready_at > ?"),
            head: sql(
                `SELECT m.* FROM outbox_heads AS h JOIN outbox_messages AS m ON m.id = h.message_id
                 WHERE h.bot_id = ? AND h.chat_key = ? AND h.ready_at <= ?`,
            ),
            sent: sql("UPDATE outbox_messages SET state = 'sent', result = ?, attempts = ?, finished_at = ? WHERE id = ?"),
            dead: sql(
                `UPDATE outbox_messages SET state = 'dead', error = ?, error_class = ?, error_code = ?, error_parameters = ?,
                     attempts = ?, finished_at = ? WHERE id = ?`,
            ),
            reschedule: sql("UPDATE outbox_messages SET not_before = ?, attempts = ? WHERE id = ?"),
            cancel: sql("UPDATE outbox_messages SET state = 'cancelled', finished_at = ? WHERE id = ?"),
            moveChat: sql(
                `UPDATE outbox_messages SET chat_key = ?, payload = json_set(payload, '$.chat_id', ?)
                 WHERE bot_id = ? AND chat_key = ? AND state = 'queued'`,
            ),
            withdraw: sql("DELETE FROM outbox_messages WHERE id = ? AND state = 'queued' RETURNING chat_key, recipient, priority"),
            queuedOfCampaign: sql("SELECT id, chat_key FROM outbox_messages WHERE campaign_id = ? AND state = 'queued'"),
            // LIMIT -1 is SQLite's "no limit".
            deadLetters: sql("SELECT * FROM outbox_messages WHERE bot_id = ? AND state = 'dead' ORDER BY id LIMIT ?"),
            countDead: sql("SELECT COUNT(*) AS count FROM outbox_messages WHERE bot_id = ? AND state = 'dead'"),
            requeue: sql(
                `UPDATE outbox_messages SET state = 'queued', attempts = 0, error = NULL, error_class = NULL, error_code = NULL,
                     error_parameters = NULL, not_before = ?, finished_at = NULL WHERE bot_id = ? AND id = ? AND state = 'dead'
                 RETURNING chat_key, priority`,
            ),
            // One pass, no grouping (which would sort): the classes are 0, 1 and 2.
            queuedByPriority: sql(
                `SELECT COUNT(*) FILTER (WHERE priority = 0) AS high, COUNT(*) FILTER (WHERE priority = 1) AS normal,
                     COUNT(*) FILTER (WHERE priority = 2) AS low
                 FROM outbox_messages WHERE bot_id = ? AND state = 'queued'`,
            ),
            purge: sql("DELETE FROM outbox_messages WHERE bot_id = ? AND state = 'dead'"),
            prune: sql(
                `DELETE FROM outbox_messages WHERE id IN (
                     SELECT id FROM outbox_messages WHERE bot_id = ? AND state IN ('sent', 'cancelled') AND finished_at < ? LIMIT ?)`,
            ),
        };
    }

    /** The prepared statements by name, for the test that checks each finds its rows through an index. */
    get statements(): Readonly<Record<string, Statement>> {
        return this.sql;
    }

    /**
     * Stores new messages in one transaction. A message whose idempotency key
     * was used before is not stored again; its entry holds the earlier id.
     */
    enqueue(messages: readonly NewMessage[], now: number): Enqueued[] {
        return this.store.transaction(() => messages.map((message) => this.insert(message, now)));
    }

    private insert(message: NewMessage, now: number): Enqueued {
        const { idempotencyKey } = message;
        if (idempotencyKey !== undefined) {
            const earlier = this.sql.byKey!.get(this.botId, idempotencyKey) as { id: number } | undefined;
            if (earlier !== undefined) return { id: earlier.id, duplicate: true };
        }
        const { lastInsertRowid } = this.sql.insert!.run(
            this.botId,
            message.chat,
            message.method,
            JSON.stringify(message.payload),
            message.priority,
            message.notBefore,
            idempotencyKey ?? null,
            now,
            message.campaignId ?? null,
            message.recipient ?? null,
        );
        const id = Number(lastInsertRowid);
        this.countQueued(message.priority, 1);
        if (this.sql.insertHead!.run(this.botId, message.chat, id, message.priority, message.notBefore).changes > 0) {
            this.events.headWritten(message.priority, message.notBefore);
        }
        return { id, duplicate: false };
    }

    /** Up to `limit` heads of `priority` ready at `now`, the longest ready first. */
    readyHeads(priority: number, now: number, limit: number): HeadRef[] {
        return this.sql.ready!.all(this.botId, priority, now, limit) as HeadRef[];
    }

    /** The earliest time after `after` at which a head of `priority` becomes ready (`Infinity`: none). */
    nextReadyAt(priority: number, after: number): number {
        return (this.sql.nextReady!.get(this.botId, priority, after) as { at: number | null }).at ?? Infinity;
    }

    /** The head message of `chat` if it is ready at `now`. */
    readyHead(chat: string, now: number): QueuedMessage | undefined {
        const row = this.sql.head!.get(this.botId, chat, now) as Row | undefined;
        return row === undefined ? undefined : fromRow(row);
    }

    /** Keeps `chat`'s head back until `readyAt` (its limit does not admit it before). */
    delayHead(chat: string, readyAt: number): void {
        const head = this.sql.delayHead!.get(readyAt, this.botId, chat) as { priority: number } | undefined;
        if (head !== undefined) this.events.headWritten(head.priority, readyAt);
    }

    /**
     * Records a message as sent with Telegram's result; the chat's next
     * message becomes its head, ready no earlier than `chatReadyAt`.
     */
    markSent(message: QueuedMessage, result: unknown, now: number, chatReadyAt: number): void {
        this.store.transaction(() => {
            this.sql.sent!.run(JSON.stringify(result ?? null), message.attempts, now, message.id);
            this.advanceHead(message.chat, chatReadyAt);
            this.events.ended(message, { state: "sent", result }, now);
            this.countQueued(message.priority, -1);
        });
    }

    /** Moves a message to the dead letters, with why; the chat's next message becomes its head. */
    markDead(message: QueuedMessage, failure: SendFailure, now: number, chatReadyAt: number): void {
        const parameters = failure.parameters === undefined ? null : JSON.stringify(failure.parameters);
        this.store.transaction(() => {
            this.sql.dead!.run(
                failure.description,
                failure.errorClass,
                failure.errorCode ?? null,
                parameters,
                message.attempts,
                now,
                message.id,
            );
            this.advanceHead(message.chat, chatReadyAt);
            this.events.ended(message, { state: "dead", failure }, now);
            this.countQueued(message.priority, -1);
        });
    }

    /** Records a later attempt of a message that stays at the head of its chat. */
    reschedule(message: QueuedMessage): void {
        this.store.transaction(() => {
            this.sql.reschedule!.run(message.notBefore, message.attempts, message.id);
            this.delayHead(message.chat, message.notBefore);
        });
    }

    /** Cancels a queued message that is not being sent; `false` otherwise. */
    cancel(id: number, now: number, inFlight: (id: number) => boolean): boolean {
        return this.store.transaction(() => {
            const row = this.sql.get!.get(this.botId, id) as Row | undefined;
            if (row === undefined || row.state !== "queued" || inFlight(id)) return false;
            this.sql.cancel!.run(now, id);
            this.countQueued(row.priority, -1);
            this.advanceHead(row.chat_key, now);
            this.events.ended(fromRow(row), { state: "cancelled" }, now);
            return true;
        });
    }

    /**
     * Moves `from`'s queued messages to `to` (a group that became a
     * supergroup): their `chat_id` is rewritten and they keep their order.
     */
    moveChat(from: string, to: string | number, now: number): void {
        this.store.transaction(() => {
            this.sql.moveChat!.run(String(to), to, this.botId, from);
            this.sql.deleteHead!.run(this.botId, from);
            this.advanceHead(String(to), now);
        });
    }

    /** Ids and chats of a campaign's queued messages. */
    queuedOfCampaign(campaignId: number): HeadRef[] {
        return (this.sql.queuedOfCampaign!.all(campaignId) as { id: number; chat_key: string }[]).map((row) => ({
            id: row.id,
            chat: row.chat_key,
        }));
    }

    /**
     * Takes queued messages back out as if they had never been enqueued (a
     * campaign paused or cancelled). Call inside the caller's transaction;
     * returns the recipients of those that were still queued.
     */
    withdraw(messages: readonly HeadRef[], now: number): number[] {
        const recipients: number[] = [];
        const chats = new Set<string>();
        for (const { id } of messages) {
            const row = this.sql.withdraw!.get(id) as { chat_key: string; recipient: number | null; priority: number } | undefined;
            if (row === undefined) continue;
            this.countQueued(row.priority, -1);
            chats.add(row.chat_key);
            if (row.recipient !== null) recipients.push(row.recipient);
        }
        for (const chat of chats) this.advanceHead(chat, now);
        return recipients;
    }

    /** Makes the chat's oldest queued message its head (or drops the head when none is left). */
    private advanceHead(chat: string, readyFloor: number): void {
        const first = this.sql.firstQueued!.get(this.botId, chat) as { id: number; priority: number; not_before: number } | undefined;
        if (first === undefined) {
            this.sql.deleteHead!.run(this.botId, chat);
            return;
        }
        const readyAt = Math.max(first.not_before, readyFloor);
        this.sql.writeHead!.run(this.botId, chat, first.id, first.priority, readyAt);
        this.events.headWritten(first.priority, readyAt);
    }

    /** A message's current state, or `undefined` if there is no such message. */
    status(id: number): MessageStatus | undefined {
        const row = this.sql.get!.get(this.botId, id) as Row | undefined;
        return row === undefined ? undefined : toStatus(row);
    }

    /** Messages given up, oldest first; the first `limit` of them when given. */
    deadLetters(limit = -1): MessageStatus[] {
        return (this.sql.deadLetters!.all(this.botId, limit) as Row[]).map(toStatus);
    }

    /** How many messages were given up (counted in the dead letters' own index). */
    deadLetterCount(): number {
        return (this.sql.countDead!.get(this.botId) as { count: number }).count;
    }

    /**
     * Puts a dead letter back in its chat's queue, in its original place
     * (before the chat's messages enqueued after it); `false` if it is not one.
     */
    requeue(id: number, now: number): boolean {
        return this.store.transaction(() => {
            const row = this.sql.requeue!.get(now, this.botId, id) as { chat_key: string; priority: number } | undefined;
            if (row === undefined) return false;
            this.countQueued(row.priority, 1);
            this.advanceHead(row.chat_key, now);
            return true;
        });
    }

    /** How many messages are queued, by priority class (index 0 is `high`). */
    queuedByPriority(): readonly number[] {
        const mark = this.store.changeMark();
        if (this.queuedCounts === undefined || mark !== this.countedAt) {
            const counts = this.sql.queuedByPriority!.get(this.botId) as { high: number; normal: number; low: number };
            this.queuedCounts = [counts.high, counts.normal, counts.low];
            this.countedAt = mark;
        }
        return this.queuedCounts;
    }

    /** Keeps `queuedByPriority` current, once it was first counted. */
    private countQueued(priority: number, change: number): void {
        if (this.queuedCounts !== undefined) this.queuedCounts[priority]! += change;
    }

    /** Deletes all dead letters; returns how many. */
    purge(): number {
        return this.sql.purge!.run(this.botId).changes;
    }

    /** Deletes sent and cancelled messages that finished before `before` (unix ms); returns how many. */
    prune(before: number): number {
        return deleteInSlices((limit) => this.sql.prune!.run(this.botId, before, limit).changes);
    }
}

function fromRow(row: Row): QueuedMessage {
    return {
        id: row.id,
        chat: row.chat_key,
        method: row.method,
        payload: JSON.parse(row.payload) as Record<string, unknown>,
        priority: row.priority,
        notBefore: row.not_before,
        attempts: row.attempts,
        campaignId: row.campaign_id,
        recipient: row.recipient,
    };
}

function toStatus(row: Row): MessageStatus {
    return {
        id: row.id,
        state: row.state,
        method: row.method,
        chat: row.chat_key,
        attempts: row.attempts,
        ...(row.result === null ? {} : { result: JSON.parse(row.result) as unknown }),
        ...(row.error_class === null ? {} : { error: failureOf(row, row.error_class) }),
        ...(row.state === "cancelled" ? { error: { errorClass: "cancelled", description: "cancelled before it was sent" } } : {}),
        ...(row.campaign_id === null ? {} : { campaignId: row.campaign_id }),
    };
}

function failureOf(row: Row, errorClass: string): SendFailure {
    return {
        errorClass,
        description: row.error ?? "",
        ...(row.error_code === null ? {} : { errorCode: row.error_code }),
        ...(row.error_parameters === null ? {} : { parameters: JSON.parse(row.error_parameters) as Record<string, unknown> }),
    };
}
