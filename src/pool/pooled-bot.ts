import type { Bot, Context } from "grammy";
import type { Update } from "grammy/types";
import type { RunHandle } from "../run/run.js";
import { SluiceError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/**
 * Where a bot of the pool is:
 * - `starting`: its `getMe`, `setup` and the opening of its journal and outbox are under way;
 * - `running`: it polls, and `do()` borrows it at once;
 * - `stopping`: `stop`, `close` or idle collection is draining it; a `do()` now waits and starts it anew;
 * - `failed`: its start or its polling failed (`error` says why); `do()` rejects with that error until `retryAt`,
 *   when a bot kept by `start()` is started again.
 */
export type PoolBotState = "starting" | "running" | "stopping" | "failed";

/** A bot of the pool as `pool.bots()` lists it. Never its token. */
export interface PoolBotInfo {
    /** The bot's id, the number before its token's colon. */
    id: number;
    /** Its username, once `getMe` answered. */
    username: string | undefined;
    state: PoolBotState;
    /** When it entered this state. */
    since: Date;
    /** `do()` calls using it right now; a borrowed bot is never collected. */
    borrows: number;
    /** Started with `pool.start()`: polls until `pool.stop()` or `close()` (again after a failure, when its back-off ends), never collected. */
    kept: boolean;
    /** Why it failed (`failed` only): a `SluiceError` that names no token. */
    error?: Error;
    /** When `do()` or `start()` may try it again (`failed` only). */
    retryAt?: Date;
}

/** A bot that started: the grammY bot and the handle of its `run`. */
export interface StartedBot<C extends Context> {
    bot: Bot<C>;
    handle: RunHandle<Update>;
}

/** How a start ended, as its waiters see it: polling, failed (with the error all of them get), or cancelled by a stop. */
export type StartOutcome = { ok: true } | { ok: false; error: Error } | { ok: false; cancelled: true };

/** What the pool lends an entry: how to start its bot, how failures are judged and timed, and whom to tell. */
export interface PooledBotHooks<C extends Context> {
    /** Builds the bot, calls `getMe` and `setup`, starts `run`. Aborted by a stop, or by `startTimeoutMs`. */
    launch(token: string, signal: AbortSignal): Promise<StartedBot<C>>;
    /** How long a start may take before it counts as failed. */
    startTimeoutMs: number;
    /** How long a stop waits for borrows in progress before stopping the bot under them. */
    stopTimeoutMs: number;
    /** Milliseconds before a bot that failed `failures` times in a row is tried again. */
    retryDelayMs(failures: number): number;
    /** The longest `retryDelayMs` gets: a bot that ran longer than this before failing starts its count again. */
    longestRetryDelayMs: number;
    /** Where a failure is reported. */
    log: Logger;
    /** An error fit to hand to callers and logs: what `launch` or polling threw, without the token. */
    tokenFree(error: unknown, botId: number): Error;
    /** The entry's state or borrows changed (expiry may have moved). */
    changed(entry: PooledBot<C>): void;
    /** The entry is stopped: the pool forgets it before anyone waiting for the stop goes on. */
    gone(entry: PooledBot<C>): void;
}

/** Why a start was aborted. */
type AbortReason = "stop" | "timeout";

/**
 * One bot of the pool and its state machine:
 *
 * ```
 *   (new) ──> starting ──> running ──> stopping ──> stopped (gone from the pool)
 *               ^    │        │           ^
 *     retry,    │    v        v           │ stop(), close(), idle
 *     after the └── failed <──┘ 401, 409  │
 *     back-off        └───────────────────┘ stop(), or forgotten
 * ```
 *
 * Single flight: a start is one promise that every caller waiting for the
 * bot awaits, so concurrent callers cause one `getMe`, and a failure reaches
 * all of them as the same error. Nothing here is shared between bots: a slow
 * start holds up only the callers of that bot.
 */
export class PooledBot<C extends Context> {
    state: PoolBotState | "stopped" = "starting";
    /** Wall-clock time of the last change of state, for people. */
    since = new Date();
    /** `performance.now()` of the last change of state, for deadlines. */
    changedAt = performance.now();
    /** `performance.now()` when the last borrow ended (or the bot started). */
    lastUsed = performance.now();
    borrows = 0;
    kept = false;
    username: string | undefined;
    error: Error | undefined;
    /** `performance.now()` after which a failed bot may be tried again. */
    retryAt = 0;
    private failures = 0;
    private started: StartedBot<C> | undefined;
    private starting: Promise<StartOutcome> | undefined;
    private stopping: Promise<void> | undefined;
    private startAbort: AbortController | undefined;
    private borrowsEnded: (() => void) | undefined;

    constructor(
        /** The full token; only `launch` ever sees it. */
        private readonly token: string,
        readonly botId: number,
        private readonly hooks: PooledBotHooks<C>,
    ) {}

    /** Whether this entry runs `token` (the pool holds one entry per bot id, so another token for it is another secret). */
    holds(token: string): boolean {
        return token === this.token;
    }

    /** Starts the bot (new, or failed and past its back-off). Every waiter gets the outcome of this one start. */
    start(): void {
        this.enter("starting");
        this.error = undefined;
        const abort = new AbortController();
        this.startAbort = abort;
        this.starting = this.launch(abort);
    }

    /** The outcome of the current (or last) start. */
    whenStarted(): Promise<StartOutcome> {
        return this.starting!;
    }

    /** Resolves when the stop under way has ended (the entry is gone from the pool by then). */
    whenStopped(): Promise<void> {
        return this.stopping ?? Promise.resolve();
    }

    /** Lends the running bot to one `do()`; `release` gives it back. */
    borrow(): Bot<C> {
        this.borrows++;
        return this.started!.bot;
    }

    /** A `do()` ended: the bot may become idle (or a stop waiting for borrows may go on). */
    release(): void {
        this.borrows--;
        this.lastUsed = performance.now();
        if (this.borrows > 0) return;
        this.borrowsEnded?.();
        this.hooks.changed(this);
    }

    /** Keeps the bot polling until it is stopped (`pool.start`). */
    keep(): void {
        this.kept = true;
    }

    /**
     * Stops the bot gracefully: a start under way is aborted; a running bot
     * waits for borrows in progress (up to `stopTimeoutMs`), then stops as
     * `handle.stop()` does (drain, confirm the offset, close journal and
     * outbox). Calling it again returns the same promise.
     */
    stop(): Promise<void> {
        switch (this.state) {
            case "starting": {
                const starting = this.starting!;
                this.enter("stopping");
                this.startAbort?.abort("stop" satisfies AbortReason);
                this.stopping = starting.then(() => this.end());
                return this.stopping;
            }
            case "running": {
                const { handle } = this.started!;
                this.enter("stopping");
                this.stopping = this.borrowsDone().then(async () => {
                    await handle.stop();
                    this.end();
                });
                return this.stopping;
            }
            case "failed":
                this.end();
                return Promise.resolve();
            default:
                return this.whenStopped();
        }
    }

    /** What `pool.bots()` shows. */
    info(): PoolBotInfo {
        const info: PoolBotInfo = {
            id: this.botId,
            username: this.username,
            state: this.state === "stopped" ? "stopping" : this.state,
            since: this.since,
            borrows: this.borrows,
            kept: this.kept,
        };
        if (this.state === "failed") {
            info.error = this.error;
            info.retryAt = new Date(Date.now() + Math.max(0, this.retryAt - performance.now()));
        }
        return info;
    }

    private async launch(abort: AbortController): Promise<StartOutcome> {
        const timer = setTimeout(() => abort.abort("timeout" satisfies AbortReason), this.hooks.startTimeoutMs);
        let started: StartedBot<C> | undefined;
        try {
            started = await this.hooks.launch(this.token, abort.signal);
        } catch (error) {
            if (!abort.signal.aborted) return { ok: false, error: this.fail(error) };
        } finally {
            clearTimeout(timer);
            this.startAbort = undefined;
        }
        if (abort.signal.aborted) {
            // Stopped or timed out after `run` began (the abort came in the last await): stop it before going on.
            await started?.handle.stop();
            if (abort.signal.reason === "stop") return { ok: false, cancelled: true };
            const timedOut = new SluiceError(
                "POOL_BOT_FAILED",
                `Bot ${this.botId} did not start within ${this.hooks.startTimeoutMs} ms (its getMe or setup did not finish); ` +
                    "it is tried again after the back-off. Check the API root and the network, or raise `startTimeoutMs`.",
            );
            return { ok: false, error: this.fail(timedOut) };
        }
        this.started = started;
        this.username = started!.bot.botInfo.username;
        this.enter("running");
        this.watchPolling(started!.handle);
        return { ok: true };
    }

    /** Polling that ends without a stop (401, 409, a store that failed) fails the bot; its `run` has closed what it opened. */
    private watchPolling(handle: RunHandle<Update>): void {
        handle.task()?.catch((error: unknown) => {
            if (this.state === "running" && this.started?.handle === handle) this.fail(error);
        });
    }

    /** Enters `failed` with a token-free error and a back-off; returns that error. */
    private fail(error: unknown): Error {
        // A bot that ran for a long time before failing has earned a fresh count.
        if (this.state === "running" && performance.now() - this.changedAt > this.hooks.longestRetryDelayMs) this.failures = 0;
        this.failures++;
        this.started = undefined;
        this.error = this.hooks.tokenFree(error, this.botId);
        const retryInMs = this.hooks.retryDelayMs(this.failures);
        this.retryAt = performance.now() + retryInMs;
        this.enter("failed");
        this.hooks.log.warn(
            { botId: this.botId, err: this.error, retryInMs },
            "bot failed; the next do() or start() after the back-off tries it again",
        );
        return this.error;
    }

    /** Resolves when no borrow is in progress, or after `stopTimeoutMs`. */
    private borrowsDone(): Promise<void> {
        if (this.borrows === 0) return Promise.resolve();
        return new Promise((resolve) => {
            const done = () => {
                clearTimeout(timer);
                this.borrowsEnded = undefined;
                resolve();
            };
            const timer = setTimeout(done, this.hooks.stopTimeoutMs);
            this.borrowsEnded = done;
        });
    }

    private end(): void {
        this.started = undefined;
        this.enter("stopped");
        this.hooks.gone(this);
    }

    private enter(state: PooledBot<C>["state"]): void {
        this.state = state;
        this.since = new Date();
        this.changedAt = performance.now();
        if (state === "running") this.lastUsed = this.changedAt;
        this.hooks.changed(this);
    }
}
