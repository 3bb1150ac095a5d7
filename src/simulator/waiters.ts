/**
 * `sim.waitFor` and the helpers built on it: promises that settle once a
 * condition holds. A test waits for what its bot did instead of sleeping,
 * so it is as fast as the bot and fails with a message instead of flaking.
 */
import { SluiceError } from "../shared/errors.js";

/** Options of the `waitFor*` helpers. */
export interface WaitOptions {
    /** Reject after this many ms. @default 5000 */
    timeoutMs?: number;
}

const DEFAULT_WAIT_MS = 5000;
// Conditions are re-checked on every simulator event and, for conditions over
// state outside the simulator (a handler's array), at this interval.
const WAIT_INTERVAL_MS = 10;

interface Waiter {
    /** Settles the wait if its condition holds; `true` when it is settled. */
    check(): boolean;
    reject(error: Error): void;
}

/** The pending waits of one simulator. */
export class Waiters {
    private readonly waiting = new Set<Waiter>();
    private ticker: NodeJS.Timeout | undefined;
    private closed = false;

    /**
     * Resolves with the first truthy value of `predicate`, checked now, on
     * every `check()` and every few ms; rejects after `timeoutMs`, when
     * `predicate` throws, or when the simulator closes.
     */
    wait<T>(predicate: () => T | false | undefined | null, options: WaitOptions = {}): Promise<T> {
        const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
        return new Promise<T>((resolve, reject) => {
            if (this.closed) return reject(closedError());
            let timer: NodeJS.Timeout | undefined;
            const waiter: Waiter = {
                check: () => {
                    let value: T | false | undefined | null;
                    try {
                        value = predicate();
                    } catch (error) {
                        waiter.reject(error as Error);
                        return true;
                    }
                    if (!value) return false;
                    this.drop(waiter, timer);
                    resolve(value);
                    return true;
                },
                reject: (error) => {
                    this.drop(waiter, timer);
                    reject(error);
                },
            };
            if (waiter.check()) return;
            timer = setTimeout(
                () => waiter.reject(new SluiceError("SIMULATOR_TIMEOUT", `waitFor: condition not met within ${timeoutMs} ms`)),
                timeoutMs,
            );
            this.waiting.add(waiter);
            this.ticker ??= setInterval(() => this.check(), WAIT_INTERVAL_MS);
        });
    }

    /** Re-checks every pending condition; the simulator calls it after each of its events. */
    check(): void {
        if (this.waiting.size === 0) return;
        for (const waiter of [...this.waiting]) waiter.check();
    }

    /** Rejects every pending wait, and every later one, because the simulator closed. */
    close(): void {
        this.closed = true;
        for (const waiter of [...this.waiting]) waiter.reject(closedError());
    }

    private drop(waiter: Waiter, timer: NodeJS.Timeout | undefined): void {
        clearTimeout(timer);
        this.waiting.delete(waiter);
        if (this.waiting.size === 0 && this.ticker !== undefined) {
            clearInterval(this.ticker);
            this.ticker = undefined;
        }
    }
}

function closedError(): SluiceError {
    return new SluiceError("SIMULATOR_CLOSED", "The simulator was closed.");
}
