import { type Metrics, type MetricsOption, metricsOf } from "../metrics/registry.js";
import { measureTasks } from "../metrics/task-metrics.js";
import { InvalidOptionError, SluiceError, TaskDeadError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { milliseconds, wholeNumber } from "../shared/options.js";
import { TurnBatch } from "../shared/turn-batch.js";
import { afterHandling, currentUpdateScope, type UpdateScope } from "../shared/update-scope.js";
import { Waiters } from "../shared/waiters.js";
import { OwnerLock } from "../store/owner-lock.js";
import { onStore, type Store } from "../store/store.js";
import { type TaskEnding, type TaskHandler, TaskRunner } from "./task-runner.js";
import { type AddedTask, type NewTask, type TaskRow, type TaskState, TaskStore } from "./task-store.js";

/** How tasks run: the same shape for `run(bot, { tasks })` and `createTasks`. */
export interface TasksSettings {
    /** A handler per task name: `{ charge: async (payload, { signal }) => … }`. */
    handlers: Readonly<Record<string, TaskHandler>>;
    /** Tasks running at once, over all names (at least 1). @default 8 */
    concurrency?: number;
    /** The first retry waits up to this long (full jitter), doubling each time. @default 1_000 */
    baseDelayMs?: number;
    /** No retry waits longer than this. @default 300_000 (five minutes) */
    maxDelayMs?: number;
    /**
     * Done tasks are kept this long (they answer `done(id)`, `status` and a
     * repeated idempotency key), then deleted, checked hourly. Dead tasks stay
     * until purged. @default 86_400_000 (a day)
     */
    keepDoneMs?: number;
}

/** Options of `createTasks`: where the tasks live, and how they run. */
export interface TasksOptions extends TasksSettings {
    /** A SQLite path or an opened store (shared with a journal and an outbox); in memory without it. */
    store?: string | Store;
    /** Keys the tasks in a store shared by several bots. @default 0 */
    botId?: number;
    /** Time source, for tests. @default Date.now */
    clock?: () => number;
    /** pino logger; sluice's quiet default otherwise. */
    logger?: Logger;
    /**
     * Prometheus series of these tasks (`sluice_tasks{state}`): `true` in a
     * registry of their own, or `{ registry }` in yours; read them from `tasks.metrics`.
     * @default none
     */
    metrics?: MetricsOption;
}

/** Options of one `add`. */
export interface AddTaskOptions {
    /** Not before this many milliseconds from now. @default 0 */
    delayMs?: number;
    /**
     * A key unique per bot: adding it again returns the first task instead of
     * a second. Tasks added while handling an update get keys derived from it
     * without this, so a replayed update does not add them twice.
     */
    idempotencyKey?: string;
    /** Dead after this many failed runs. @default retried until it succeeds */
    maxAttempts?: number;
    /** A run taking longer fails (and its `signal` aborts). @default no timeout */
    timeoutMs?: number;
}

/** A task to add with `addMany`. */
export interface TaskToAdd extends AddTaskOptions {
    name: string;
    payload: unknown;
}

/** Where a task is. */
export interface TaskStatus {
    id: number;
    name: string;
    state: TaskState;
    /** Runs that ended so far: failed ones, and the one that succeeded. */
    attempts: number;
    payload: unknown;
    /** The handler's result, once done. */
    result?: unknown;
    /** The last error, once a run failed. */
    error?: string;
    createdAt: Date;
    /** When it is due next (queued tasks). */
    dueAt?: Date;
    finishedAt?: Date;
}

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/** A task on its way to the store, and the update whose handler added it. */
interface Adding {
    task: NewTask;
    addedBy: UpdateScope | undefined;
}

/**
 * Durable background work: a task is in the store before `add` resolves, runs
 * on its handler until the handler resolves (retried with exponential backoff
 * and full jitter, forever or up to `maxAttempts`), and survives crashes: a
 * task running at a kill runs again after the restart (at least once; make
 * handlers idempotent).
 */
export class Tasks {
    private readonly store: TaskStore;
    /** Runs the tasks; a guest has none. */
    private readonly runner: TaskRunner | undefined;
    private readonly lock: OwnerLock | undefined;
    private readonly clock: () => number;
    private readonly botId: number;
    private readonly keepDoneMs: number;
    private pruneTimer: NodeJS.Timeout | undefined;
    private readonly log: Logger;
    /** Tasks from `add`, with the update whose handler added each, stored together once per event-loop turn. */
    private readonly batch = new TurnBatch<Adding, AddedTask>((adding) => this.stored(adding));
    private readonly waiting = new Waiters<unknown>();
    private stopWatching = () => {};
    private closed: Promise<void> | undefined;
    /** The tasks' Prometheus series (with the `metrics` option). */
    readonly metrics: Metrics | undefined = undefined;
    private stopMeasuring = () => {};

    /** @internal Use `createTasks`. */
    /** @internal Use `createTasks` (an owner) or `Tasks.guest`. */
    constructor(
        private readonly sqlite: Store,
        private readonly ownsStore: boolean,
        private readonly options: TasksOptions,
        guest = false,
    ) {
        if (!guest) checkHandlers(options.handlers);
        this.botId = wholeNumber("tasks.botId", options.botId, 0, { min: 0 });
        const concurrency = wholeNumber("tasks.concurrency", options.concurrency, 8);
        const baseDelayMs = milliseconds("tasks.baseDelayMs", options.baseDelayMs, 1_000);
        const maxDelayMs = milliseconds("tasks.maxDelayMs", options.maxDelayMs, 300_000);
        this.keepDoneMs = milliseconds("tasks.keepDoneMs", options.keepDoneMs, DAY_MS);
        this.clock = options.clock ?? Date.now;
        this.log = componentLogger("tasks", options.logger);
        // In memory nothing is shared; on a file, a second runner would run every task twice.
        this.lock = sqlite.inMemory || guest ? undefined : OwnerLock.acquire(sqlite, this.botId, "tasks");
        this.store = new TaskStore(sqlite, this.botId, (name, readyAt) => this.runner?.written(name, readyAt));
        if (guest) return;
        const runner = new TaskRunner({
            store: this.store,
            handlers: options.handlers,
            concurrency,
            baseDelayMs,
            maxDelayMs,
            clock: this.clock,
            log: this.log,
            onEnded: (id, ending) => this.answerWaiters(id, ending),
        });
        this.runner = runner;
        this.metrics = options.metrics && metricsOf(options.metrics, this.botId);
        if (this.metrics) {
            this.stopMeasuring = measureTasks(this.metrics.registry, this.botId, () => ({
                ...this.store.counts(),
                running: runner.runningCount,
            }));
        }
        this.warnAboutMissingHandlers();
        runner.start();
        this.stopWatching = sqlite.onExternalChange(() => runner.storeChanged());
        this.prune();
        this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS).unref();
    }

    /**
     * The tasks of a bot (or of `botId` 0) for a process that does not run
     * them (the `sluice` command on a store a bot may be running on): it
     * lists and retries dead tasks, and the running owner picks a retried
     * task up within a second (or at its next start). It runs nothing and
     * takes no lock.
     */
    static guest(store: Store, botId: number): Tasks {
        return new Tasks(store, false, { botId, handlers: {} }, true);
    }

    /** Tasks stored by an earlier process whose name has no handler now wait, and say so. */
    private warnAboutMissingHandlers(): void {
        for (const name of this.store.queuedNames()) {
            if (Object.hasOwn(this.options.handlers, name)) continue;
            const error = new SluiceError(
                "TASK_HANDLER_MISSING",
                `Queued tasks named "${name}" have no handler; they wait, unrun, until a handler for "${name}" is given in tasks.handlers.`,
            );
            this.log.error({ err: error, task: name }, error.message);
        }
    }

    /**
     * Stores a task; resolves once it is stored (with every other task added
     * in this turn of the event loop, in one commit). It runs after `delayMs`,
     * retried until its handler resolves.
     */
    add(name: string, payload: unknown, options: AddTaskOptions = {}): Promise<AddedTask> {
        try {
            return this.batch.add({ task: this.toNew({ ...options, name, payload }), addedBy: currentUpdateScope() });
        } catch (error) {
            return Promise.reject(error);
        }
    }

    /** Stores many tasks in one transaction. */
    addMany(tasks: readonly TaskToAdd[]): Promise<AddedTask[]> {
        try {
            const addedBy = currentUpdateScope();
            return Promise.resolve(this.stored(tasks.map((task) => ({ task: this.toNew(task), addedBy }))));
        } catch (error) {
            return Promise.reject(error);
        }
    }

    /**
     * Stores tasks; one added by a handler still running is held until that
     * handler ends, so it never runs beside the code that added it (which may
     * not have written what the task reads yet). Held again on a replay: the
     * task stored by the first try waits for the replayed handler too.
     */
    private stored(adding: readonly Adding[]): AddedTask[] {
        const added = this.store.add(
            adding.map(({ task }) => task),
            this.clock(),
        );
        for (const [index, { task, addedBy }] of adding.entries()) {
            const runner = this.runner;
            if (addedBy === undefined || addedBy.handled || runner === undefined) continue;
            const { id } = added[index]!;
            runner.hold(id);
            afterHandling(addedBy, () => runner.unhold(id, task.name));
        }
        return added;
    }

    private toNew(task: TaskToAdd): NewTask {
        if (!Object.hasOwn(this.options.handlers, task.name)) {
            const names = Object.keys(this.options.handlers).join(", ");
            throw new InvalidOptionError("name", `no handler for a task named ${JSON.stringify(task.name)}; the handlers are: ${names}`);
        }
        const delayMs = milliseconds("delayMs", task.delayMs, 0);
        const maxAttempts = task.maxAttempts === undefined ? undefined : wholeNumber("maxAttempts", task.maxAttempts, 1);
        const timeoutMs = task.timeoutMs === undefined ? undefined : milliseconds("timeoutMs", task.timeoutMs, 0, { positive: true });
        // Keyed by the update being handled, so a replay of it after a crash maps onto the same keys.
        const scope = currentUpdateScope();
        const idempotencyKey =
            task.idempotencyKey ?? (scope === undefined ? undefined : `t:${scope.botId}:${scope.updateId}:${scope.tasks++}`);
        return { name: task.name, payload: task.payload, readyAt: this.clock() + delayMs, idempotencyKey, maxAttempts, timeoutMs };
    }

    /**
     * Resolves with the handler's result once the task is done; rejects with
     * `TaskDeadError` once it is dead. A handler that waits for a task it
     * added lets it start at once, instead of after the handler ends.
     */
    done(id: number): Promise<unknown> {
        const status = this.status(id);
        if (status === undefined) return Promise.reject(new InvalidOptionError("id", `no task ${id}`));
        if (status.state === "done") return Promise.resolve(status.result);
        if (status.state === "dead") return Promise.reject(new TaskDeadError(id, status.error ?? ""));
        // Whoever waits for a task wants it run: a handler awaiting its own task would otherwise wait for itself.
        this.runner?.unhold(id, status.name);
        return this.waiting.wait(id);
    }

    /** Where a task is: queued, running, done (with its result) or dead (with its last error). */
    status(id: number): TaskStatus | undefined {
        const row = this.store.get(id);
        return row === undefined ? undefined : this.toStatus(row);
    }

    /**
     * Dead tasks, oldest first; only the first `limit` when given.
     * @param limit @default all
     */
    dead(limit?: number): TaskStatus[] {
        return this.store.deadTasks(limit).map((row) => this.toStatus(row));
    }

    /** How many tasks are dead, without reading them. */
    deadCount(): number {
        return this.store.deadCount();
    }

    /** Runs a dead task again, now, with its attempts reset; `false` if it is not dead. */
    retry(id: number): boolean {
        return this.store.revive(id, this.clock());
    }

    /** Deletes every dead task; returns how many. */
    purgeDead(): number {
        return this.store.purgeDead();
    }

    /**
     * Stops running tasks (idempotent): runs in flight get up to `timeoutMs`
     * to finish, then their signals abort and they stay queued for the next
     * start. Callers waiting in `done` hear `TASKS_CLOSED`.
     */
    close(timeoutMs = Infinity): Promise<void> {
        this.closed ??= this.shutDown(timeoutMs);
        return this.closed;
    }

    private async shutDown(timeoutMs: number): Promise<void> {
        this.batch.flush();
        clearInterval(this.pruneTimer);
        this.stopMeasuring();
        this.stopWatching();
        await this.runner?.stop(timeoutMs);
        const closed = new SluiceError("TASKS_CLOSED", "The tasks stopped before this one finished; it runs again at the next start.");
        this.waiting.rejectAll(closed);
        this.lock?.release();
        if (this.ownsStore) this.sqlite.close();
    }

    private prune(): void {
        try {
            this.store.prune(this.clock() - this.keepDoneMs);
        } catch (error) {
            // From a timer, a throw would end the process; old rows can wait for the next hour.
            this.log.error({ err: error }, "could not delete old done tasks; will try again in an hour");
        }
    }

    private answerWaiters(id: number, ending: TaskEnding): void {
        if (ending.state === "done") this.waiting.resolve(id, ending.result);
        else this.waiting.reject(id, new TaskDeadError(id, ending.error));
    }

    private toStatus(row: TaskRow): TaskStatus {
        const state: TaskState = row.state === "queued" && this.runner?.isRunning(row.id) === true ? "running" : row.state;
        return {
            id: row.id,
            name: row.name,
            state,
            attempts: row.attempts,
            payload: JSON.parse(row.payload) as unknown,
            ...(row.result === null ? {} : { result: JSON.parse(row.result) as unknown }),
            ...(row.error === null ? {} : { error: row.error }),
            createdAt: new Date(row.created_at),
            ...(row.state === "queued" ? { dueAt: new Date(row.ready_at) } : {}),
            ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at) }),
        };
    }
}

function checkHandlers(handlers: TasksOptions["handlers"]): void {
    if (typeof handlers !== "object" || handlers === null || Object.keys(handlers).length === 0) {
        throw new InvalidOptionError("tasks.handlers", "give at least one handler: { handlers: { name: async (payload) => … } }");
    }
    for (const [name, handler] of Object.entries(handlers)) {
        if (typeof handler !== "function") throw new InvalidOptionError(`tasks.handlers.${name}`, "expected a function");
    }
}

/**
 * Creates durable tasks on a store and starts running what is due, including
 * what an earlier process left.
 *
 * ```ts
 * const tasks = createTasks({ store: "jobs.db", handlers: { report: async ({ day }) => build(day) } });
 * const { id } = await tasks.add("report", { day: "2026-11-24" });
 * const report = await tasks.done(id);
 * ```
 */
export function createTasks(options: TasksOptions): Tasks {
    return onStore(options.store, (store, ownsStore) => new Tasks(store, ownsStore, options));
}
