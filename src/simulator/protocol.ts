import type { SluiceErrorCode } from "../shared/errors.js";
import type { SimulatorOptions } from "./simulator.js";

/**
 * The IPC protocol between `forkSimulator` (parent) and `child.ts` (the
 * simulator's process). Each request carries an id; the child answers every
 * request with the same id, so the parent can have many in flight.
 */

/** Simulator methods the child runs on request, with their arguments. */
export const REMOTE_OPERATIONS = [
    "createBot",
    "pushUpdate",
    "pushUpdates",
    "pushMessage",
    "pushMessages",
    "pushCallbackQuery",
    "calls",
    "sent",
    "clearCalls",
    "pending",
    "confirmedOffset",
    "stats",
    "setWebhook",
    "deleteWebhook",
    "blockChat",
    "setChatState",
    "setLimits",
    "setFaults",
    "failNext",
    "delayNext",
    "revokeToken",
    "waitForCalls",
    "waitForDrain",
] as const;

/** A simulator method callable over IPC. */
export type RemoteOperation = (typeof REMOTE_OPERATIONS)[number];

/** Parent → child. */
export type RemoteRequest =
    | { id: number; type: "start"; options: RemoteSimulatorOptions }
    | { id: number; type: "close" }
    | { id: number; type: RemoteOperation; args: unknown[] };

/** Child → parent. */
export type RemoteResponse =
    | { id: number; ok: true; value: unknown }
    | { id: number; ok: false; error: { message: string; code?: SluiceErrorCode } };

/** Options of a simulator in another process: those of `createSimulator` that can cross a process boundary. */
export type RemoteSimulatorOptions = Omit<SimulatorOptions, "clock">;
