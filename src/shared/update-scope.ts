import { AsyncLocalStorage } from "node:async_hooks";

/** The update whose handler is running, as seen from any code it calls. */
export interface UpdateScope {
    readonly botId: number;
    readonly updateId: number;
    /** How many outbox calls the handler has made so far: the `n` of its keys `u:<bot>:<update>:<n>`. */
    calls: number;
    /** How many tasks the handler has added so far: the `n` of their keys `t:<bot>:<update>:<n>`. */
    tasks: number;
    /** Whether the handler has ended (resolved or thrown). */
    handled: boolean;
    /** Called when the handler ends (see `afterHandling`). */
    readonly afterHandled: (() => void)[];
}

// `undefined` is a scope too: what `outsideUpdateScope` runs in.
const scope = new AsyncLocalStorage<UpdateScope | undefined>();

/**
 * Runs `handle` inside the scope of one update. Everything it starts (timers,
 * promises, callbacks) sees the scope too, which is how the outbox derives
 * stable keys for replies and how the journal learns which update's handler
 * ended the process (Node runs `exit` listeners in the async context of the
 * code that called `process.exit`, threw or left a rejection unhandled).
 */
export function runInUpdateScope<T>(botId: number, updateId: number, handle: () => T): T {
    const current: UpdateScope = { botId, updateId, calls: 0, tasks: 0, handled: false, afterHandled: [] };
    const result = scope.run(current, handle);
    const ended = () => {
        current.handled = true;
        for (const callback of current.afterHandled.splice(0)) callback();
    };
    if (result instanceof Promise) result.then(ended, ended);
    else ended();
    return result;
}

/** Calls `callback` once the handler of `update` has ended: at once if it has. */
export function afterHandling(update: UpdateScope, callback: () => void): void {
    if (update.handled) callback();
    else update.afterHandled.push(callback);
}

/**
 * Runs `work` outside any update's scope. For code that schedules the
 * library's own work (a send loop's next turn, a batched write): a timer set
 * inside a handler would otherwise carry that update's scope into every turn
 * after it, where another update's keys and blame do not belong.
 */
export function outsideUpdateScope<T>(work: () => T): T {
    return scope.exit(work);
}

/** The scope of the update being handled here, if any. */
export function currentUpdateScope(): UpdateScope | undefined {
    return scope.getStore();
}
