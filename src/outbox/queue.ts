import type { Statement } from "better-sqlite3";
import type { SendFailure } from "../shared/errors.js";
import { Fifo } from "../shared/fifo.js";
import { type Store, sqliteOf } from "../store/store.js";

/** Priority of an outbound message: served 5 : 3 : 1 when all three wait. */
export type Priority = "high" | "normal" | "low";
export const PRIORITIES: readonly Priority[] = ["high", "normal", "low"];

/** A queued message as the dispatcher sees it. */
export interface QueuedMessage {
    readonly id: number;
    readonly chat: string;
    readonly method: string;
    readonly payload: Record<string, unknown>;
    readonly priority: number;
    notBefore: number;
    attempts: number;
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
}

/** Rows deleted per statement when pruning. */
const PRUNE_SLICE = 5_000;

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
}

/**
 * The outbox's table and its in-memory mirror of what is queued: one FIFO
 * per chat, in the order the calls were made. Every change of state is
 * written before it is acted on, so a restart resumes exactly the messages
 * that were not marked sent.
 */
export class OutboxQueue {
    /** Queued messages per chat, oldest first. */
    readonly chats = new Map<string, Fifo<QueuedMessage>>();
    private readonly sql: Record<string, Statement>;

    constructor(
        private readonly store: Store,
        private readonly botId: number,
    ) {
        const sql = (text: string) => sqliteOf(store).prepare(text);
        this.sql = {
            insert: sql(
                `INSERT INTO outbox_messages (bot_id, chat_key, method, payload, priority, not_before, idempotency_key, state, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
            ),
            byKey: sql("SELECT id FROM outbox_messages WHERE bot_id = ? AND idempotency_key = ?"),
            get: sql("SELECT * FROM outbox_messages WHERE bot_id = ? AND id = ?"),
            queued: sql("SELECT * FROM outbox_messages WHERE bot_id = ? AND state = 'queued' ORDER BY id"),
            sent: sql("UPDATE outbox_messages SET state = 'sent', result = ?, attempts = ?, finished_at = ? WHERE id = ?"),
            dead: sql(
                `UPDATE outbox_messages SET state = 'dead', error = ?, error_class = ?, error_code = ?, error_parameters = ?,
                     attempts = ?, finished_at = ? WHERE id = ?`,
            ),
            reschedule: sql("UPDATE outbox_messages SET not_before = ?, attempts = ? WHERE id = ?"),
            cancel: sql("UPDATE outbox_messages SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'"),
            deadLetters: sql("SELECT * FROM outbox_messages WHERE bot_id = ? AND state = 'dead' ORDER BY id"),
            requeue: sql(
                `UPDATE outbox_messages SET state = 'queued', attempts = 0, error = NULL, error_class = NULL, error_code = NULL,
                     error_parameters = NULL, not_before = ? WHERE bot_id = ? AND id = ? AND state = 'dead'`,
            ),
            purge: sql("DELETE FROM outbox_messages WHERE bot_id = ? AND state = 'dead'"),
            // In slices, so a large backlog of old rows never holds the thread (or the write lock) for long.
            prune: sql(
                `DELETE FROM outbox_messages WHERE id IN (
                     SELECT id FROM outbox_messages WHERE bot_id = ? AND state IN ('sent', 'cancelled') AND finished_at < ? LIMIT ?)`,
            ),
        };
        for (const row of this.sql.queued!.all(botId) as Row[]) this.track(fromRow(row));
    }

    /**
     * Stores new messages in one transaction. A message whose idempotency key
     * was used before is not stored again; its entry holds the earlier id.
     */
    enqueue(
        messages: readonly { message: Omit<QueuedMessage, "id" | "attempts">; idempotencyKey: string | undefined }[],
        now: number,
    ): Enqueued[] {
        return this.store.transaction(() => messages.map(({ message, idempotencyKey }) => this.insert(message, idempotencyKey, now)));
    }

    private insert(message: Omit<QueuedMessage, "id" | "attempts">, idempotencyKey: string | undefined, now: number): Enqueued {
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
        );
        const id = Number(lastInsertRowid);
        this.track({ ...message, id, attempts: 0 });
        return { id, duplicate: false };
    }

    /** Records a message as sent with Telegram's result and takes it off its chat's queue. */
    markSent(message: QueuedMessage, result: unknown, now: number): void {
        this.sql.sent!.run(JSON.stringify(result ?? null), message.attempts, now, message.id);
        this.untrack(message);
    }

    /** Moves a message to the dead letters, with why, and takes it off its chat's queue. */
    markDead(message: QueuedMessage, failure: SendFailure, now: number): void {
        const parameters = failure.parameters === undefined ? null : JSON.stringify(failure.parameters);
        this.sql.dead!.run(
            failure.description,
            failure.errorClass,
            failure.errorCode ?? null,
            parameters,
            message.attempts,
            now,
            message.id,
        );
        this.untrack(message);
    }

    /** Records a later attempt time for a message that stays at the head of its chat. */
    reschedule(message: QueuedMessage): void {
        this.sql.reschedule!.run(message.notBefore, message.attempts, message.id);
    }

    /** Cancels a queued message that is not being sent; `false` otherwise. */
    cancel(id: number, now: number, inFlight: (message: QueuedMessage) => boolean): boolean {
        const row = this.sql.get!.get(this.botId, id) as Row | undefined;
        if (row === undefined || row.state !== "queued") return false;
        const fifo = this.chats.get(row.chat_key);
        const message = fifo?.toArray().find((m) => m.id === id);
        if (message !== undefined && inFlight(message)) return false;
        this.sql.cancel!.run(now, id);
        if (message !== undefined) this.untrack(message);
        return true;
    }

    /** A message's current state, or `undefined` if there is no such message. */
    status(id: number): MessageStatus | undefined {
        const row = this.sql.get!.get(this.botId, id) as Row | undefined;
        return row === undefined ? undefined : toStatus(row);
    }

    /** Messages given up, oldest first. */
    deadLetters(): MessageStatus[] {
        return (this.sql.deadLetters!.all(this.botId) as Row[]).map(toStatus);
    }

    /** Puts a dead letter back in the queue (at the end of its chat's queue); `false` if it is not one. */
    requeue(id: number, now: number): boolean {
        if (this.sql.requeue!.run(now, this.botId, id).changes === 0) return false;
        this.track(fromRow(this.sql.get!.get(this.botId, id) as Row));
        return true;
    }

    /** Deletes all dead letters; returns how many. */
    purge(): number {
        return this.sql.purge!.run(this.botId).changes;
    }

    /** Deletes sent and cancelled messages that finished before `before` (unix ms); returns how many. */
    prune(before: number): number {
        let deleted = 0;
        for (;;) {
            const { changes } = this.sql.prune!.run(this.botId, before, PRUNE_SLICE);
            deleted += changes;
            if (changes < PRUNE_SLICE) return deleted;
        }
    }

    private track(message: QueuedMessage): void {
        let fifo = this.chats.get(message.chat);
        if (fifo === undefined) {
            fifo = new Fifo();
            this.chats.set(message.chat, fifo);
        }
        fifo.push(message);
    }

    private untrack(message: QueuedMessage): void {
        const fifo = this.chats.get(message.chat);
        if (fifo === undefined || !fifo.remove(message)) return;
        if (fifo.length === 0) this.chats.delete(message.chat);
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
