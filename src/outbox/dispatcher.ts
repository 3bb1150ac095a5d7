import { backoffMs } from "../shared/backoff.js";
import type { SendFailure } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { settlesWithin } from "../shared/timing.js";
import { classifyFailure, type Failure } from "./failure.js";
import type { Limiter } from "./limiter.js";
import type { OutboxQueue, QueuedMessage } from "./queue.js";

/** Sends one API call, cancelled when `signal` aborts; grammY's `api.raw[method](payload, signal)`. */
export type SendCall = (method: string, payload: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>;

/** How a message the dispatcher finished with ended: sent with Telegram's result, or given up. */
export type SendResult = { sent: true; result: unknown } | { sent: false; failure: SendFailure };

/** How the dispatcher works. */
export interface DispatcherOptions {
    send: SendCall;
    queue: OutboxQueue;
    limiter: Limiter;
    clock: () => number;
    maxRetries: number;
    maxInFlight: number;
    log: Logger;
    /** Told when a message is sent or given up. */
    onFinished: (id: number, result: SendResult) => void;
}

/** Priority classes in the order the 5 : 3 : 1 rotation serves them. */
const ROTATION = [0, 0, 0, 0, 0, 1, 1, 1, 2];
const FIRST_RETRY_MS = 500;

/**
 * The sending loop. Each turn it looks at the head message of every chat
 * with nothing in flight, keeps those whose time has come and whose chat and
 * the bot's buckets admit them, and sends one per priority class in a 5:3:1
 * rotation (a class with nothing ready yields its turn, so nothing starves
 * and nothing idles). When nothing is ready it sleeps until the earliest
 * moment something will be. One call per chat is in flight at a time, so a
 * chat's messages leave in order, retries included.
 */
export class Dispatcher {
    private readonly inFlight = new Set<string>();
    /** Cancels the sends in flight when a stop runs out of time. */
    private aborter = new AbortController();
    private rotation = 0;
    private timer: NodeJS.Timeout | undefined;
    private running = false;
    private idle: (() => void)[] = [];
    private nudged = false;

    constructor(private readonly options: DispatcherOptions) {}

    /** Starts sending. */
    start(): void {
        this.running = true;
        this.aborter = new AbortController();
        this.wake();
    }

    /**
     * Stops starting sends and waits up to `timeoutMs` for those in flight;
     * then cancels them. A cancelled send stays queued and goes again on the
     * next start (if Telegram had already accepted it, that is a second
     * copy: the outbox's at-least-once edge).
     */
    async stop(timeoutMs: number): Promise<void> {
        this.running = false;
        clearTimeout(this.timer);
        this.timer = undefined;
        if (await settlesWithin(this.whenIdle(), timeoutMs)) return;
        this.aborter.abort();
        await this.whenIdle();
    }

    private async whenIdle(): Promise<void> {
        while (this.inFlight.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    }

    /** Whether a message is being sent right now. */
    isInFlight(message: QueuedMessage): boolean {
        return this.inFlight.has(message.chat) && this.options.queue.chats.get(message.chat)?.peek() === message;
    }

    /**
     * Looks for work on the next turn of the event loop. A scan looks at
     * every chat with queued messages, so a burst of enqueues or of finished
     * sends is answered with one scan, not one each.
     */
    nudge(): void {
        if (this.nudged || !this.running) return;
        this.nudged = true;
        setImmediate(() => {
            this.nudged = false;
            this.wake();
        });
    }

    /** Looks for work now. */
    private wake(): void {
        if (!this.running) return;
        clearTimeout(this.timer);
        this.timer = undefined;
        const { clock, maxInFlight } = this.options;
        const now = clock();
        let wakeAt = Infinity;
        while (this.inFlight.size < maxInFlight) {
            const pick = this.pick(now);
            wakeAt = pick.wakeAt;
            if (pick.message === undefined) break;
            this.send(pick.message, now);
        }
        if (wakeAt !== Infinity) {
            // Not unref'd: queued messages keep the process alive until sent or the outbox stops.
            this.timer = setTimeout(() => this.wake(), Math.max(1, wakeAt - now));
        }
    }

    /** The next message to send now, or the earliest time one will be ready. */
    private pick(now: number): { message?: QueuedMessage; wakeAt: number } {
        const { queue, limiter } = this.options;
        const ready: (QueuedMessage | undefined)[] = [undefined, undefined, undefined];
        let wakeAt = Infinity;
        for (const [chat, fifo] of queue.chats) {
            if (this.inFlight.has(chat)) continue;
            const head = fifo.peek()!;
            if (ready[head.priority] !== undefined) continue;
            const waitMs = Math.max(head.notBefore - now, limiter.waitMs(chat, isPaid(head), now));
            if (waitMs > 0) wakeAt = Math.min(wakeAt, now + waitMs);
            else ready[head.priority] = head;
        }
        for (let turn = 0; turn < ROTATION.length; turn++) {
            const message = ready[ROTATION[(this.rotation + turn) % ROTATION.length]!];
            if (message === undefined) continue;
            this.rotation = (this.rotation + turn + 1) % ROTATION.length;
            return { message, wakeAt: now };
        }
        return { wakeAt };
    }

    private send(message: QueuedMessage, now: number): void {
        const { limiter, send } = this.options;
        limiter.consume(message.chat, isPaid(message), now);
        this.inFlight.add(message.chat);
        message.attempts++;
        const { signal } = this.aborter;
        send(message.method, message.payload, signal).then(
            (result) => this.finish(message, { sent: true, result }),
            (error: unknown) => (signal.aborted ? this.release(message.chat) : this.failed(message, classifyFailure(error))),
        );
    }

    private failed(message: QueuedMessage, failure: Failure): void {
        const { clock, limiter, queue, maxRetries, log } = this.options;
        const now = clock();
        if (failure.kind === "permanent" || (failure.kind === "transient" && message.attempts > maxRetries)) {
            this.finish(message, { sent: false, failure: failure.cause });
            return;
        }
        if (failure.kind === "flood") {
            limiter.retryAfter(message.chat, failure.retryAfterSeconds, now);
            message.attempts--; // waiting out a 429 is not a failed attempt
            message.notBefore = now + failure.retryAfterSeconds * 1000;
        } else {
            // Jitter: retries of many chats that failed together spread out.
            message.notBefore = now + backoffMs(message.attempts, "exponential", FIRST_RETRY_MS, Math.random);
            log.warn({ messageId: message.id, attempt: message.attempts, error: failure.cause.description }, "send failed; will retry");
        }
        queue.reschedule(message);
        this.release(message.chat);
    }

    private finish(message: QueuedMessage, result: SendResult): void {
        const { queue, clock } = this.options;
        if (result.sent) queue.markSent(message, result.result, clock());
        else queue.markDead(message, result.failure, clock());
        this.release(message.chat);
        this.options.onFinished(message.id, result);
    }

    private release(chat: string): void {
        this.inFlight.delete(chat);
        if (this.inFlight.size === 0 && this.idle.length > 0) {
            for (const resolve of this.idle.splice(0)) resolve();
        }
        this.nudge();
    }
}

function isPaid(message: QueuedMessage): boolean {
    return message.payload.allow_paid_broadcast === true;
}
