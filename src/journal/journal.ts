import type { Statement } from "better-sqlite3";
import { SluiceError } from "../shared/errors.js";
import { type ObservedExit, witnessExit } from "../shared/exit-witness.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { milliseconds, wholeNumber } from "../shared/options.js";
import { chatIdOfUpdate } from "../shared/update-chat.js";
import { OwnerLock } from "../store/owner-lock.js";
import { preparedStatement, type Store } from "../store/store.js";
import { Attempts, type TrialKind, type Verdict } from "./attempts.js";
import { decodeBatch, encodeBatch } from "./batch-encoding.js";
import { Quarantine, type QuarantinedUpdate } from "./quarantine.js";

export type { QuarantinedUpdate };

/** How the journal behaves. */
export interface JournalOptions {
    /**
     * An update whose handler ended the process this many times (an
     * observed `process.exit`, uncaught exception or unhandled rejection),
     * or that was running alone this many times when the process died
     * without a trace (SIGKILL, out of memory), is moved to the quarantine
     * instead of being started again. Deaths while other updates ran do not
     * count: see docs/ARCHITECTURE.md, "Blame".
     * @default 3
     */
    maxAttempts?: number;
    /**
     * Done marks are collected for this long and written in one transaction,
     * so the journal does not cost one write per update. A kill loses at most
     * this window's marks: those updates are handled again after a restart.
     * @default 5
     */
    groupCommitMs?: number;
    /**
     * Sync every appended batch to disk before the next `getUpdates`, so the
     * journal also survives power loss and operating-system crashes. Without
     * it the batch is written to the file (SQLite WAL, `synchronous=NORMAL`)
     * and survives any crash or kill of the process, at a fraction of the cost.
     * @default false
     */
    syncToDisk?: boolean;
    /** Called after done marks were written, with their update ids (observability). */
    onFlush?: (updateIds: readonly number[]) => void;
    /** Logger; sluice's quiet default otherwise. */
    logger?: Logger;
}

/**
 * What the previous lives left unfinished, in `update_id` order, to be
 * handled before polling resumes. `suspects` (update id to the number of
 * deaths it was running at) are to be tried apart from the rest: see
 * trials.ts.
 */
export interface Recovery<Y> {
    updates: Y[];
    suspects: ReadonlyMap<number, number>;
}

/**
 * What a running bot's journal shows its user (`handle.journal`): where
 * polling stands, what is unfinished, and the quarantine. Appending and done
 * marks belong to `run`.
 */
export interface JournalHandle<Y> {
    /** The offset polling resumes from: one past the newest update ever journaled (0 for none). */
    readonly offset: number;
    /** Number of journaled updates whose handling has not been recorded as ended. */
    unfinishedCount(): number;
    /** The quarantined updates, oldest first, each with how it was judged. */
    quarantined(): QuarantinedUpdate<Y>[];
    /**
     * Moves a quarantined update back with a clean record and hands it to the
     * bot now; `false` if it is not quarantined.
     */
    retryQuarantined(updateId: number): boolean;
    /** Deletes a quarantined update for good; `false` if it is not quarantined. */
    dropQuarantined(updateId: number): boolean;
}

const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_GROUP_COMMIT_MS = 5;
/** Done marks are written at the latest when this many are waiting. */
const GROUP_COMMIT_SIZE = 512;
/** How long to wait before writing done marks again after the store refused them. */
const FLUSH_RETRY_MS = 1_000;

/** A journaled batch that still has unfinished updates, mirrored in memory. */
interface OpenBatch {
    /** Row id in `journal_batches`. */
    readonly row: number;
    /** The offset this batch confirms (none for a retried quarantined update). */
    readonly nextOffset: number | undefined;
    /** Update ids of the batch, in order; bit i of `done` is update `ids[i]`. */
    readonly ids: readonly number[];
    readonly done: Uint8Array;
    remaining: number;
}

/**
 * The durable inbox of one bot in a store. Every batch from `getUpdates` is
 * written as one row, with the next offset, before the next `getUpdates`
 * tells Telegram the batch was received. Done marks are bits in that row,
 * group-committed; a batch whose updates have all ended is deleted, so the
 * journal holds only what is unfinished. What is left after a crash is
 * replayed on the next start, in `update_id` order, and an update that keeps
 * killing the process is quarantined.
 */
export class Journal<Y extends { update_id: number }> {
    private readonly log: Logger;
    private readonly maxAttempts: number;
    private readonly groupCommitMs: number;
    private readonly lock: OwnerLock | undefined;
    private readonly sql: ReturnType<typeof prepare>;
    private readonly batchOf = new Map<number, OpenBatch>();
    private readonly attempts: Attempts;
    private readonly quarantine: Quarantine<Y>;
    private recovered = false;
    private unwitness: () => void = () => {};
    private dirty = new Set<OpenBatch>();
    private doneMarks: number[] = [];
    private flushTimer: NodeJS.Timeout | undefined;
    /** The last group commit failed; the next one is a retry on a timer. */
    private flushFailing = false;
    private closed = false;
    private stopWatching = () => {};

    private constructor(
        private readonly store: Store,
        /** The bot this journal belongs to (the number before the colon of its token). */
        readonly botId: number,
        private readonly options: JournalOptions,
        owner: boolean,
    ) {
        this.maxAttempts = wholeNumber("journal.maxAttempts", options.maxAttempts, DEFAULT_MAX_ATTEMPTS);
        this.groupCommitMs = milliseconds("journal.groupCommitMs", options.groupCommitMs, DEFAULT_GROUP_COMMIT_MS);
        this.log = componentLogger("journal", options.logger);
        this.sql = prepare(store);
        this.attempts = new Attempts(store, botId, this.maxAttempts, this.log);
        this.quarantine = new Quarantine(store, botId);
        this.lock = owner ? OwnerLock.acquire(store, botId, "journal") : undefined;
    }

    /**
     * Opens the journal of `botId`, taking the store's lock for that bot.
     * Fails with `StoreError("STORE_LOCKED")` when another live process holds
     * it. Call `recover()` next, before anything is appended.
     */
    static open<Y extends { update_id: number }>(store: Store, botId: number, options: JournalOptions = {}): Journal<Y> {
        return new Journal<Y>(store, botId, options, true);
    }

    /**
     * The handle of a bot's journal for a process that does not run the bot
     * (the `sluice` command on a store a bot may be running on): it reads,
     * drops quarantined updates, and asks for retries, which the bot's own
     * journal does within a second of the request (or at its next start).
     */
    static guest<Y extends { update_id: number }>(store: Store, botId: number): JournalHandle<Y> {
        const journal = new Journal<Y>(store, botId, {}, false);
        return {
            get offset() {
                return journal.offset;
            },
            unfinishedCount: () => journal.unfinishedCount(),
            quarantined: () => journal.quarantined(),
            retryQuarantined: (updateId) => journal.quarantine.requestRetry(updateId, Date.now()),
            dropQuarantined: (updateId) => journal.dropQuarantined(updateId),
        };
    }

    /** The offset to resume polling from: one past the newest update ever journaled (0 for none). */
    get offset(): number {
        return (this.sql.offset.get({ bot: this.botId }) as number | null) ?? 0;
    }

    /** Number of updates on disk whose handling has not been recorded as ended. */
    unfinishedCount(): number {
        let count = 0;
        for (const row of this.batchRows()) count += row.updates.length - countBits(row.done, row.updates.length);
        return count;
    }

    /**
     * Begins this life of the journal: accounts for how the previous one
     * ended (see attempts.ts), moves the updates found guilty to the
     * quarantine (logged once each), and returns the unfinished rest, to be
     * handled before polling resumes. Call once, right after `open`.
     */
    recover(): Recovery<Y> {
        if (this.recovered)
            throw new SluiceError("JOURNAL_RECOVERED", "This journal was recovered already; recover() runs once per open().");
        this.recovered = true;
        const updates: Y[] = [];
        const now = Date.now();
        const { suspects } = this.store.transaction(() => {
            const unfinished: Y[] = [];
            for (const row of this.batchRows()) {
                const batch = this.track(row.id, row.nextOffset, row.updates, row.done);
                row.updates.forEach((update, index) => void (isDone(batch.done, index) || unfinished.push(update)));
            }
            const accounting = this.attempts.account(unfinished.map((update) => update.update_id));
            for (const update of unfinished) {
                const verdict = accounting.convicted.get(update.update_id);
                if (verdict === undefined) {
                    updates.push(update);
                    continue;
                }
                this.quarantine.add(update, verdict, now);
                const { judgement, attempts, lastExit } = verdict;
                const chatId = chatIdOfUpdate(update);
                this.setDoneBit(update.update_id);
                this.attempts.forget([update.update_id]);
                this.log.error(
                    { updateId: update.update_id, chatId, attempts, judgement, lastExit },
                    judgement === "observed-exit"
                        ? "update quarantined: its handler ended the process this many times; inspect it with journal.quarantined(), then retry or drop it"
                        : "update quarantined: the process died without a trace this many times while it ran alone; " +
                              "inspect it with journal.quarantined(), then retry or drop it",
                );
            }
            this.writeDirty();
            return accounting;
        });
        this.attempts.beginLife();
        this.unwitness = witnessExit((exit) => this.recordExit(exit));
        // Batches are in update_id order already, except a retried quarantined update: sort to be sure.
        updates.sort((a, b) => a.update_id - b.update_id);
        return { updates, suspects };
    }

    /**
     * Records a fetched batch and the offset that confirms it, in one
     * transaction (one row). Call before the next `getUpdates`.
     */
    append(updates: readonly Y[], nextOffset: number): void {
        this.assertRecovered();
        this.store.transaction(
            () => {
                if (updates.length > 0) this.insertBatch(updates, nextOffset);
                else this.sql.setOffset.run(this.botId, nextOffset);
            },
            { durable: this.options.syncToDisk === true },
        );
    }

    /**
     * Records that an update is starting (outside a trial), in the start
     * log. Resolves once that is written; run the handler only then.
     */
    markStarted(updateId: number): Promise<void> | undefined {
        this.assertRecovered();
        return this.attempts.started(updateId);
    }

    /**
     * Starts a trial of `updateIds` (see trials.ts): writes the done marks
     * waiting so far, then records in the store that these updates, and
     * (`alone`) nothing else, are running.
     */
    startTrial(updateIds: readonly number[], kind: TrialKind): void {
        this.flush();
        try {
            this.attempts.trialStarted(updateIds, kind);
        } catch (error) {
            // Unsure is never one start too few: they go to the start log like any other start.
            this.log.warn({ err: error }, "could not record a trial in the store; its updates count as started among the others");
            for (const updateId of updateIds) void this.attempts.started(updateId);
        }
    }

    /** The trial in progress goes on among other handlers (see trials.ts). */
    crowdTrial(): void {
        try {
            this.attempts.trialCrowded();
        } catch (error) {
            this.log.warn({ err: error }, "could not record that a trial runs among others; a death now could count as a strike");
        }
    }

    /** Ends the trial in progress: its members' done marks are written with it. */
    endTrial(): void {
        this.flush();
        try {
            this.attempts.trialEnded();
        } catch (error) {
            this.log.warn({ err: error }, "could not record the end of a trial; a death now would count against its members");
        }
    }

    /** Records that an update's handling ended; written with the next group commit. */
    markDone(updateId: number): void {
        if (this.closed || !this.setDoneBit(updateId)) return;
        this.doneMarks.push(updateId);
        if (this.flushFailing) return; // the retry timer is set
        if (this.doneMarks.length >= GROUP_COMMIT_SIZE || this.groupCommitMs === 0) this.flush();
        else if (this.flushTimer === undefined) this.scheduleFlush(this.groupCommitMs);
    }

    private scheduleFlush(delayMs: number): void {
        this.flushTimer = setTimeout(() => this.flush(), delayMs);
        this.flushTimer.unref();
    }

    /**
     * Writes the waiting done marks now. If the store cannot be written, the
     * marks are kept and tried again a second later (logged once, not thrown:
     * until they are written, those updates count as unfinished and would run
     * again after a restart, which is the journal's promise anyway).
     */
    flush(): void {
        clearTimeout(this.flushTimer);
        this.flushTimer = undefined;
        if (this.doneMarks.length === 0 || !this.store.isOpen) return;
        const marks = this.doneMarks;
        this.doneMarks = [];
        try {
            this.store.transaction(() => {
                this.writeDirty();
                this.attempts.forget(marks);
            });
        } catch (error) {
            this.doneMarks = marks.concat(this.doneMarks);
            if (!this.flushFailing) {
                this.log.error({ err: error, waiting: this.doneMarks.length }, "done marks could not be written; retrying every second");
            }
            this.flushFailing = true;
            if (!this.closed) this.scheduleFlush(FLUSH_RETRY_MS);
            return;
        }
        this.attempts.compactIfDue();
        if (this.flushFailing) this.log.info({ written: marks.length }, "done marks written again");
        this.flushFailing = false;
        this.options.onFlush?.(marks);
    }

    /** The quarantined updates, oldest first. */
    quarantined(): QuarantinedUpdate<Y>[] {
        return this.quarantine.list();
    }

    /**
     * Moves a quarantined update back into the journal with a fresh attempt
     * count and returns it, for handing to the sink; `undefined` if no such
     * update is quarantined.
     */
    retryQuarantined(updateId: number): Y | undefined {
        return this.store.transaction(() => {
            const update = this.quarantine.take(updateId);
            if (update !== undefined) this.insertBatch([update], undefined);
            return update;
        });
    }

    /**
     * Moves an update straight to the quarantine with a verdict reached
     * elsewhere (a `PoisonUpdateError`: `distribute` gave it up after it
     * ended worker threads), and counts it as ended. Logged like the
     * journal's own verdicts.
     */
    setAside(update: Y, verdict: Verdict): void {
        this.assertRecovered();
        const updateId = update.update_id;
        this.store.transaction(() => {
            this.quarantine.add(update, verdict, Date.now());
            if (!this.setDoneBit(updateId)) return;
            this.writeDirty();
            this.attempts.forget([updateId]);
        });
        this.log.error(
            {
                updateId,
                chatId: chatIdOfUpdate(update),
                attempts: verdict.attempts,
                judgement: verdict.judgement,
                lastExit: verdict.lastExit,
            },
            "update quarantined: it was given up as poison; inspect it with journal.quarantined(), then retry or drop it",
        );
    }

    /** Deletes a quarantined update for good; `false` if no such update is quarantined. */
    dropQuarantined(updateId: number): boolean {
        return this.quarantine.drop(updateId);
    }

    /**
     * Calls `retry` with each quarantined update another process (the
     * `sluice` command) asked to retry: those asked for already, and each
     * later one within a second of the request, until the journal closes.
     */
    onRetryRequested(retry: (updateId: number) => void): void {
        const look = () => {
            try {
                for (const updateId of this.quarantine.retryRequested()) retry(updateId);
            } catch (error) {
                // From the store's watch, a throw would end the process; the next change looks again.
                this.log.error({ err: error }, "could not retry a quarantined update asked for by another process");
            }
        };
        look();
        this.stopWatching = this.store.onExternalChange(look);
    }

    /**
     * Writes waiting done marks, ends this life as explained (updates still
     * running are handled again on the next start, and blamed for nothing)
     * and gives up the store's lock for this bot (idempotent). Marks the
     * store refuses are logged and dropped: those updates run again after a
     * restart.
     */
    close(): void {
        if (this.closed) return;
        this.closed = true;
        this.stopWatching();
        this.unwitness();
        this.flush();
        clearTimeout(this.flushTimer);
        if (this.recovered && this.store.isOpen) {
            try {
                this.attempts.close();
            } catch (error) {
                this.log.warn({ err: error }, "could not record a clean stop; the next start treats this one as a death");
            }
        }
        this.lock?.release();
    }

    /**
     * The process is exiting in a way Node reports (see exit-witness.ts):
     * writes the done marks collected so far and, if the exit came from the
     * handler of an update this journal holds, charges that update with it.
     * Synchronous, as everything in an `exit` listener must be.
     */
    private recordExit(exit: ObservedExit): void {
        if (this.closed || !this.store.isOpen) return;
        clearTimeout(this.flushTimer);
        const culprit = exit.culprit?.botId === this.botId && this.batchOf.has(exit.culprit.updateId) ? exit.culprit.updateId : undefined;
        const marks = this.doneMarks;
        this.doneMarks = [];
        // The process is ending: never wait for another process's write lock (busy_timeout) here.
        this.store.failFastOnLock();
        const attempts = this.store.transaction(() => {
            this.writeDirty();
            this.attempts.forget(marks);
            return culprit === undefined ? undefined : this.attempts.chargeExit(culprit, exit.description);
        });
        if (culprit === undefined) return;
        this.log.error(
            { updateId: culprit, exit: exit.description, attempts, maxAttempts: this.maxAttempts },
            "the handler of this update ended the process; it is handled again on the next start and quarantined after maxAttempts such exits",
        );
    }

    private assertRecovered(): void {
        if (!this.recovered)
            throw new SluiceError("JOURNAL_NOT_RECOVERED", "Call journal.recover() once after Journal.open(), before using the journal.");
    }

    private insertBatch(updates: readonly Y[], nextOffset: number | undefined): void {
        const { lastInsertRowid } = this.sql.insertBatch.run(this.botId, nextOffset ?? null, encodeBatch(updates));
        this.track(Number(lastInsertRowid), nextOffset, updates, new Uint8Array(Math.ceil(updates.length / 8)));
    }

    /** Mirrors a batch row in memory so done marks can find it. */
    private track(row: number, nextOffset: number | undefined, updates: readonly Y[], done: Uint8Array): OpenBatch {
        const batch: OpenBatch = { row, nextOffset, ids: updates.map((u) => u.update_id), done, remaining: 0 };
        batch.ids.forEach((id, index) => {
            if (isDone(done, index)) return;
            batch.remaining++;
            this.batchOf.set(id, batch);
        });
        if (batch.remaining === 0) this.dirty.add(batch);
        return batch;
    }

    /** Sets an update's done bit in memory; `false` if the journal does not hold it unfinished. */
    private setDoneBit(updateId: number): boolean {
        const batch = this.batchOf.get(updateId);
        if (batch === undefined) return false;
        this.batchOf.delete(updateId);
        this.attempts.ended(updateId);
        const index = batch.ids.indexOf(updateId);
        batch.done[index >> 3]! |= 1 << (index & 7);
        batch.remaining--;
        this.dirty.add(batch);
        return true;
    }

    /**
     * Writes the done bits of changed batches and deletes those that are
     * finished, keeping the offset they confirmed. Inside a transaction.
     */
    private writeDirty(): void {
        let deletedOffset = -1;
        for (const batch of this.dirty) {
            if (batch.remaining > 0) {
                this.sql.setDone.run(batch.row, batch.done);
                continue;
            }
            this.sql.deleteBatch.run(batch.row);
            this.sql.deleteDone.run(batch.row);
            deletedOffset = Math.max(deletedOffset, batch.nextOffset ?? -1);
        }
        if (deletedOffset >= 0) this.sql.setOffset.run(this.botId, deletedOffset);
        this.dirty = new Set();
    }

    private batchRows(): { id: number; nextOffset: number | undefined; updates: Y[]; done: Uint8Array }[] {
        const rows = this.sql.listBatches.all(this.botId) as {
            id: number;
            next_offset: number | null;
            updates: Buffer | string;
            done: Buffer | null;
        }[];
        return rows.map((row) => {
            const updates = decodeBatch<Y>(row.updates);
            const done = new Uint8Array(Math.ceil(updates.length / 8));
            if (row.done !== null) done.set(row.done.subarray(0, done.length));
            return { id: row.id, nextOffset: row.next_offset ?? undefined, updates, done };
        });
    }
}

function isDone(done: Uint8Array, index: number): boolean {
    return ((done[index >> 3]! >> (index & 7)) & 1) === 1;
}

function countBits(done: Uint8Array, length: number): number {
    let count = 0;
    for (let index = 0; index < length; index++) if (isDone(done, index)) count++;
    return count;
}

/** The journal's statements, prepared once per store (see `preparedStatement`). */
function prepare(store: Store) {
    const sql = (text: string): Statement => preparedStatement(store, text);
    return {
        offset: sql(
            `SELECT max(next_offset) FROM (
                 SELECT next_offset FROM journal_offsets WHERE bot_id = @bot
                 UNION ALL SELECT next_offset FROM journal_batches WHERE bot_id = @bot)`,
        ).pluck(),
        setOffset: sql(
            `INSERT INTO journal_offsets (bot_id, next_offset) VALUES (?, ?)
             ON CONFLICT (bot_id) DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)`,
        ),
        insertBatch: sql("INSERT INTO journal_batches (bot_id, next_offset, updates) VALUES (?, ?, ?)"),
        listBatches: sql(
            `SELECT b.id, b.next_offset, b.updates, d.done FROM journal_batches b
             LEFT JOIN journal_done d ON d.batch_id = b.id WHERE b.bot_id = ? ORDER BY b.id`,
        ),
        setDone: sql("INSERT OR REPLACE INTO journal_done (batch_id, done) VALUES (?, ?)"),
        deleteBatch: sql("DELETE FROM journal_batches WHERE id = ?"),
        deleteDone: sql("DELETE FROM journal_done WHERE batch_id = ?"),
    };
}
