import { backoffMs } from "../shared/backoff.js";
import { PermanentTaskError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { type Busy, ReadyWindow } from "../shared/ready-window.js";
import { settlesWithin } from "../shared/timing.js";
import { outsideUpdateScope } from "../shared/update-scope.js";
import { Wakeup } from "../shared/wakeup.js";
import type { DueTask, TaskRow, TaskStore } from "./task-store.js";

/** What a task handler is told about the run. */
export interface TaskContext {
    /** The task's id. */
    id: number;
    /** The task's name. */
    name: string;
    /** This run's number: 1 the first time. */
    attempt: number;
    /** Aborted when the run times out or the tasks stop; pass it to what the handler waits on. */
    signal: AbortSignal;
}

/**
 * Runs one task; its result is stored as JSON and is what `done(id)` resolves
 * with (a result JSON cannot hold, such as a BigInt, makes the task dead). A
 * `PermanentTaskError` gives up at once.
 */
// biome-ignore lint/suspicious/noExplicitAny: a handler declares its own payload type; the map of them cannot.
export type TaskHandler<P = any, R = unknown> = (payload: P, context: TaskContext) => R | Promise<R>;

/** How a run ended. */
export type TaskEnding = { state: "done"; result: unknown } | { state: "dead"; error: string };

/** How the runner works. */
export interface TaskRunnerOptions {
    store: TaskStore;
    handlers: Readonly<Record<string, TaskHandler>>;
    concurrency: number;
    baseDelayMs: number;
    maxDelayMs: number;
    clock: () => number;
    log: Logger;
    /** Told when a task is done or dead. */
    onEnded: (id: number, ending: TaskEnding) => void;
}

/**
 * The loop that runs due tasks: up to `concurrency` at once, taken from a
 * window per task name (the names in turn, so one busy kind does not starve
 * the others), due by `ready_at`. A run that throws or times out is retried
 * after an exponential backoff with full jitter; one that resolves is done.
 * It sleeps until the next task is due, like the outbox's dispatcher, with
 * the same window and wake-up.
 */
export class TaskRunner {
    /** Tasks running now, and the controller that aborts each. */
    private readonly running = new Map<number, AbortController>();
    /** Tasks added by a handler still running: they wait for it to end (see `hold`). */
    private readonly held = new Set<number>();
    private readonly names: string[];
    private readonly window: ReadyWindow<DueTask>;
    private readonly busy: Busy<DueTask>;
    private readonly wakeup: Wakeup;
    private turnOf = 0;
    private idle: (() => void)[] = [];
    private stopped = false;

    constructor(private readonly options: TaskRunnerOptions) {
        this.names = Object.keys(options.handlers);
        const { store } = options;
        this.window = new ReadyWindow<DueTask>(
            {
                ready: (kind, now, limit) => store.due(this.names[kind]!, now, limit),
                nextReadyAt: (kind, after) => store.nextDueAt(this.names[kind]!, after),
            },
            this.names.length,
        );
        const { running, held } = this;
        this.busy = {
            get size() {
                return running.size + held.size;
            },
            holds: (task: DueTask) => running.has(task.id) || held.has(task.id),
        };
        this.wakeup = new Wakeup(
            (now) => this.turn(now),
            options.clock,
            (error) => options.log.error({ err: error }, "could not read the due tasks; trying again in a second"),
        );
    }

    /** Starts running due tasks. */
    start(): void {
        this.stopped = false;
        this.window.reset();
        this.wakeup.start();
    }

    /**
     * Starts nothing more and waits up to `timeoutMs` for the runs in flight;
     * then aborts their signals and stops waiting. A task that did not finish
     * stays queued and runs again at the next start.
     */
    async stop(timeoutMs: number): Promise<void> {
        this.wakeup.stop();
        if (!(await settlesWithin(this.whenIdle(), timeoutMs))) {
            this.stopped = true;
            for (const controller of this.running.values()) controller.abort(new Error("the tasks stopped"));
            this.running.clear();
        }
        this.stopped = true;
    }

    private async whenIdle(): Promise<void> {
        while (this.running.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    }

    /** A task named `name` is due at `readyAt`. */
    written(name: string, readyAt: number): void {
        const kind = this.names.indexOf(name);
        if (kind === -1) return;
        this.window.written(kind, readyAt);
        this.wakeup.dueAt(readyAt);
    }

    /** Keeps task `id` from starting until `unhold`: a task added by a handler runs after that handler. */
    hold(id: number): void {
        this.held.add(id);
    }

    /** Lets a held task start. */
    unhold(id: number, name: string): void {
        if (!this.held.delete(id)) return;
        this.written(name, this.options.clock());
    }

    /** Another connection wrote tasks (the `sluice` command retried a dead one): every name is read again. */
    storeChanged(): void {
        const now = this.options.clock();
        for (let kind = 0; kind < this.names.length; kind++) this.window.written(kind, now);
        this.wakeup.nudge();
    }

    /** How many tasks are running now. */
    get runningCount(): number {
        return this.running.size;
    }

    /** Whether task `id` is running now. */
    isRunning(id: number): boolean {
        return this.running.has(id);
    }

    /** Starts what is due at `now`; returns when to look again. */
    private turn(now: number): number {
        const { concurrency, store } = this.options;
        while (this.running.size < concurrency) {
            const task = this.nextDue(now);
            if (task === undefined) break;
            const row = store.get(task.id);
            // A stale window entry: done, dead or retried since it was read.
            if (row?.state === "queued" && row.ready_at <= now && !this.busy.holds(row)) this.run(row);
        }
        if (this.running.size >= concurrency) return Infinity;
        return Math.min(...this.names.map((_, kind) => this.window.readyAt(kind)));
    }

    /** The next due task, the names taking turns. */
    private nextDue(now: number): DueTask | undefined {
        for (let step = 0; step < this.names.length; step++) {
            const kind = (this.turnOf + step) % this.names.length;
            const task = this.window.peek(kind, now, this.busy);
            if (task === undefined) continue;
            this.window.drop(kind);
            this.turnOf = (kind + 1) % this.names.length;
            return task;
        }
        return undefined;
    }

    private run(task: TaskRow): void {
        const controller = new AbortController();
        this.running.set(task.id, controller);
        const attempt = task.attempts + 1;
        const handler = this.options.handlers[task.name]!;
        let timedOut = false;
        const timer =
            task.timeout_ms === null
                ? undefined
                : setTimeout(() => {
                      timedOut = true;
                      const error = new Error(`timed out after ${task.timeout_ms} ms`);
                      controller.abort(error);
                      // The retry is scheduled now, but the task keeps its slot until its handler
                      // settles: one task never runs twice at once.
                      this.guard(task, () => this.failed(task, attempt, error, false));
                  }, task.timeout_ms);
        const context = { id: task.id, name: task.name, attempt, signal: controller.signal };
        Promise.resolve()
            // Also when the runner was started from inside a handler: a task is never part of an update.
            .then(() => outsideUpdateScope(() => handler(JSON.parse(task.payload), context)))
            .then(
                (result) => this.guard(task, () => (timedOut ? this.release(task, undefined) : this.succeeded(task, attempt, result))),
                (error: unknown) =>
                    this.guard(task, () => (timedOut ? this.release(task, undefined) : this.failed(task, attempt, error, true))),
            )
            .finally(() => clearTimeout(timer));
    }

    /** Runs how a run ended; if recording it fails (the store), logs it and frees the slot: the task stays queued. */
    private guard(task: TaskRow, record: () => void): void {
        try {
            record();
        } catch (error) {
            this.options.log.error({ err: error, taskId: task.id }, "could not record how a task run ended; it stays queued");
            this.release(task, undefined);
        }
    }

    private succeeded(task: TaskRow, attempt: number, result: unknown): void {
        let stored: string;
        try {
            stored = JSON.stringify(result ?? null);
        } catch (error) {
            // Retrying cannot make a result storable: give up, saying why.
            this.finish(
                task,
                attempt,
                {
                    state: "dead",
                    error: `its handler resolved, but the result cannot be stored as JSON (${messageOf(error)}); return plain data`,
                },
                true,
            );
            return;
        }
        if (this.stopped) return;
        this.options.store.markDone(task.id, stored, attempt, this.options.clock());
        this.release(task, { state: "done", result });
    }

    /** A run threw or timed out: retried after a backoff, or dead. `release`: the run is over (not a timeout). */
    private failed(task: TaskRow, attempt: number, error: unknown, release: boolean): void {
        const message = messageOf(error);
        if (error instanceof PermanentTaskError || (task.max_attempts !== null && attempt >= task.max_attempts)) {
            this.finish(task, attempt, { state: "dead", error: message }, release);
            return;
        }
        if (this.stopped) return;
        const { baseDelayMs, maxDelayMs, clock, store, log } = this.options;
        const readyAt = clock() + backoffMs(attempt, "exponential", baseDelayMs, { jitter: "full", maxMs: maxDelayMs });
        log.warn({ taskId: task.id, task: task.name, attempt, error: message }, "task failed; will retry");
        store.markRetry(task, attempt, message, readyAt);
        if (release) this.release(task, undefined);
    }

    private finish(task: TaskRow, attempt: number, ending: TaskEnding & { state: "dead" }, release: boolean): void {
        // Aborted by a stop: the store may be closing; the task stays queued for the next start.
        if (this.stopped) return;
        this.options.store.markDead(task.id, attempt, ending.error, this.options.clock());
        this.options.onEnded(task.id, ending);
        if (release) this.release(task, undefined);
    }

    /** Frees the task's slot (telling waiters how it ended, if it did). */
    private release(task: TaskRow, ending: TaskEnding | undefined): void {
        if (!this.running.delete(task.id)) return;
        if (ending !== undefined) this.options.onEnded(task.id, ending);
        // Passed over while it held its slot (a retry due during a timed-out run): the window reads it again.
        this.written(task.name, this.options.clock());
        if (this.running.size === 0) for (const resolve of this.idle.splice(0)) resolve();
        this.wakeup.nudge();
    }
}

function messageOf(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
