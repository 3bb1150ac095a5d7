/**
 * The events a simulator emits, for tests that react to traffic as it
 * happens rather than inspecting it afterwards.
 */
import { EventEmitter } from "node:events";
import type { Update } from "grammy/types";
import type { ApiCall, SimulatedBot } from "./bot.js";

/**
 * Events of a simulator. Listeners run synchronously while the request is
 * being answered, so keep them cheap.
 */
export interface SimulatorEvents {
    /** A recorded call was answered (every method except `getUpdates` and `getMe`). */
    call: (call: ApiCall, bot: SimulatedBot) => void;
    /** A `getUpdates` request was answered with these updates (possibly none). */
    updates: (updates: readonly Update[], bot: SimulatedBot) => void;
}

/**
 * Delivers {@link SimulatorEvents} to their listeners. Typed, so the parts of
 * the simulator that emit cannot drift from the events it documents.
 */
export class SimulatorEmitter {
    private readonly emitter = new EventEmitter();

    /** Adds a listener. */
    on<E extends keyof SimulatorEvents>(event: E, listener: SimulatorEvents[E]): void {
        this.emitter.on(event, listener);
    }

    /** Removes a listener. */
    off<E extends keyof SimulatorEvents>(event: E, listener: SimulatorEvents[E]): void {
        this.emitter.off(event, listener);
    }

    /** Whether `event` has listeners: an event nobody listens to need not be built. */
    listens(event: keyof SimulatorEvents): boolean {
        return this.emitter.listenerCount(event) > 0;
    }

    /** Calls the listeners of `event`. */
    emit<E extends keyof SimulatorEvents>(event: E, ...args: Parameters<SimulatorEvents[E]>): void {
        this.emitter.emit(event, ...args);
    }
}
