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
export type TaskEnding = { state: "done"; result: unknown } | { state: "retry" } | { state: "dead"; error: string };

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
        const running = this.running;
        this.busy = {
            get size() {
                return running.size;
            },
            holds: (task) => running.has(task.id),
        };
        this.wakeup = new Wakeup((now) => this.turn(now), options.clock);
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
            if (row?.state === "queued" && row.ready_at <= now && !this.running.has(row.id)) this.run(row);
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
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<never>((_, reject) => {
            if (task.timeout_ms === null) return;
            timer = setTimeout(() => {
                const error = new Error(`timed out after ${task.timeout_ms} ms`);
                controller.abort(error);
                reject(error);
            }, task.timeout_ms);
        });
        const context = { id: task.id, name: task.name, attempt, signal: controller.signal };
        Promise.race([Promise.resolve().then(() => outsideUpdateScope(() => handler(JSON.parse(task.payload), context))), timedOut])
            .then(
                (result) => this.succeeded(task, attempt, result),
                (error: unknown) => this.failed(task, attempt, error),
            )
            .finally(() => clearTimeout(timer));
    }

    private failed(task: TaskRow, attempt: number, error: unknown): void {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof PermanentTaskError || (task.max_attempts !== null && attempt >= task.max_attempts)) {
            this.gaveUp(task, attempt, message);
            return;
        }
        if (this.stopped) return;
        const { baseDelayMs, maxDelayMs, clock, store, log } = this.options;
        const readyAt = clock() + backoffMs(attempt, "exponential", baseDelayMs, { jitter: "full", maxMs: maxDelayMs });
        log.warn({ taskId: task.id, task: task.name, attempt, error: message }, "task failed; will retry");
        store.markRetry(task, attempt, message, readyAt);
        this.release(task.id, { state: "retry" });
    }

    private succeeded(task: TaskRow, attempt: number, result: unknown): void {
        // Aborted by a stop: the store may be closing; the task stays queued for the next start.
        if (this.stopped) return;
        let json: string;
        try {
            json = JSON.stringify(result ?? null);
        } catch (error) {
            // Thrown from here it would end the process, and the task, still queued, would end it again
            // at every start; run again, it would fail the same way.
            const reason = error instanceof Error ? error.message : String(error);
            this.gaveUp(task, attempt, `its handler resolved, but the result cannot be stored as JSON (${reason}); return plain data`);
            return;
        }
        const { store, clock } = this.options;
        store.markDone(task.id, json, attempt, clock());
        this.release(task.id, { state: "done", result });
    }

    private gaveUp(task: TaskRow, attempt: number, error: string): void {
        if (this.stopped) return;
        const { store, clock } = this.options;
        store.markDead(task.id, attempt, error, clock());
        this.release(task.id, { state: "dead", error });
    }

    private release(id: number, ending: TaskEnding): void {
        this.running.delete(id);
        if (ending.state !== "retry") this.options.onEnded(id, ending);
        if (this.running.size === 0) for (const resolve of this.idle.splice(0)) resolve();
        this.wakeup.nudge();
    }
}
