import { type Constraint, chatAndUserOfUpdate, keysFrom } from "./constraint.js";

/**
 * One position in a key's chain: the middleware call that came last for the
 * key. Later calls for the key wait until it opens.
 */
interface Gate {
    open: boolean;
    waiters: (() => void)[] | undefined;
}

/** Per-key chain state; the entry is deleted when its last call ends. */
interface Chain {
    last: Gate;
    calls: number;
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
    const chains = new Map<string, Chain>();
    return async (ctx, next) => {
        const keys = keysFrom(constraint(ctx));
        const gate: Gate = { open: false, waiters: undefined };
        let ahead: Gate[] | undefined;
        for (const key of keys) {
            const chain = chains.get(key);
            if (chain === undefined) {
                chains.set(key, { last: gate, calls: 1 });
                continue;
            }
            if (!chain.last.open) (ahead ??= []).push(chain.last);
            chain.last = gate;
            chain.calls++;
        }
        try {
            if (ahead !== undefined) await Promise.all(ahead.map(passed));
            await next();
        } finally {
            gate.open = true;
            if (gate.waiters !== undefined) for (const wake of gate.waiters) wake();
            for (const key of keys) {
                const chain = chains.get(key)!;
                if (--chain.calls === 0) chains.delete(key);
            }
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
