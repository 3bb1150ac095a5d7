import type { Statement } from "better-sqlite3";
import { deleteInSlices } from "../store/slices.js";
import { preparedStatement, type Store } from "../store/store.js";

/** Where a task is in its life (`running` is only ever in memory: a stored running task is `queued`). */
export type TaskState = "queued" | "running" | "done" | "dead";

/** A task as stored. */
export interface TaskRow {
    id: number;
    name: string;
    payload: string;
    state: "queued" | "done" | "dead";
    attempts: number;
    max_attempts: number | null;
    timeout_ms: number | null;
    ready_at: number;
    result: string | null;
    error: string | null;
    created_at: number;
    finished_at: number | null;
}

/** A task to store. */
export interface NewTask {
    name: string;
    payload: unknown;
    readyAt: number;
    idempotencyKey: string | undefined;
    maxAttempts: number | undefined;
    timeoutMs: number | undefined;
}

/** What adding answers: the task's id, and whether its idempotency key had been used before. */
export interface AddedTask {
    id: number;
    duplicate: boolean;
}

/** A due task as the runner's window holds it. */
export interface DueTask {
    readonly id: number;
}

/**
 * The `tasks` table and its statements. A task is queued until its handler
 * resolves: while it runs it stays queued on disk, so a kill runs it again
 * after the restart, and nothing added is ever lost.
 */
export class TaskStore {
    private readonly sql: Record<string, Statement>;

    constructor(
        private readonly store: Store,
        private readonly botId: number,
        /** Told of every task that becomes due at `readyAt`, inside the transaction that writes it. */
        private readonly written: (name: string, readyAt: number) => void,
    ) {
        const sql = (text: string) => preparedStatement(store, text);
        this.sql = {
            insert: sql(
                `INSERT INTO tasks (bot_id, name, payload, state, max_attempts, timeout_ms, ready_at, idempotency_key, created_at)
                 VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
            ),
            byKey: sql("SELECT id FROM tasks WHERE bot_id = ? AND idempotency_key = ?"),
            get: sql("SELECT * FROM tasks WHERE bot_id = ? AND id = ?"),
            due: sql("SELECT id FROM tasks WHERE bot_id = ? AND name = ? AND state = 'queued' AND ready_at <= ? ORDER BY ready_at LIMIT ?"),
            nextDue: sql("SELECT MIN(ready_at) AS at FROM tasks WHERE bot_id = ? AND name = ? AND state = 'queued' AND ready_at > ?"),
            queuedNames: sql("SELECT DISTINCT name FROM tasks WHERE bot_id = ? AND state = 'queued'"),
            done: sql("UPDATE tasks SET state = 'done', result = ?, attempts = ?, finished_at = ? WHERE id = ? AND state = 'queued'"),
            retry: sql("UPDATE tasks SET attempts = ?, error = ?, ready_at = ? WHERE id = ? AND state = 'queued'"),
            dead: sql("UPDATE tasks SET state = 'dead', attempts = ?, error = ?, finished_at = ? WHERE id = ? AND state = 'queued'"),
            // LIMIT -1 is SQLite's "no limit".
            deadTasks: sql("SELECT * FROM tasks WHERE bot_id = ? AND state = 'dead' ORDER BY id LIMIT ?"),
            revive: sql(
                `UPDATE tasks SET state = 'queued', attempts = 0, ready_at = ?, finished_at = NULL
                 WHERE bot_id = ? AND id = ? AND state = 'dead' RETURNING name`,
            ),
            // One statement per state: each reads only its state's partial index (a bound state could use none).
            countQueued: sql("SELECT COUNT(*) AS count FROM tasks WHERE bot_id = ? AND state = 'queued'"),
            countDone: sql("SELECT COUNT(*) AS count FROM tasks WHERE bot_id = ? AND state = 'done'"),
            countDead: sql("SELECT COUNT(*) AS count FROM tasks WHERE bot_id = ? AND state = 'dead'"),
            purgeDead: sql("DELETE FROM tasks WHERE bot_id = ? AND state = 'dead'"),
            prune: sql(
                `DELETE FROM tasks WHERE id IN (
                     SELECT id FROM tasks WHERE bot_id = ? AND state = 'done' AND finished_at < ? LIMIT ?)`,
            ),
        };
    }

    /** How many tasks are in each state (a running task is queued, as stored). */
    counts(): Record<Exclude<TaskState, "running">, number> {
        const count = (name: string) => (this.sql[name]!.get(this.botId) as { count: number }).count;
        return { queued: count("countQueued"), done: count("countDone"), dead: count("countDead") };
    }

    /** Stores tasks in one transaction; a repeated idempotency key answers the earlier task's id. */
    add(tasks: readonly NewTask[], now: number): AddedTask[] {
        return this.store.transaction(() => tasks.map((task) => this.insert(task, now)));
    }

    private insert(task: NewTask, now: number): AddedTask {
        if (task.idempotencyKey !== undefined) {
            const earlier = this.sql.byKey!.get(this.botId, task.idempotencyKey) as { id: number } | undefined;
            if (earlier !== undefined) return { id: earlier.id, duplicate: true };
        }
        const { lastInsertRowid } = this.sql.insert!.run(
            this.botId,
            task.name,
            JSON.stringify(task.payload ?? null),
            task.maxAttempts ?? null,
            task.timeoutMs ?? null,
            task.readyAt,
            task.idempotencyKey ?? null,
            now,
        );
        this.written(task.name, task.readyAt);
        return { id: Number(lastInsertRowid), duplicate: false };
    }

    /** Up to `limit` tasks named `name` due at `now`, the longest due first. */
    due(name: string, now: number, limit: number): DueTask[] {
        return this.sql.due!.all(this.botId, name, now, limit) as DueTask[];
    }

    /** When the next task named `name` is due after `after` (`Infinity`: none). */
    nextDueAt(name: string, after: number): number {
        return (this.sql.nextDue!.get(this.botId, name, after) as { at: number | null }).at ?? Infinity;
    }

    /** Names of the queued tasks. */
    queuedNames(): string[] {
        return (this.sql.queuedNames!.all(this.botId) as { name: string }[]).map((row) => row.name);
    }

    /** A task of this bot, or `undefined`. */
    get(id: number): TaskRow | undefined {
        return this.sql.get!.get(this.botId, id) as TaskRow | undefined;
    }

    /** Records a task as done with its handler's result, as JSON. */
    markDone(id: number, result: string, attempts: number, now: number): void {
        this.sql.done!.run(result, attempts, now, id);
    }

    /** Records a failed run; the task is due again at `readyAt`. */
    markRetry(task: TaskRow, attempts: number, error: string, readyAt: number): void {
        this.store.transaction(() => {
            this.sql.retry!.run(attempts, error, readyAt, task.id);
            this.written(task.name, readyAt);
        });
    }

    /** Gives a task up with its last error. */
    markDead(id: number, attempts: number, error: string, now: number): void {
        this.sql.dead!.run(attempts, error, now, id);
    }

    /** How many tasks are dead (counted in their own index). */
    deadCount(): number {
        return (this.sql.countDead!.get(this.botId) as { count: number }).count;
    }

    /** Dead tasks, oldest first; the first `limit` of them when given. */
    deadTasks(limit = -1): TaskRow[] {
        return this.sql.deadTasks!.all(this.botId, limit) as TaskRow[];
    }

    /** Queues a dead task again, due now, with its attempts reset; `false` if it is not dead. */
    revive(id: number, now: number): boolean {
        return this.store.transaction(() => {
            const row = this.sql.revive!.get(now, this.botId, id) as { name: string } | undefined;
            if (row !== undefined) this.written(row.name, now);
            return row !== undefined;
        });
    }

    /** Deletes every dead task; returns how many. */
    purgeDead(): number {
        return this.sql.purgeDead!.run(this.botId).changes;
    }

    /** Deletes done tasks that finished before `before`; returns how many. */
    prune(before: number): number {
        return deleteInSlices((limit) => this.sql.prune!.run(this.botId, before, limit).changes);
    }
}
