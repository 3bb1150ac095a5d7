import type { Journal, Recovery } from "./journal.js";
import { Trials } from "./trials.js";

/**
 * A journaled run's side of every handler: hands the sink what the previous
 * lives left unfinished (in `update_id` order, before polling resumes) and
 * records, around each handler, what the journal needs to know: the start
 * (in the start log, or as a trial in the store) before the handler runs,
 * and the end. Suspects among the replayed updates are tried (see
 * trials.ts) before they run with the others.
 */
export class Replay<Y extends { update_id: number }> {
    private readonly updates: Y[];
    /** Present while suspects remain to be tried. */
    private trials: Trials | undefined;

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
     * Call as a handler is about to start, and await what it returns before
     * running the handler: a suspect waits for its trial, any other update
     * for a trial in progress to end, and the start is recorded first, so a
     * death inside the handler is known to the next life.
     */
    started(updateId: number): Promise<void> | undefined {
        const { trials } = this;
        if (trials === undefined) return this.journal.markStarted(updateId);
        if (trials.isSuspect(updateId)) return trials.enterTrial(updateId);
        return trials.enter(updateId).then(() => this.journal.markStarted(updateId));
    }

    /** Call as a handler ends (or times out): records it done (at once for a suspect on trial). */
    ended(updateId: number): void {
        this.journal.markDone(updateId);
        const { trials } = this;
        if (trials === undefined) return;
        // A trial's record must stay exact: who of its members is still running if the process dies now.
        if (trials.ended(updateId)) this.journal.flush();
        if (trials.finished) this.trials = undefined;
    }

    /** The bot is stopping: trials still waiting for their moment run now, so the drain can finish them. */
    hurry(): void {
        this.trials?.hurry();
    }
}
