import { Fifo } from "../shared/fifo.js";
import { type Constraint, keysFrom } from "./constraint.js";

/**
 * Told that an update ran longer than the sink's timeout. By the time it is
 * called, the update's concurrency slot and its lanes have already been
 * released, so the next update of the same chat is running; `task` is the
 * handler's still-pending promise.
 */
export type TimeoutHandler<Y> = (update: Y, task: Promise<void>, info: TimeoutInfo) => void;

/** What the timeout handler learns besides the update and its task. */
export interface TimeoutInfo {
    /** The timeout that elapsed, in milliseconds. */
    milliseconds: number;
    /** The constraint keys whose lanes were released. */
    keys: readonly string[];
}

/** How a `Lanes` scheduler runs its updates. */
export interface LanesOptions<Y> {
    /** Runs one update; the promise settles when its handling has ended. */
    consume: (update: Y) => Promise<void>;
    /** Called (and awaited, while the update still holds its slot) when `consume` rejects. */
    onError: (error: unknown, update: Y) => unknown;
    /** Maximum number of handlers running at once. */
    concurrency: number;
    /** Keys an update must be ordered by; `undefined` leaves every update unconstrained. */
    constraint?: Constraint<Y>;
    /** Per-update timeout; `Infinity` disables it. */
    timeoutMs: number;
    onTimeout: TimeoutHandler<Y>;
}

interface Task<Y> {
    readonly update: Y;
    readonly seq: number;
    readonly keys: string[];
    /** Lanes in which an earlier update is still ahead of this one. */
    blockers: number;
    startedAt: number;
    /** The handler's promise, once started. */
    work: Promise<void> | undefined;
    /** Neighbours in the list of running tasks, oldest first (for timeouts). */
    prev: Task<Y> | undefined;
    next: Task<Y> | undefined;
    state: "waiting" | "ready" | "running" | "done";
}

/**
 * The scheduler under the sinks. Each constraint key has a lane, a FIFO of the
 * pending updates that carry that key; an update may start only when it heads
 * every one of its lanes, so updates of one chat run in arrival order while
 * other chats pass them by. Only running handlers count against
 * `concurrency`: an update that waits for its chat holds no slot, which is why
 * one flooding chat cannot stall the rest.
 */
export class Lanes<Y> {
    /**
     * A lane holding one update (the common case: most chats have nothing
     * queued) is stored as that task itself; a queue is made only when a
     * second update arrives. This keeps an allocation off every update.
     */
    private readonly lanes = new Map<string, Task<Y> | Fifo<Task<Y>>>();
    private readonly ready = new Fifo<Task<Y>>();
    private oldestRunning: Task<Y> | undefined;
    private newestRunning: Task<Y> | undefined;
    private running = 0;
    private pendingCount = 0;
    private seq = 0;
    private closed = false;
    private startScheduled = false;
    private timer: NodeJS.Timeout | undefined;
    private changeWaiters: (() => void)[] = [];

    constructor(private readonly options: LanesOptions<Y>) {}

    /** Updates accepted and not yet finished: running plus waiting. */
    get pending(): number {
        return this.pendingCount;
    }

    /** Updates whose handler is running now (not counting those released by their timeout). */
    get runningCount(): number {
        return this.running;
    }

    /** Accepts an update; it starts as soon as its lanes and a slot allow. Reopens a closed scheduler. */
    push(update: Y): void {
        this.closed = false;
        const keys = this.options.constraint === undefined ? [] : keysFrom(this.options.constraint(update));
        const task: Task<Y> = {
            update,
            seq: this.seq++,
            keys,
            blockers: 0,
            startedAt: 0,
            work: undefined,
            prev: undefined,
            next: undefined,
            state: "waiting",
        };
        this.pendingCount++;
        for (const key of keys) {
            const lane = this.lanes.get(key);
            if (lane === undefined) {
                this.lanes.set(key, task);
                continue;
            }
            task.blockers++;
            if (lane instanceof Fifo) {
                lane.push(task);
            } else {
                const queue = new Fifo<Task<Y>>();
                queue.push(lane);
                queue.push(task);
                this.lanes.set(key, queue);
            }
        }
        if (task.blockers === 0) {
            task.state = "ready";
            this.ready.push(task);
            this.scheduleStart();
        }
    }

    /** Stops starting updates until the next `push`; waiting ones stay pending (see `snapshot`). */
    close(): void {
        this.closed = true;
    }

    /** Resolves once `pending` is at most `limit` (immediately if it already is). */
    async pendingAtMost(limit: number): Promise<void> {
        while (this.pendingCount > limit) {
            await new Promise<void>((resolve) => this.changeWaiters.push(resolve));
        }
    }

    /** Every pending update, in the order it was accepted. */
    snapshot(): Y[] {
        const tasks = new Set<Task<Y>>();
        for (let t = this.oldestRunning; t !== undefined; t = t.next) tasks.add(t);
        for (const t of this.ready.toArray()) tasks.add(t);
        for (const lane of this.lanes.values()) {
            for (const t of lane instanceof Fifo ? lane.toArray() : [lane]) if (t.state !== "done") tasks.add(t);
        }
        return [...tasks].sort((a, b) => a.seq - b.seq).map((t) => t.update);
    }

    /**
     * New updates start on the next turn of the event loop, not inside
     * `push`: the runner sends its next `getUpdates` right after handing a
     * batch over, and handlers that run to completion in microtasks would
     * otherwise delay that request until the whole batch was handled. This
     * way fetching the next batch overlaps handling the current one.
     */
    private scheduleStart(): void {
        if (this.startScheduled) return;
        this.startScheduled = true;
        setImmediate(() => {
            this.startScheduled = false;
            this.startReady();
        });
    }

    private makeReady(task: Task<Y>): void {
        if (!this.closed && this.running < this.options.concurrency) {
            this.start(task);
        } else {
            task.state = "ready";
            this.ready.push(task);
        }
    }

    private start(task: Task<Y>): void {
        task.state = "running";
        this.running++;
        if (this.options.timeoutMs !== Infinity) {
            task.startedAt = performance.now();
            task.prev = this.newestRunning;
            if (this.newestRunning === undefined) this.oldestRunning = task;
            else this.newestRunning.next = task;
            this.newestRunning = task;
            this.timer ??= this.armTimer(this.options.timeoutMs);
        }
        try {
            task.work = this.options.consume(task.update);
        } catch (error) {
            task.work = Promise.reject(error);
        }
        task.work.then(
            () => this.finish(task),
            async (error: unknown) => {
                try {
                    await this.options.onError(error, task.update);
                } finally {
                    this.finish(task);
                }
            },
        );
    }

    /** Ends a task: frees its slot, pops it off its lanes, starts what it unblocked. */
    private finish(task: Task<Y>): void {
        if (task.state !== "running") return; // already released by its timeout
        task.state = "done";
        this.running--;
        this.pendingCount--;
        this.unlinkRunning(task);
        for (const key of task.keys) {
            const lane = this.lanes.get(key);
            if (!(lane instanceof Fifo)) {
                this.lanes.delete(key); // the task was alone in its lane
                continue;
            }
            lane.shift();
            const next = lane.peek();
            if (next === undefined) this.lanes.delete(key);
            else if (--next.blockers === 0) this.makeReady(next);
        }
        this.startReady();
        if (this.changeWaiters.length > 0) {
            const waiters = this.changeWaiters;
            this.changeWaiters = [];
            for (const wake of waiters) wake();
        }
    }

    private startReady(): void {
        while (!this.closed && this.running < this.options.concurrency) {
            const next = this.ready.shift();
            if (next === undefined) break;
            this.start(next);
        }
    }

    private unlinkRunning(task: Task<Y>): void {
        if (this.options.timeoutMs === Infinity) return;
        if (task.prev === undefined) this.oldestRunning = task.next;
        else task.prev.next = task.next;
        if (task.next === undefined) this.newestRunning = task.prev;
        else task.next.prev = task.prev;
        task.prev = task.next = undefined;
    }

    /**
     * One timer for all running tasks: it fires for the oldest one and re-arms
     * for whichever is oldest then, so timeouts cost nothing per update. It is
     * unref'd: an idle sink never keeps the process alive.
     */
    private armTimer(delayMs: number): NodeJS.Timeout {
        const timer = setTimeout(() => this.expire(), Math.max(0, delayMs));
        timer.unref();
        return timer;
    }

    private expire(): void {
        this.timer = undefined;
        const { timeoutMs } = this.options;
        const now = performance.now();
        let task = this.oldestRunning;
        while (task !== undefined && now - task.startedAt >= timeoutMs) {
            const expired = task;
            task = task.next;
            this.timeOut(expired);
        }
        if (this.oldestRunning !== undefined) {
            this.timer = this.armTimer(this.oldestRunning.startedAt + timeoutMs - now);
        }
    }

    private timeOut(task: Task<Y>): void {
        const { timeoutMs, onTimeout } = this.options;
        this.finish(task);
        onTimeout(task.update, task.work ?? Promise.resolve(), { milliseconds: timeoutMs, keys: task.keys });
    }
}
