import type { TrialKind } from "./attempts.js";

/** Suspects are tried in about this many groups per life, so a death narrows them down fourfold. */
const TRIAL_GROUPS = 4;
/** The first trial of a life starts at a random moment within this many milliseconds. */
const TRIAL_WINDOW_MS = 1_000;
/** How long a trial waits for other running handlers to end before it runs among them. */
const DRAIN_LIMIT_MS = 2_000;

/** Where trials are recorded (the journal). */
export interface TrialRecorder {
    /** Writes the done marks waiting so far and records that `updateIds` start a trial now. */
    startTrial(updateIds: readonly number[], kind: TrialKind): void;
    /** Records that the trial in progress has ended, with its members' done marks. */
    endTrial(): void;
}

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
 * that want to start wait, those running finish (or, after
 * `DRAIN_LIMIT_MS`, the trial runs among them and cannot convict). Most
 * suspected first (deaths, then update id), in groups of about a quarter of
 * the life's suspects.
 */
export class Trials {
    /** Suspects not tried yet, with the deaths they were running at. */
    private readonly untried: Map<number, number>;
    private readonly groupSize: number;
    /** Suspects whose turn has come in their lanes: waiting for a trial. */
    private readonly ready = new Map<number, () => void>();
    /** Other handlers running now. */
    private readonly running = new Set<number>();
    /** Members of the trial in progress still running. */
    private trial: Set<number> | undefined;
    /** Closed while a trial is prepared or runs: other updates wait for it to open. */
    private gate: { opened: Promise<void>; open: () => void } | undefined;
    private members: number[] = [];
    private drainTimer: NodeJS.Timeout | undefined;
    private dueTimer: NodeJS.Timeout | undefined;
    private due = false;
    /** The bot is stopping: no more waiting for a moment. */
    private hurried = false;
    private gateClosedAt = 0;

    constructor(
        suspects: ReadonlyMap<number, number>,
        private readonly recorder: TrialRecorder,
        random: () => number = Math.random,
    ) {
        this.untried = new Map(suspects);
        this.groupSize = Math.max(1, Math.ceil(suspects.size / TRIAL_GROUPS));
        this.dueIn(random() * TRIAL_WINDOW_MS);
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
     * while a trial is being prepared or runs, then counts it as running
     * until `ended`.
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

    /** Call when a handler ends (or times out), suspect or not. Returns whether it was on trial. */
    ended(updateId: number): boolean {
        if (this.trial?.delete(updateId)) {
            if (this.trial.size === 0) this.endTrial();
            return true;
        }
        if (this.running.delete(updateId) && this.running.size === 0 && this.drainTimer !== undefined) this.beginTrial("alone");
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
        if (this.hurried) return;
        this.due = false;
        this.dueTimer = setTimeout(() => {
            this.due = true;
            this.startNext();
        }, delayMs);
        this.dueTimer.unref();
    }

    /** Closes the gate for the next group of ready suspects, if it is time. */
    private startNext(): void {
        if (!this.due || this.gate !== undefined || this.ready.size === 0) return;
        this.members = [...this.ready.keys()]
            .sort((a, b) => this.untried.get(b)! - this.untried.get(a)! || a - b)
            .slice(0, this.groupSize);
        let open = () => {};
        const opened = new Promise<void>((resolve) => (open = resolve));
        this.gate = { opened, open };
        this.gateClosedAt = performance.now();
        if (this.running.size === 0) return this.beginTrial("alone");
        this.drainTimer = setTimeout(() => this.beginTrial("crowded"), DRAIN_LIMIT_MS);
        this.drainTimer.unref();
    }

    private beginTrial(kind: TrialKind): void {
        clearTimeout(this.drainTimer);
        this.drainTimer = undefined;
        this.trial = new Set(this.members);
        this.recorder.startTrial(this.members, kind);
        for (const updateId of this.members) {
            this.untried.delete(updateId);
            const resolve = this.ready.get(updateId)!;
            this.ready.delete(updateId);
            resolve();
        }
    }

    private endTrial(): void {
        this.trial = undefined;
        this.recorder.endTrial();
        const gate = this.gate!;
        this.gate = undefined;
        gate.open();
        if (this.untried.size > 0) this.dueIn(performance.now() - this.gateClosedAt);
    }
}
