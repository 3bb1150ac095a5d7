import type { Logger } from "../shared/logger.js";
import { type Failure, classifyFailure } from "./failure.js";
import type { Limiter } from "./limiter.js";
import type { OutboxQueue, QueuedMessage } from "./queue.js";

/** Sends one API call; grammY's `api.raw[method](payload)`. */
export type SendCall = (method: string, payload: Record<string, unknown>) => Promise<unknown>;

/** What happened to a message the dispatcher finished with. */
export type Outcome = { sent: true; result: unknown } | { sent: false; errorClass: string; description: string };

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
    onOutcome: (id: number, outcome: Outcome) => void;
}

/** Priority classes in the order the 5 : 3 : 1 rotation serves them. */
const ROTATION = [0, 0, 0, 0, 0, 1, 1, 1, 2];
const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 60_000;

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
    private rotation = 0;
    private timer: NodeJS.Timeout | undefined;
    private running = false;
    private idle: (() => void)[] = [];
    private nudged = false;

    constructor(private readonly options: DispatcherOptions) {}

    /** Starts sending. */
    start(): void {
        this.running = true;
        this.wake();
    }

    /** Stops starting sends; resolves when none is in flight. */
    async stop(): Promise<void> {
        this.running = false;
        clearTimeout(this.timer);
        this.timer = undefined;
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
        send(message.method, message.payload).then(
            (result) => this.settle(message, { sent: true, result }),
            (error: unknown) => this.failed(message, classifyFailure(error)),
        );
    }

    private failed(message: QueuedMessage, failure: Failure): void {
        const { clock, limiter, queue, maxRetries, log } = this.options;
        const now = clock();
        if (failure.kind === "permanent") {
            this.settle(message, { sent: false, errorClass: failure.errorClass, description: failure.description });
            return;
        }
        if (failure.kind === "flood") {
            limiter.retryAfter(message.chat, failure.retryAfterSeconds, now);
            message.attempts--; // waiting out a 429 is not a failed attempt
            message.notBefore = now + failure.retryAfterSeconds * 1000;
        } else if (message.attempts > maxRetries) {
            this.settle(message, { sent: false, errorClass: "retries_exhausted", description: failure.description });
            return;
        } else {
            const backoff = Math.min(FIRST_RETRY_MS * 2 ** (message.attempts - 1), LONGEST_RETRY_MS);
            message.notBefore = now + backoff * (0.5 + Math.random()); // jitter: retries of many chats spread out
            log.warn({ messageId: message.id, attempt: message.attempts, error: failure.description }, "send failed; will retry");
        }
        queue.reschedule(message);
        this.release(message.chat);
    }

    private settle(message: QueuedMessage, outcome: Outcome): void {
        const { queue, clock } = this.options;
        if (outcome.sent) queue.markSent(message, outcome.result, clock());
        else queue.markDead(message, outcome.errorClass, outcome.description, clock());
        this.release(message.chat);
        this.options.onOutcome(message.id, outcome);
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
