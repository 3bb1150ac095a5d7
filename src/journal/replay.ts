import type { Journal, Recovery } from "./journal.js";
import { Trials } from "./trials.js";

/**
 * A journaled run's side of every handler: hands the sink what the previous
 * lives left unfinished (in `update_id` order, before polling resumes) and
 * records, around each handler, what the journal needs to know: the start
 * (in the start log, or as a trial in the store) before the handler runs,
 * and the end after it. Suspects among the replayed updates are tried (see
 * trials.ts) before they run with the others.
 */
export class Replay<Y extends { update_id: number }> {
    private readonly updates: Y[];
    /** Present while suspects remain to be tried. */
    private trials: Trials | undefined;
    /** Updates whose handler has been called and has not returned. */
    private readonly inHandler = new Set<number>();
    /** Updates whose handling failed before it began (see `keepUnfinished`): not marked done when it ends. */
    private readonly kept = new Set<number>();

    constructor(
        private readonly journal: Journal<Y>,
        recovery: Recovery<Y>,
    ) {
        this.updates = recovery.updates;
        if (recovery.suspects.size > 0) this.trials = new Trials(recovery.suspects, journal);
    }

    /** Number of updates still to hand over. */
    get size(): number {
        return this.updates.length;
    }

    /** The next replayed batch (at most `batchSize`), or `undefined` once all were handed over. */
    next(batchSize: number): Y[] | undefined {
        return this.updates.length > 0 ? this.updates.splice(0, batchSize) : undefined;
    }

    /**
     * Runs `handle` for an update, with the journal's records around it: a
     * suspect waits for its trial, any other update for a trial in progress,
     * and the start is recorded before the handler runs, so a death inside
     * it is known to the next life; the end is recorded after.
     */
    async handle(updateId: number, handle: () => Promise<void>): Promise<void> {
        const { trials } = this;
        if (trials === undefined) {
            const recorded = this.journal.markStarted(updateId); // undefined without a start log: no turn lost
            if (recorded !== undefined) await recorded;
        } else if (trials.isSuspect(updateId)) await trials.enterTrial(updateId);
        else {
            await trials.enter(updateId);
            await this.journal.markStarted(updateId);
        }
        this.inHandler.add(updateId);
        try {
            await handle();
        } finally {
            this.inHandler.delete(updateId);
            this.ended(updateId);
        }
    }

    /**
     * The sink gave up waiting for an update (its timeout). If its handler
     * runs, it counts as done, as `run` has always done with timeouts. If it
     * is still waiting for a trial, nothing is recorded: it is not done
     * before it ran, and its end is recorded when its handler really ends.
     */
    timedOut(updateId: number): void {
        if (this.inHandler.has(updateId)) this.journal.markDone(updateId);
    }

    /**
     * The handling of this update failed before any handler ran (the worker
     * threads of `distribute` cannot start: `WORKER_FAILED`): when it ends,
     * it stays unfinished in the journal and is handled after a restart.
     */
    keepUnfinished(updateId: number): void {
        this.kept.add(updateId);
    }

    /** The bot is stopping: trials still waiting for their moments run now, so the drain can finish them. */
    hurry(): void {
        this.trials?.hurry();
    }

    private ended(updateId: number): void {
        if (!this.kept.delete(updateId)) this.journal.markDone(updateId);
        const { trials } = this;
        if (trials === undefined) return;
        // A trial's record must stay exact: who of its members is still running if the process dies now.
        if (trials.ended(updateId)) this.journal.flush();
        if (trials.finished) this.trials = undefined;
    }
}
