import { setMaxListeners } from "node:events";
import { backoffMs } from "../shared/backoff.js";
import type { SendFailure } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { type Busy, busyIn, ReadyWindow } from "../shared/ready-window.js";
import { settlesWithin } from "../shared/timing.js";
import { Wakeup } from "../shared/wakeup.js";
import { classifyFailure, type Failure } from "./failure.js";
import type { Limiter } from "./limiter.js";
import type { HeadRef, OutboxQueue, QueuedMessage } from "./queue.js";

/** Sends one API call, cancelled when `signal` aborts; grammY's `api.raw[method](payload, signal)`. */
export type SendCall = (method: string, payload: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>;

/** How a message the dispatcher finished with ended: sent with Telegram's result, or given up. */
export type SendResult = { sent: true; result: unknown } | { sent: false; failure: SendFailure };

/** Told how sends end, as they end (the outbox's metrics count them). */
export interface SendEvents {
    /** Telegram accepted a `method` call. */
    sent(method: string): void;
    /** A message was given up, for this class of error. */
    failed(errorClass: string): void;
    /** A send failed transiently and goes again after a backoff. */
    retried(): void;
    /** Telegram answered 429; the message waits out its `retry_after`. */
    flooded(): void;
}

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
    /** Told when a message went back to the queue after its send (a 429, a retry, a migrated group). */
    onReturned: (message: QueuedMessage) => void;
    /** Told how each send ended, when someone counts. */
    events?: SendEvents;
    /** Told when Telegram rejected the token: the dispatcher has stopped, and `failure` says why. */
    onUnauthorized: (failure: SendFailure) => void;
}

/** Priority classes in the order the 5 : 3 : 1 rotation serves them. */
const ROTATION = [0, 0, 0, 0, 0, 1, 1, 1, 2];
const FIRST_RETRY_MS = 500;
const PRIORITY_CLASSES = 3;

/**
 * The sending loop. Each turn it takes ready chat heads from the window
 * (see `ReadyWindow`), one priority class at a time in a 5:3:1 rotation (a
 * class with nothing ready yields its turn, so nothing starves and nothing
 * idles), checks each against the store and the limits, and sends while the
 * bot's bucket admits and fewer than `maxInFlight` calls are out. When
 * nothing is ready it sleeps until the earliest moment something will be.
 * One call per chat is in flight at a time, so a chat's messages leave in
 * order, retries included. A turn's cost does not depend on how many
 * messages or chats are queued.
 */
export class Dispatcher {
    /** Chats with a call in flight, and that call's message id. */
    private readonly inFlight = new Map<string, number>();
    /** The window skips heads of chats in flight. */
    private readonly busy: Busy<HeadRef>;
    private readonly window: ReadyWindow<HeadRef>;
    private readonly wakeup: Wakeup;
    /** Cancels the sends in flight when a stop runs out of time. */
    private aborter = new AbortController();
    private rotation = 0;
    private idle: (() => void)[] = [];

    constructor(private readonly options: DispatcherOptions) {
        const { queue } = options;
        this.window = new ReadyWindow<HeadRef>(
            {
                ready: (priority, now, limit) => queue.readyHeads(priority, now, limit),
                nextReadyAt: (p, after) => queue.nextReadyAt(p, after),
            },
            PRIORITY_CLASSES,
        );
        this.busy = busyIn(this.inFlight, (head: HeadRef) => head.chat);
        this.wakeup = new Wakeup(
            (now) => this.turn(now),
            options.clock,
            (error) => options.log.error({ err: error }, "could not read the queue; trying again in a second"),
        );
    }

    /** Starts sending. */
    start(): void {
        this.aborter = new AbortController();
        // Every call in flight listens to this signal (grammY adds one listener a call and removes it after).
        setMaxListeners(this.options.maxInFlight + 10, this.aborter.signal);
        this.window.reset();
        this.wakeup.start();
    }

    /**
     * Stops starting sends and waits up to `timeoutMs` for those in flight;
     * then cancels them. A cancelled send stays queued and goes again on the
     * next start (if Telegram had already accepted it, that is a second
     * copy: the outbox's at-least-once edge).
     */
    async stop(timeoutMs: number): Promise<void> {
        this.wakeup.stop();
        if (await settlesWithin(this.whenIdle(), timeoutMs)) return;
        this.aborter.abort();
        await this.whenIdle();
    }

    private async whenIdle(): Promise<void> {
        while (this.inFlight.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    }

    /** How many calls are being sent right now. */
    get inFlightCount(): number {
        return this.inFlight.size;
    }

    /** Whether a message is being sent right now. */
    isInFlight(id: number): boolean {
        for (const sending of this.inFlight.values()) if (sending === id) return true;
        return false;
    }

    /** Looks for work on the next turn of the event loop. */
    nudge(): void {
        this.wakeup.nudge();
    }

    /** The queue wrote a head: look again if it is ready before the next planned look. */
    headWritten(priority: number, readyAt: number): void {
        this.window.written(priority, readyAt);
        this.wakeup.dueAt(readyAt);
    }

    /**
     * Another connection wrote to the queue (the `sluice` command): any
     * class may hold a head ready now, so each is read again when its window
     * runs out, and a turn runs soon.
     */
    storeChanged(): void {
        const now = this.options.clock();
        for (let priority = 0; priority < PRIORITY_CLASSES; priority++) this.window.written(priority, now);
        this.wakeup.nudge();
    }

    /** Sends what is ready at `now`; returns when to look again. */
    private turn(now: number): number {
        const { maxInFlight } = this.options;
        let wakeAt = Infinity;
        while (this.inFlight.size < maxInFlight) {
            const pick = this.pick(now);
            wakeAt = pick.wakeAt;
            if (pick.message === undefined) break;
            this.send(pick.message, now);
        }
        // With maxInFlight calls out, a finishing one nudges; nothing to plan.
        return this.inFlight.size >= maxInFlight ? Infinity : wakeAt;
    }

    /** The next message to send now, or the earliest time one may be ready. */
    private pick(now: number): { message?: QueuedMessage; wakeAt: number } {
        let wakeAt = Infinity;
        const tried = [false, false, false];
        for (let turn = 0; turn < ROTATION.length; turn++) {
            const priority = ROTATION[(this.rotation + turn) % ROTATION.length]!;
            if (tried[priority]) continue;
            tried[priority] = true;
            const found = this.takeReady(priority, now);
            if (found.message !== undefined) {
                this.rotation = (this.rotation + turn + 1) % ROTATION.length;
                return { message: found.message, wakeAt: now };
            }
            wakeAt = Math.min(wakeAt, found.wakeAt);
        }
        return { wakeAt };
    }

    /** The first head of `priority` the store and limits admit now; stale heads and chats not yet admitted are passed over. */
    private takeReady(priority: number, now: number): { message?: QueuedMessage; wakeAt: number } {
        const { queue, limiter } = this.options;
        for (let head = this.window.peek(priority, now, this.busy); head !== undefined; ) {
            const message = this.inFlight.has(head.chat) ? undefined : queue.readyHead(head.chat, now);
            const chatWaitMs = message === undefined ? 0 : limiter.chatWaitMs(message.chat, now);
            if (message !== undefined && chatWaitMs === 0) {
                const globalWaitMs = limiter.globalWaitMs(isPaid(message), now);
                // Stays in the window: it is next once the bot's bucket admits it.
                if (globalWaitMs > 0) return { wakeAt: now + globalWaitMs };
                this.window.drop(priority);
                return { message, wakeAt: now };
            }
            this.window.drop(priority);
            // Its chat's bucket holds it back (a call outside the queue used it): ready again when it admits.
            if (chatWaitMs > 0) queue.delayHead(head.chat, now + chatWaitMs);
            head = this.window.peek(priority, now, this.busy);
        }
        return { wakeAt: this.window.readyAt(priority) };
    }

    private send(message: QueuedMessage, now: number): void {
        const { limiter, send, clock } = this.options;
        limiter.consume(message.chat, isPaid(message), now);
        this.inFlight.set(message.chat, message.id);
        message.attempts++;
        const { signal } = this.aborter;
        send(message.method, message.payload, signal)
            .then(
                (result) => {
                    limiter.answered(message.chat, clock());
                    this.finish(message, { sent: true, result });
                },
                (error: unknown) => {
                    if (signal.aborted) return this.release(message.chat);
                    limiter.answered(message.chat, clock());
                    this.failed(message, classifyFailure(error));
                },
            )
            .catch((error: unknown) => {
                // The store failed to record how the send ended: the message stays queued (and may go again).
                this.options.log.error({ err: error, messageId: message.id }, "could not record a send's end");
                this.release(message.chat);
            });
    }

    private failed(message: QueuedMessage, failure: Failure): void {
        const { clock, limiter, queue, maxRetries, log } = this.options;
        const now = clock();
        switch (failure.kind) {
            case "unauthorized":
                // Every message would fail the same way: stop, and keep them all queued for a good token.
                this.wakeup.stop();
                this.release(message.chat);
                this.options.onUnauthorized(failure.cause);
                return;
            case "migrated":
                // Not an attempt: the chat moved, and its whole queue follows it, in order.
                message.attempts--;
                queue.moveChat(message.chat, failure.migrateTo!, now);
                log.info({ from: message.chat, to: failure.migrateTo }, "group became a supergroup; its queue moved");
                this.options.onReturned(message);
                break;
            case "flood":
                this.options.events?.flooded();
                limiter.retryAfter(message.chat, failure.retryAfterSeconds, now);
                message.attempts--; // waiting out a 429 is not a failed attempt
                message.notBefore = now + failure.retryAfterSeconds * 1000;
                queue.reschedule(message);
                this.options.onReturned(message);
                break;
            case "transient":
                if (message.attempts > maxRetries) {
                    this.finish(message, { sent: false, failure: failure.cause });
                    return;
                }
                this.options.events?.retried();
                // Jitter: retries of many chats that failed together spread out.
                message.notBefore = now + backoffMs(message.attempts, "exponential", FIRST_RETRY_MS, { jitter: "spread" });
                log.warn({ messageId: message.id, attempt: message.attempts, error: failure.cause.description }, "send failed; will retry");
                queue.reschedule(message);
                this.options.onReturned(message);
                break;
            case "permanent":
                this.finish(message, { sent: false, failure: failure.cause });
                return;
        }
        this.release(message.chat);
    }

    private finish(message: QueuedMessage, result: SendResult): void {
        const { queue, clock, limiter } = this.options;
        const now = clock();
        const chatReadyAt = now + limiter.chatWaitMs(message.chat, now);
        if (result.sent) queue.markSent(message, result.result, now, chatReadyAt);
        else queue.markDead(message, result.failure, now, chatReadyAt);
        this.release(message.chat);
        if (result.sent) this.options.events?.sent(message.method);
        else this.options.events?.failed(result.failure.errorClass);
        this.options.onFinished(message.id, result);
    }

    private release(chat: string): void {
        this.inFlight.delete(chat);
        if (this.inFlight.size === 0 && this.idle.length > 0) {
            for (const resolve of this.idle.splice(0)) resolve();
        }
        this.wakeup.nudge();
    }
}

function isPaid(message: QueuedMessage): boolean {
    return message.payload.allow_paid_broadcast === true;
}
