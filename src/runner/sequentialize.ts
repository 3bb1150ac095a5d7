import { chatAndUserOfUpdate } from "../shared/update-chat.js";
import { type Constraint, keysFrom } from "./constraint.js";

/**
 * One middleware call's place in the chains of its keys. Later calls for a
 * key wait until the gate of the call before them opens. The map holds, per
 * key, the gate of the newest call; a call that ends while still the newest
 * for a key removes the key, so idle keys cost no memory.
 */
interface Gate {
    open: boolean;
    waiters: (() => void)[] | undefined;
}

/**
 * Middleware that runs the downstream handlers of updates sharing a
 * constraint key one after another, in arrival order, while updates with
 * different keys still run concurrently. Use the same key as your session
 * middleware to rule out read-after-write races on session data.
 *
 * ```ts
 * bot.use(sequentialize());                                   // chat id and user id
 * bot.use(sequentialize((ctx) => String(ctx.chat?.id)));      // chat only
 * ```
 *
 * Memory is constant per active key: a key's entry is removed when its last
 * queued call ends. Under sluice's `run`, the sink already orders updates by
 * chat and user, so with the default constraint this middleware never waits
 * and costs two map operations per key.
 *
 * @param constraint Keys of an update that must not be handled concurrently
 * @returns Middleware to install with `bot.use`
 */
export function sequentialize<C>(
    constraint: Constraint<C> = chatAndUserOfContext,
): (ctx: C, next: () => void | Promise<void>) => Promise<void> {
    const newest = new Map<string, Gate>();
    return async (ctx, next) => {
        const keys = keysFrom(constraint(ctx));
        const gate: Gate = { open: false, waiters: undefined };
        let ahead: Gate[] | undefined;
        for (const key of keys) {
            const before = newest.get(key);
            if (before !== undefined && !before.open) (ahead ??= []).push(before);
            newest.set(key, gate);
        }
        try {
            if (ahead !== undefined) await Promise.all(ahead.map(passed));
            await next();
        } finally {
            gate.open = true;
            if (gate.waiters !== undefined) for (const wake of gate.waiters) wake();
            for (const key of keys) if (newest.get(key) === gate) newest.delete(key);
        }
    };
}

function passed(gate: Gate): Promise<void> | undefined {
    if (gate.open) return undefined;
    return new Promise((resolve) => (gate.waiters ??= []).push(resolve));
}

/** The default constraint: the chat id and user id of `ctx.update`, as the sink uses them. */
function chatAndUserOfContext(ctx: unknown): string[] | undefined {
    return chatAndUserOfUpdate((ctx as { update?: unknown } | undefined)?.update);
}
