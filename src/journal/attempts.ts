/**
 * Attempts: deciding, from evidence only, that an update and not the world
 * keeps killing the process.
 *
 * Lives. Each run of a bot's journal is a numbered life (`journal_lives`). A
 * life ends explained (its journal was closed, or an observed exit was
 * charged to an update) or unexplained (SIGKILL, the OOM killer, a native
 * crash, power loss, or an exit from code outside every handler): the next
 * life finds it unsettled and accounts for it once.
 *
 * Evidence, per unfinished update (`journal_attempts`):
 * - `exits`: observed exits its own handler caused. `process.exit`, an
 *   uncaught exception and an unhandled rejection run the `exit` event
 *   synchronously, in the async context of the code that ended the process
 *   (see shared/exit-witness.ts), so the culprit is known and written at once.
 *   Nothing else running is charged.
 * - `deaths`: unexplained deaths at which it was running. "Running" is
 *   started in the dead life (start log, or trial record) and not done. Being
 *   in that crowd is not evidence: an outside killer hits whatever runs.
 * - `alone`: unexplained deaths during a trial in which it ran alone.
 *
 * Suspects and trials. An update running at `SUSPECT_AFTER_DEATHS` deaths is
 * a suspect: the next life tries it (see trials.ts) in a small group or
 * alone, with nothing else running, at a random moment of the life. A group
 * that dies makes its members the next life's most suspected, in smaller
 * groups; a group that finishes clears them. Only a death while an update
 * ran alone is a strike (`alone`), and the random moment keeps a killer
 * with a rhythm of its own from landing on the same lone update again and
 * again.
 *
 * Verdict: `exits + alone >= maxAttempts` sends an update to the quarantine,
 * judged "observed-exit" if any of that was an observed exit, else
 * "repeated-hard-deaths".
 *
 * Doubt counts against nobody: if a life's start log could not be written,
 * every unfinished update counts as running at its death (more deaths, so
 * more trials; trial records live in SQLite), but never as a strike.
 */
import { rmSync } from "node:fs";
import type { Statement } from "better-sqlite3";
import type { Judgement } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { preparedStatement, type Store } from "../store/store.js";
import { type PreviousStarts, StartLog } from "./start-log.js";

/** How a quarantined update was judged (defined with `PoisonUpdateError`, which carries one too). */
export type { Judgement };

/** Why an update is sent to the quarantine. */
export interface Verdict {
    judgement: Judgement;
    /** Observed exits plus deaths while it ran alone. */
    attempts: number;
    /** How the last observed exit it caused happened, if any. */
    lastExit: string | undefined;
}

/** What the previous life's end means for the unfinished updates. */
export interface Accounting {
    /** Updates to try before running them normally, with how many deaths each was running at. */
    suspects: Map<number, number>;
    /** Updates found guilty, for the quarantine. */
    convicted: Map<number, Verdict>;
}

/** How a trial runs: nothing else running, or others still running after the wait for them ran out. */
export type TrialKind = "alone" | "crowded";

/** Deaths an update must have been running at before it is tried. One death in a crowd is noise. */
export const SUSPECT_AFTER_DEATHS = 2;

const TRIAL_CODES = { alone: 1, crowded: 2 } as const;

interface LifeRow {
    life: number;
    settled: number;
    logged: number;
    trial: number;
}

interface AttemptRow {
    update_id: number;
    deaths: number;
    alone: number;
    exits: number;
    last_exit: string | null;
    tried_life: number | null;
}

/** The attempt counts of one bot's journal in a store, and the start log of its current life. */
export class Attempts {
    private life = 0;
    private startLog: StartLog | undefined;
    /** Started in this life and not finished: what the start log keeps when compacted. */
    private readonly running = new Set<number>();
    /** Updates with a row in `journal_attempts`, deleted with their done mark. */
    private readonly withRow = new Set<number>();
    private readonly sql: ReturnType<typeof prepare>;
    private warnedUnlogged = false;

    constructor(
        private readonly store: Store,
        private readonly botId: number,
        private readonly maxAttempts: number,
        private readonly log: Logger,
    ) {
        this.sql = prepare(store);
    }

    /**
     * Accounts for how the previous life ended and judges the unfinished
     * updates. Call inside the transaction that recovers them, then call
     * `beginLife` once it is committed.
     */
    account(unfinished: readonly number[]): Accounting {
        const row = this.sql.getLife.get(this.botId) as LifeRow | undefined;
        const rows = new Map((this.sql.listAttempts.all(this.botId) as AttemptRow[]).map((attempt) => [attempt.update_id, attempt]));
        const previousLife = row?.life ?? 0;
        const unexplained = row === undefined ? unfinished.length > 0 : row.settled < row.life;
        if (unexplained) {
            const running = this.runningAtDeath(row, unfinished, rows);
            const alone = row?.trial === TRIAL_CODES.alone && running.length === 1;
            for (const updateId of running) {
                const attempt = rows.get(updateId) ?? emptyRow(updateId);
                attempt.deaths++;
                if (alone) attempt.alone++;
                rows.set(updateId, attempt);
                this.sql.recordDeath.run({ bot: this.botId, update: updateId, alone: alone ? 1 : 0 });
            }
        }
        const accounting: Accounting = { suspects: new Map(), convicted: new Map() };
        for (const updateId of unfinished) {
            const attempt = rows.get(updateId);
            if (attempt === undefined) continue;
            this.withRow.add(updateId);
            const attempts = attempt.exits + attempt.alone;
            if (attempts >= this.maxAttempts) {
                const judgement: Judgement = attempt.exits > 0 ? "observed-exit" : "repeated-hard-deaths";
                accounting.convicted.set(updateId, { judgement, attempts, lastExit: attempt.last_exit ?? undefined });
            } else if (attempt.deaths >= SUSPECT_AFTER_DEATHS) {
                accounting.suspects.set(updateId, attempt.deaths);
            }
        }
        this.life = previousLife + 1;
        this.sql.setLife.run(this.botId, this.life, previousLife);
        return accounting;
    }

    /**
     * The previous life's running updates: started in it (start log, trial
     * records) and still unfinished. Without a trustworthy log, every
     * unfinished update (see the file comment).
     */
    private runningAtDeath(row: LifeRow | undefined, unfinished: readonly number[], rows: ReadonlyMap<number, AttemptRow>): number[] {
        const life = row?.life ?? 0;
        const tried = unfinished.filter((updateId) => rows.get(updateId)?.tried_life === life);
        // A trial runs with nothing else; its record in the store is exact whatever the log says.
        if (row?.trial === TRIAL_CODES.alone) return tried;
        const starts = this.previousStarts();
        const trusted = starts !== undefined && (row === undefined || row.logged === 1);
        if (!trusted) return [...unfinished];
        // A log of an older life: the previous one died before it could start anything (before its log began).
        if (starts.life !== undefined && starts.life !== life) return tried;
        return unfinished.filter((updateId) => starts.ids.has(updateId) || rows.get(updateId)?.tried_life === life);
    }

    private previousStarts(): PreviousStarts | undefined {
        if (this.store.inMemory) return undefined;
        try {
            return StartLog.read(this.startLogPath);
        } catch (error) {
            this.log.warn(
                { err: error, path: this.startLogPath },
                "cannot read the start log; every unfinished update counts as running at the last death",
            );
            return undefined;
        }
    }

    /** Begins this life's start log (after `account`'s transaction is committed). */
    beginLife(): void {
        if (this.store.inMemory) return; // a store in memory does not outlive the process: there is no next life to inform
        try {
            this.startLog = StartLog.begin(this.startLogPath, this.life, (error) => this.unlogged(error));
        } catch (error) {
            this.unlogged(error);
        }
    }

    /**
     * Records that an update is starting outside a trial; resolves once it
     * is written to the start log. Run the handler only then.
     */
    started(updateId: number): Promise<void> | undefined {
        this.running.add(updateId);
        return this.startLog?.started(updateId);
    }

    /**
     * Records, in the store and at once, that `updateIds` start a trial now.
     * If the process dies before `trialEnded`, the next life knows that only
     * they were running (`alone`) or that others were too (`crowded`).
     */
    trialStarted(updateIds: readonly number[], kind: TrialKind): void {
        this.store.transaction(() => {
            for (const updateId of updateIds) {
                this.sql.recordTrial.run({ bot: this.botId, update: updateId, life: this.life });
                this.withRow.add(updateId);
                this.running.add(updateId);
            }
            this.sql.setTrial.run(TRIAL_CODES[kind], this.botId);
        });
    }

    /** Records that the trial in progress goes on among other handlers: a death now is no strike. */
    trialCrowded(): void {
        this.sql.setTrial.run(TRIAL_CODES.crowded, this.botId);
    }

    /** Records that the trial in progress has ended (its members' done marks are written). */
    trialEnded(): void {
        this.sql.setTrial.run(0, this.botId);
    }

    /** Records that the handler of `updateId`, started in this life, has ended. */
    ended(updateId: number): void {
        this.running.delete(updateId);
    }

    /** Charges an observed exit to `updateId` and settles the life; inside the transaction of the exit. */
    chargeExit(updateId: number, description: string): number {
        this.sql.recordExit.run({ bot: this.botId, update: updateId, exit: description });
        this.withRow.add(updateId);
        this.sql.markExplained.run(this.life, this.botId);
        const { exits, alone } = this.sql.getAttempt.get(this.botId, updateId) as AttemptRow;
        return exits + alone;
    }

    /** Deletes the counts of updates whose done marks are being written; inside that transaction. */
    forget(updateIds: Iterable<number>): void {
        for (const updateId of updateIds) {
            if (this.withRow.delete(updateId)) this.sql.dropAttempt.run(this.botId, updateId);
        }
    }

    /** After a group commit: shrinks the start log to the updates still running, once it has grown. */
    compactIfDue(): void {
        if (this.startLog?.wantsCompaction) this.startLog.compact(this.running);
    }

    /** Ends the life explained: nothing running at this point is to blame for anything. */
    close(): void {
        this.startLog?.close();
        this.sql.markExplained.run(this.life, this.botId);
    }

    private get startLogPath(): string {
        return `${this.store.path}-starts-${this.botId}`;
    }

    /** The start log failed: this life is marked unlogged, so a death in it blames no one by the log (logged once). */
    private unlogged(error: unknown): void {
        this.startLog = undefined;
        try {
            // Without it, an earlier life's log would be read as this one's if the store refuses the mark below.
            rmSync(this.startLogPath, { force: true });
            this.sql.setUnlogged.run(this.botId);
        } catch {
            // The store fails too: the journal reports that on its own next write.
        }
        if (this.warnedUnlogged) return;
        this.warnedUnlogged = true;
        this.log.warn(
            { err: error, path: this.startLogPath },
            "cannot write the start log beside the store; if this process dies, every unfinished update counts as running at that death",
        );
    }
}

function emptyRow(updateId: number): AttemptRow {
    return { update_id: updateId, deaths: 0, alone: 0, exits: 0, last_exit: null, tried_life: null };
}

/** The statements of the attempt counts, prepared once per store (see `preparedStatement`). */
function prepare(store: Store) {
    const sql = (text: string): Statement => preparedStatement(store, text);
    return {
        getLife: sql("SELECT life, settled, logged, trial FROM journal_lives WHERE bot_id = ?"),
        setLife: sql(
            `INSERT INTO journal_lives (bot_id, life, settled, logged, trial) VALUES (?, ?, ?, 1, 0)
             ON CONFLICT (bot_id) DO UPDATE SET life = excluded.life, settled = excluded.settled, logged = 1, trial = 0`,
        ),
        markExplained: sql("UPDATE journal_lives SET settled = ? WHERE bot_id = ?"),
        setUnlogged: sql("UPDATE journal_lives SET logged = 0 WHERE bot_id = ?"),
        setTrial: sql("UPDATE journal_lives SET trial = ? WHERE bot_id = ?"),
        listAttempts: sql("SELECT update_id, deaths, alone, exits, last_exit, tried_life FROM journal_attempts WHERE bot_id = ?"),
        getAttempt: sql(
            "SELECT update_id, deaths, alone, exits, last_exit, tried_life FROM journal_attempts WHERE bot_id = ? AND update_id = ?",
        ),
        recordDeath: sql(
            `INSERT INTO journal_attempts (bot_id, update_id, deaths, alone) VALUES (@bot, @update, 1, @alone)
             ON CONFLICT (bot_id, update_id) DO UPDATE SET deaths = deaths + 1, alone = alone + @alone`,
        ),
        recordExit: sql(
            `INSERT INTO journal_attempts (bot_id, update_id, exits, last_exit) VALUES (@bot, @update, 1, @exit)
             ON CONFLICT (bot_id, update_id) DO UPDATE SET exits = exits + 1, last_exit = @exit`,
        ),
        recordTrial: sql(
            `INSERT INTO journal_attempts (bot_id, update_id, tried_life) VALUES (@bot, @update, @life)
             ON CONFLICT (bot_id, update_id) DO UPDATE SET tried_life = @life`,
        ),
        dropAttempt: sql("DELETE FROM journal_attempts WHERE bot_id = ? AND update_id = ?"),
    };
}
