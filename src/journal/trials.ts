import type { TrialKind } from "./attempts.js";

/** Where trials are recorded (the journal). */
export interface TrialRecorder {
    /** Writes the done marks waiting so far and records that `updateIds` start a trial now, alone or not. */
    startTrial(updateIds: readonly number[], kind: TrialKind): void;
    /** Records that the trial in progress no longer runs alone (the gate opened before its members ended). */
    crowdTrial(): void;
    /** Records that the trial in progress has ended, with its members' done marks. */
    endTrial(): void;
}

/** The timing of trials; the defaults are what `run` uses, tests pass their own. */
export interface TrialTiming {
    /** Draws the first trial's moment: a number from 0 to 1 of `windowMs`. @default Math.random */
    random?: () => number;
    /** The first trial of a life starts at a random moment within this many milliseconds. @default 1000 */
    windowMs?: number;
    /** How long a trial waits for other running handlers to end before it runs among them. @default 10000 */
    drainLimitMs?: number;
    /** How long the gate stays closed for a trial's members before everyone else goes on beside them. @default 10000 */
    trialLimitMs?: number;
}

/** Suspects are tried in about this many groups per life, so a death narrows them down fourfold. */
const TRIAL_GROUPS = 4;

/**
 * Runs a life's suspects (updates that were running at repeated deaths of the
 * process, see attempts.ts) in trials: a group of suspects runs with nothing
 * else running, so if the process dies now, the next life knows the culprit
 * is among them, and a lone suspect that dies is a strike against it.
 *
 * Suspects are handed to the sink with the other replayed updates and wait
 * in their lanes, so their chats keep their order; every other chat goes on
 * with its work. The first trial starts at a random moment of the life (so
 * a killer with its own rhythm does not keep landing on it), and each later
 * one after as much time again as the previous took, so trials take at
 * most about half of a busy life. A trial first closes the gate: updates
 * that want to start wait, those running finish. The gate stays closed at
 * most `drainLimitMs` for them and `trialLimitMs` for the trial's members;
 * past either, the trial goes on among others and can no longer convict, so
 * a slow or hung handler holds up the bot for a bounded time only. Most
 * suspected first (deaths, then update id), in groups of a quarter of the
 * most suspected, so the members of a group that died are split in four in
 * the next life whatever else waits.
 */
export class Trials {
    /** Suspects not tried yet, with the deaths they were running at. */
    private readonly untried: Map<number, number>;
    /** How many suspects this life began with at each number of deaths (a tier). */
    private readonly tierSizes = new Map<number, number>();
    private readonly timing: Required<Omit<TrialTiming, "random">>;
    /** Suspects whose turn has come in their lanes: waiting for a trial. */
    private readonly ready = new Map<number, () => void>();
    /** Other handlers running now. */
    private readonly running = new Set<number>();
    /** Members of the trial in progress still running. */
    private trial: Set<number> | undefined;
    /** Closed while a trial is prepared or runs alone: other updates wait for it to open. */
    private gate: { opened: Promise<void>; open: () => void } | undefined;
    private members: number[] = [];
    /** Ends the wait for running handlers (drain), or the trial's time alone. */
    private limitTimer: NodeJS.Timeout | undefined;
    private dueTimer: NodeJS.Timeout | undefined;
    private due = false;
    /** The bot is stopping: no more waiting for a moment. */
    private hurried = false;
    private gateClosedAt = 0;

    constructor(
        suspects: ReadonlyMap<number, number>,
        private readonly recorder: TrialRecorder,
        timing: TrialTiming = {},
    ) {
        this.untried = new Map(suspects);
        for (const deaths of suspects.values()) this.tierSizes.set(deaths, (this.tierSizes.get(deaths) ?? 0) + 1);
        this.timing = {
            windowMs: timing.windowMs ?? 1_000,
            drainLimitMs: timing.drainLimitMs ?? 10_000,
            trialLimitMs: timing.trialLimitMs ?? 10_000,
        };
        this.dueIn((timing.random ?? Math.random)() * this.timing.windowMs);
    }

    /** Whether trials are over: every suspect was tried (and the last trial ended). */
    get finished(): boolean {
        return this.untried.size === 0 && this.trial === undefined;
    }

    /** Whether `updateId` is a suspect still to be tried. */
    isSuspect(updateId: number): boolean {
        return this.untried.has(updateId);
    }

    /**
     * Call when an update that is not a suspect is about to start: waits
     * while a trial is being prepared or runs alone, then counts it as
     * running until `ended`.
     */
    async enter(updateId: number): Promise<void> {
        while (this.gate !== undefined) await this.gate.opened;
        this.running.add(updateId);
    }

    /** Call when a suspect is about to start: resolves when its trial begins. */
    enterTrial(updateId: number): Promise<void> {
        return new Promise((resolve) => {
            this.ready.set(updateId, resolve);
            this.startNext();
        });
    }

    /** Call when a handler has ended, suspect or not. Returns whether it was on trial. */
    ended(updateId: number): boolean {
        if (this.trial?.delete(updateId)) {
            if (this.trial.size === 0) this.endTrial();
            return true;
        }
        if (this.running.delete(updateId) && this.running.size === 0 && this.trial === undefined && this.gate !== undefined) {
            this.beginTrial("alone");
        }
        return false;
    }

    /** Runs the remaining trials without waiting for their moments (the bot is stopping and draining). */
    hurry(): void {
        clearTimeout(this.dueTimer);
        this.hurried = true;
        this.due = true;
        this.startNext();
    }

    private dueIn(delayMs: number): void {
        if (this.hurried) {
            this.startNext();
            return;
        }
        this.due = false;
        this.dueTimer = setTimeout(() => {
            this.due = true;
            this.startNext();
        }, delayMs);
        this.dueTimer.unref();
    }

    /** Closes the gate for the next group of ready suspects, if it is time. */
    private startNext(): void {
        if (!this.due || this.gate !== undefined || this.trial !== undefined || this.ready.size === 0) return;
        this.members = [...this.ready.keys()]
            .sort((a, b) => this.untried.get(b)! - this.untried.get(a)! || a - b)
            .slice(0, this.groupSize());
        let open = () => {};
        const opened = new Promise<void>((resolve) => (open = resolve));
        this.gate = { opened, open };
        this.gateClosedAt = performance.now();
        if (this.running.size === 0) {
            this.beginTrial("alone");
            return;
        }
        this.limitTimer = setTimeout(() => this.beginTrial("crowded"), this.timing.drainLimitMs);
        this.limitTimer.unref();
    }

    /**
     * A quarter of the most suspected tier (those with the most deaths among
     * the untried) as the life began: a group that died in the last life is
     * split in four in this one, down to one, whatever else waits to be
     * tried. Counted at the start of the life, not of what is left, so a tier
     * takes four trials, not a shrinking quarter of a quarter (a dozen for a
     * hundred suspects: a life of trials after kills during recovery).
     */
    private groupSize(): number {
        const most = Math.max(...this.untried.values());
        return Math.ceil(this.tierSizes.get(most)! / TRIAL_GROUPS);
    }

    private beginTrial(kind: TrialKind): void {
        clearTimeout(this.limitTimer);
        this.trial = new Set(this.members);
        this.recorder.startTrial(this.members, kind);
        if (kind === "crowded") this.openGate();
        else {
            this.limitTimer = setTimeout(() => this.crowd(), this.timing.trialLimitMs);
            this.limitTimer.unref();
        }
        for (const updateId of this.members) {
            this.untried.delete(updateId);
            const resolve = this.ready.get(updateId)!;
            this.ready.delete(updateId);
            resolve();
        }
    }

    /** The trial's members take too long: everyone else goes on, and the trial can no longer convict. */
    private crowd(): void {
        this.recorder.crowdTrial();
        this.openGate();
    }

    private endTrial(): void {
        clearTimeout(this.limitTimer);
        this.trial = undefined;
        this.recorder.endTrial();
        this.openGate();
        if (this.untried.size > 0) this.dueIn(performance.now() - this.gateClosedAt);
    }

    private openGate(): void {
        const gate = this.gate;
        this.gate = undefined;
        gate?.open();
    }
}
