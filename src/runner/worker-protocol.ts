/**
 * What `distribute` (the central bot) and `BotWorker` (a worker thread) say
 * to each other. The base is the reference's protocol, kept so that either
 * side works with the other library's counterpart:
 * - the central bot starts a thread with the bot's `getMe` answer as
 *   `workerData`, and sends each update as it came from Telegram;
 * - the worker answers with the bare `update_id` when it has handled it.
 *
 * sluice adds two messages, sent only to a central bot that announced it
 * understands them (through `PROTOCOL_ENV` in the thread's environment: a
 * reference `BotWorker` would take any extra message from the central bot
 * for an update):
 * - `ready`, once the worker file has built its bot, with the shared memory
 *   in which the thread names the update that ended it (see exit witness);
 * - `failed`, in place of the `update_id`, when the handler threw and the
 *   worker bot has no error handler of its own.
 */
import type { WorkerErrorInfo } from "../shared/errors.js";

/** Set to `PROTOCOL_VERSION` in a thread's environment by sluice's `distribute`. */
export const PROTOCOL_ENV = "SLUICE_DISTRIBUTE_PROTOCOL";
/** The version of the extras below; a worker that does not know it speaks only the reference's protocol. */
export const PROTOCOL_VERSION = "1";

/** The worker file has built its `BotWorker`: a sign of life, and where a dying thread names its culprit. */
export interface ReadyMessage {
    sluice: "ready";
    /** One `BigInt64Array` slot: the update whose handler ended the thread, or `NO_CULPRIT`. */
    witness: SharedArrayBuffer;
}

/** The handler of `updateId` threw, and nothing in the worker handled it. */
export interface FailedMessage {
    sluice: "failed";
    updateId: number;
    error: WorkerErrorInfo;
}

/** What a worker sends: a bare `update_id` means "done", as in the reference. */
export type WorkerMessage = number | ReadyMessage | FailedMessage;

/** The witness slot's value while no handler has ended the thread. */
export const NO_CULPRIT = -1n;

/** A fresh witness slot, shared between a thread and the central bot. */
export function createWitnessSlot(): BigInt64Array {
    const slot = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT));
    Atomics.store(slot, 0, NO_CULPRIT);
    return slot;
}

/** The update a thread named as it ended, if it named one. */
export function readCulprit(slot: BigInt64Array | undefined): number | undefined {
    if (slot === undefined) return undefined;
    const value = Atomics.load(slot, 0);
    return value === NO_CULPRIT ? undefined : Number(value);
}

/** An error, as much of it as can cross a thread boundary and still read well. */
export function errorInfo(error: unknown): WorkerErrorInfo {
    try {
        if (error instanceof Error) {
            return { name: error.name, message: error.message, ...(error.stack === undefined ? {} : { stack: error.stack }) };
        }
        return { name: "Error", message: String(error) };
    } catch {
        return { name: "Error", message: "an error that cannot be printed" };
    }
}

/** Reads a message from a worker; `undefined` for anything this protocol does not know (ignored). */
export function parseWorkerMessage(message: unknown): WorkerMessage | undefined {
    if (typeof message === "number") return message;
    if (typeof message !== "object" || message === null) return undefined;
    const kind = (message as { sluice?: unknown }).sluice;
    if (kind === "ready" && (message as ReadyMessage).witness instanceof SharedArrayBuffer) return message as ReadyMessage;
    if (kind === "failed" && typeof (message as FailedMessage).updateId === "number") return message as FailedMessage;
    return undefined;
}
