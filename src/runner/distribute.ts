import { Worker } from "node:worker_threads";
import type { Update, UserFromGetMe } from "grammy/types";
import { type Judgement, PoisonUpdateError, WorkerClosedError, WorkerFailedError, WorkerHandlerFailedError } from "../shared/errors.js";
import { componentLogger, type Logger } from "../shared/logger.js";
import { wholeNumber } from "../shared/options.js";
import { chatAndUserOfUpdate } from "../shared/update-chat.js";
import { type Constraint, keysFrom } from "./constraint.js";
import { PROTOCOL_ENV, PROTOCOL_VERSION, parseWorkerMessage, readCulprit, type WorkerMessage } from "./worker-protocol.js";

/** How `distribute` spreads updates over worker threads. */
export interface DistributeOptions<C> {
    /**
     * Number of worker threads.
     * @default 4
     */
    count?: number;
    /**
     * The key that places an update on a thread: updates with the same key
     * (its first, if it returns several) go to the same thread, one after
     * another, in the order they arrived. Updates without a key go by
     * `update_id` and keep no order.
     * @default the chat of the update (the user, for updates without a chat)
     */
    constraint?: Constraint<C>;
    /**
     * An update that ended its thread this many times (its handler was seen
     * ending it, or the thread died without a trace while the update ran
     * there alone) is given up: its promise rejects with `PoisonUpdateError`,
     * which `run(bot, { store })` puts in the journal's quarantine.
     * @default 3
     */
    maxAttempts?: number;
    /** pino logger; sluice's default logs warnings and errors only. */
    logger?: Logger;
}

/** What `distribute`'s threads are doing (`middleware.status()`). */
export interface DistributeStatus {
    /** Threads running now. */
    threads: number;
    /** Threads started so far, replacements included. */
    started: number;
    /** Updates sent to a thread or waiting for one, not yet finished. */
    pending: number;
    /** `"running"`, `"failed"` (the worker file cannot start: `WORKER_FAILED`) or `"closed"`. */
    state: "running" | "failed" | "closed";
}

/**
 * The middleware `distribute` returns: what the reference returns, plus a
 * way to end the threads and a look at them.
 */
export interface DistributeMiddleware<C> {
    (ctx: C): Promise<void>;
    /**
     * Ends the threads. Updates not finished reject with `WORKER_CLOSED`, and
     * so do later calls; stop the bot first to let running updates finish.
     * Threads hold the process open only while they hold updates, so a
     * stopped bot's process can exit without this.
     */
    close(): Promise<void>;
    /** Threads and pending updates. */
    status(): DistributeStatus;
}

/** What the middleware needs of a context. */
type DistributableContext = { update: { update_id: number }; me: UserFromGetMe };

const DEFAULT_COUNT = 4;
const DEFAULT_MAX_ATTEMPTS = 3;
/** Threads that end before showing a sign of life, in a row, before the worker file is declared unusable. */
const FAILED_STARTS = 3;

/**
 * Creates middleware that hands each update to one of `count` worker
 * threads, each running the `BotWorker` built in `specifier` (a path or a
 * `file:` URL), and resolves when that thread has handled it. Use it as the
 * central bot's only middleware: `bot.use(distribute(workerFile))`.
 *
 * The same call as the reference's `distribute`, with three differences:
 * - a chat's updates always go to the same thread, and one at a time, in
 *   the order they arrived (the reference picks the thread by `update_id`,
 *   so a chat's updates run on several threads at once);
 * - a thread that dies (`process.exit`, an uncaught exception) is replaced
 *   and the updates it held are sent to the new one; an update that keeps
 *   killing threads is given up after `maxAttempts` (`PoisonUpdateError`);
 *   a handler error the worker did not handle rejects with
 *   `WORKER_HANDLER_FAILED`, for the central bot's error handler;
 * - the threads belong to this middleware (the reference keeps one set per
 *   path for the life of the process), hold the process open only while
 *   they hold updates, and end with `close()`.
 *
 * Works with the reference's `BotWorker` too, without naming the update
 * that ended a thread (each held update is then tried alone, see
 * docs/ARCHITECTURE.md, "Worker threads").
 *
 * @param specifier The worker file: a path or a `file:` URL
 * @param options Number of threads, the routing key, attempts
 */
export function distribute<C extends DistributableContext>(
    specifier: string | URL,
    options: DistributeOptions<C> = {},
): DistributeMiddleware<C> {
    const count = wholeNumber("count", options.count, DEFAULT_COUNT);
    const maxAttempts = wholeNumber("maxAttempts", options.maxAttempts, DEFAULT_MAX_ATTEMPTS);
    const constraint: Constraint<C> = options.constraint ?? ((ctx) => chatAndUserOfUpdate(ctx.update)?.[0]);
    const log = componentLogger("distribute", options.logger);
    let pool: ThreadPool | undefined;
    let closed = false;
    const middleware = (ctx: C): Promise<void> => {
        const update = ctx.update as Update;
        if (closed) return Promise.reject(new WorkerClosedError(update.update_id));
        // Threads start with the first update: they are seeded with the bot's getMe answer, as in the reference.
        pool ??= new ThreadPool(specifier, ctx.me, count, maxAttempts, log);
        return pool.submit(update, keysFrom(constraint(ctx))[0]);
    };
    return Object.assign(middleware, {
        close: async () => {
            closed = true;
            await pool?.close();
        },
        status: (): DistributeStatus =>
            pool?.status() ?? { threads: 0, started: 0, pending: 0, state: closed ? ("closed" as const) : ("running" as const) },
    });
}

/** One update on its way through a thread, with the evidence against it. */
interface Job {
    readonly update: Update;
    readonly key: string | undefined;
    readonly slot: ThreadSlot;
    readonly resolve: () => void;
    readonly reject: (error: unknown) => void;
    /** Deaths it is blamed for: named by the thread, or while it ran alone there. */
    strikes: number;
    /** At least one strike was a death its handler was seen causing. */
    observed: boolean;
    lastExit: string | undefined;
}

/**
 * The threads of one `distribute` middleware and the per-key order of
 * updates across them. A key's updates wait in its lane; only the lane's
 * head is at a thread, so a thread never runs two updates of one chat at
 * once, whichever `BotWorker` (ours or the reference's) it runs.
 */
class ThreadPool {
    private readonly slots: ThreadSlot[] = [];
    /** Per key: the update at its thread first, then those waiting behind it. Dropped when empty. */
    private readonly lanes = new Map<string, Job[]>();
    private failedStarts = 0;
    /** Set when the worker file proved unusable: every update fails with it. */
    private failure: WorkerFailedError | undefined;
    private closed = false;
    started = 0;

    constructor(
        readonly specifier: string | URL,
        readonly me: UserFromGetMe,
        count: number,
        readonly maxAttempts: number,
        readonly log: Logger,
    ) {
        for (let index = 0; index < count; index++) this.slots.push(new ThreadSlot(this));
    }

    submit(update: Update, key: string | undefined): Promise<void> {
        if (this.failure !== undefined) return Promise.reject(this.failure);
        if (this.closed) return Promise.reject(new WorkerClosedError(update.update_id));
        return new Promise<void>((resolve, reject) => {
            const job: Job = {
                update,
                key,
                slot: this.slotFor(update, key),
                resolve,
                reject,
                strikes: 0,
                observed: false,
                lastExit: undefined,
            };
            if (key === undefined) return job.slot.run(job);
            const lane = this.lanes.get(key);
            if (lane !== undefined) return void lane.push(job);
            this.lanes.set(key, [job]);
            job.slot.run(job);
        });
    }

    /** A job left its thread for good (done, failed, given up): the next of its key goes. */
    finished(job: Job): void {
        if (job.key === undefined) return;
        const lane = this.lanes.get(job.key);
        if (lane === undefined || lane[0] !== job) return;
        lane.shift();
        const next = lane[0];
        if (next === undefined) this.lanes.delete(job.key);
        else next.slot.run(next);
    }

    /**
     * A thread ended before showing a sign of life, holding `held`; `false`
     * once that happened too often in a row: the pool failed, and `held`
     * was rejected with everything else.
     */
    failedStart(lastExit: string, held: Job[]): boolean {
        this.failedStarts++;
        if (this.failedStarts < FAILED_STARTS) return true;
        const error = new WorkerFailedError(String(this.specifier), lastExit);
        this.failure = error;
        this.log.error({ err: error }, "the worker file cannot start; every update sent to distribute now fails with WORKER_FAILED");
        void this.end(() => error, held);
        return false;
    }

    /** A thread showed a sign of life: the worker file loads. */
    lived(): void {
        this.failedStarts = 0;
    }

    status(): DistributeStatus {
        let pending = 0;
        let threads = 0;
        for (const slot of this.slots) {
            pending += slot.held();
            if (slot.alive) threads++;
        }
        for (const lane of this.lanes.values()) pending += lane.length - 1; // the heads are counted at their slots
        const state = this.failure !== undefined ? "failed" : this.closed ? "closed" : "running";
        return { threads, started: this.started, pending, state };
    }

    async close(): Promise<void> {
        this.closed = true;
        await this.end((job) => new WorkerClosedError(job.update.update_id));
    }

    /** Ends every thread and rejects every job (`held`, and those waiting in lanes included). */
    private async end(errorFor: (job: Job) => unknown, held: Job[] = []): Promise<void> {
        const jobs = new Set<Job>(held);
        for (const lane of this.lanes.values()) for (const job of lane) jobs.add(job);
        this.lanes.clear();
        const ending = this.slots.map((slot) => slot.end(jobs));
        for (const job of jobs) job.reject(errorFor(job));
        await Promise.all(ending);
    }

    private slotFor(update: Update, key: string | undefined): ThreadSlot {
        const index = key === undefined ? Math.abs(update.update_id) : hash(key);
        return this.slots[index % this.slots.length]!;
    }
}

/**
 * One thread's place in the pool, across the threads that succeed each
 * other in it. Normally every job given to it is sent at once (`running`).
 * After a death that named nobody, the updates it held become suspects and
 * are sent one at a time (a trial), and new jobs wait in `deferred` until
 * the suspects are cleared or given up.
 */
class ThreadSlot {
    private worker: Worker | undefined;
    private witness: BigInt64Array | undefined;
    /** The current thread said it loaded, or finished an update. */
    private signOfLife = false;
    private lastError: string | undefined;
    private ending = false;
    /** Sent to the current thread and not finished, in the order sent. */
    private readonly running = new Map<number, Job>();
    private suspects: Job[] = [];
    private trial: Job | undefined;
    private deferred: Job[] = [];
    private referenced = false;

    constructor(private readonly pool: ThreadPool) {}

    get alive(): boolean {
        return this.worker !== undefined;
    }

    /** Jobs this slot holds: at its thread, in trial or waiting for the trials to end. */
    held(): number {
        return this.running.size + this.suspects.length + this.deferred.length;
    }

    /** Takes a job whose turn has come (its lane's head, or one without a key). */
    run(job: Job): void {
        if (this.trial !== undefined || this.suspects.length > 0) this.deferred.push(job);
        else this.send(job);
    }

    /** Ends the thread; the jobs it held are added to `jobs` for the caller to reject. */
    async end(jobs: Set<Job>): Promise<void> {
        this.ending = true;
        for (const job of [...this.running.values(), ...this.suspects, ...this.deferred]) jobs.add(job);
        this.running.clear();
        this.suspects = [];
        this.deferred = [];
        this.trial = undefined;
        const worker = this.worker;
        this.worker = undefined;
        await worker?.terminate();
    }

    private send(job: Job): void {
        const worker = this.worker ?? this.spawn();
        this.running.set(job.update.update_id, job);
        worker.postMessage(job.update);
        this.reference();
    }

    private spawn(): Worker {
        const worker = new Worker(this.pool.specifier, {
            workerData: this.pool.me,
            // Tells sluice's BotWorker it may send more than the reference's messages (see worker-protocol.ts).
            env: { ...process.env, [PROTOCOL_ENV]: PROTOCOL_VERSION },
        });
        this.pool.started++;
        this.worker = worker;
        this.referenced = true;
        worker.on("message", (message: unknown) => {
            if (this.worker === worker) this.received(parseWorkerMessage(message));
        });
        worker.on("error", (error: unknown) => {
            if (this.worker !== worker) return;
            const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
            this.lastError = `uncaught exception: ${name}: ${message}`;
        });
        worker.on("exit", (code) => {
            if (this.worker === worker && !this.ending) this.died(code);
        });
        return worker;
    }

    private received(message: WorkerMessage | undefined): void {
        if (message === undefined) return;
        if (typeof message === "object" && message.sluice === "ready") {
            this.witness = new BigInt64Array(message.witness);
            this.signOfLife = true;
            this.pool.lived();
            return;
        }
        const updateId = typeof message === "number" ? message : message.updateId;
        const job = this.running.get(updateId);
        if (job === undefined) return;
        this.running.delete(updateId);
        this.signOfLife = true;
        this.pool.lived();
        this.settle(job, typeof message === "number" ? undefined : new WorkerHandlerFailedError(updateId, message.error));
    }

    /** A job is finished here: its promise settles, its key's next update goes, the trials go on. */
    private settle(job: Job, error: unknown): void {
        if (this.trial === job) this.trial = undefined;
        if (error === undefined) job.resolve();
        else job.reject(error);
        this.pool.finished(job);
        if (this.trial === undefined) this.nextTrial();
        this.reference();
    }

    /**
     * The thread ended by itself. Who is to blame: the update it named (its
     * handler was running the code that ended it), or, if it named nobody,
     * the update it ran alone; with several running and none named, each is
     * tried alone in the next threads.
     */
    private died(code: number): void {
        const description = this.lastError ?? `process.exit(${code})`;
        const culprit = readCulprit(this.witness);
        const lived = this.signOfLife;
        this.worker = undefined;
        this.witness = undefined;
        this.signOfLife = false;
        this.lastError = undefined;
        const held = [...this.running.values()];
        this.running.clear();
        if (!lived) {
            // It never loaded (as far as it told us): nobody is blamed; the worker file may be broken.
            this.pool.log.warn({ exit: description }, "a worker thread ended before it loaded; starting another");
            if (!this.pool.failedStart(description, held)) return;
            for (const job of held) this.send(job);
            return;
        }
        const named = held.find((job) => job.update.update_id === culprit);
        const alone = named ?? (held.length === 1 ? held[0] : undefined);
        this.pool.log.warn(
            { exit: description, updateId: alone?.update.update_id, held: held.length },
            alone === undefined ? "a worker thread died; trying its updates one at a time" : "a worker thread died; starting another",
        );
        if (alone === undefined) {
            // Nobody named: each held update runs alone in turn, and a death then is a strike against it.
            this.suspects = held.concat(this.suspects);
            if (this.trial === undefined) this.nextTrial();
            this.reference();
            return;
        }
        alone.strikes++;
        alone.observed ||= named !== undefined;
        alone.lastExit = description;
        const others = held.filter((job) => job !== alone);
        if (alone.strikes >= this.pool.maxAttempts) {
            const judgement: Judgement = alone.observed ? "observed-exit" : "repeated-hard-deaths";
            this.pool.log.error(
                { updateId: alone.update.update_id, attempts: alone.strikes, judgement, exit: description },
                "update given up: it ended its worker thread maxAttempts times",
            );
            for (const job of others) this.send(job);
            this.settle(
                alone,
                new PoisonUpdateError(alone.update.update_id, { attempts: alone.strikes, judgement, lastExit: description }),
            );
            return;
        }
        if (this.trial === alone || named === undefined) {
            // It ran alone and dies again alone, or it is cleared.
            this.trial = alone;
            this.send(alone);
            return;
        }
        for (const job of held) this.send(job);
    }

    /** Sends the next suspect alone, or, once there are none, everything that waited for the trials. */
    private nextTrial(): void {
        const suspect = this.suspects.shift();
        if (suspect !== undefined) {
            this.trial = suspect;
            this.send(suspect);
            return;
        }
        const deferred = this.deferred;
        this.deferred = [];
        for (const job of deferred) this.send(job);
    }

    /** A thread holds the process open only while it holds updates: a stopped bot's process can exit. */
    private reference(): void {
        const busy = this.held() > 0;
        if (busy === this.referenced || this.worker === undefined) return;
        this.referenced = busy;
        if (busy) this.worker.ref();
        else this.worker.unref();
    }
}

/** FNV-1a: a fast, well-spread 32-bit hash of a key, the same in every process. */
function hash(key: string): number {
    let value = 0x811c9dc5;
    for (let index = 0; index < key.length; index++) {
        value ^= key.charCodeAt(index);
        value = Math.imul(value, 0x01000193);
    }
    return value >>> 0;
}
