import type { Redis } from "ioredis";
import { luaScript } from "./lua.js";

/**
 * The outbox's scripts (scripts/outbox-*.lua), callable on one connection.
 * Each takes the bot's key prefix as its one key and builds the others from
 * it: they all carry the cluster's hash tag, so they live in one slot.
 */
export interface OutboxScripts {
    /** Groups of six: chat, method, payload, priority, notBefore, key. Answers id, duplicate pairs. */
    enqueue(prefix: string, ...fields: (string | number)[]): Promise<number[]>;
    take(prefix: string, ...args: number[]): Promise<(string | number)[]>;
    finish(prefix: string, id: number, token: string, outcome: string, value: string, ...args: number[]): Promise<number>;
    renew(prefix: string, leaseMs: number, ...pairs: (string | number)[]): Promise<number>;
    admit(prefix: string, chat: string, ...args: number[]): Promise<number>;
    requeue(prefix: string, id: number): Promise<number>;
}

const SCRIPTS = {
    outboxEnqueue: "outbox-enqueue",
    outboxTake: "outbox-take",
    outboxFinish: "outbox-finish",
    outboxRenew: "outbox-renew",
    outboxAdmit: "outbox-admit",
    outboxRequeue: "outbox-requeue",
} as const;

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** Defines the outbox's scripts on `redis` (ioredis sends each by its SHA after the first call). */
export function outboxScripts(redis: Redis): OutboxScripts {
    for (const [name, file] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 1, lua: luaScript(file) });
    const call = (name: keyof typeof SCRIPTS) => (redis as unknown as Record<string, Call>)[name]!.bind(redis);
    return {
        enqueue: call("outboxEnqueue") as OutboxScripts["enqueue"],
        take: call("outboxTake") as OutboxScripts["take"],
        finish: call("outboxFinish") as OutboxScripts["finish"],
        renew: call("outboxRenew") as OutboxScripts["renew"],
        admit: call("outboxAdmit") as OutboxScripts["admit"],
        requeue: call("outboxRequeue") as OutboxScripts["requeue"],
    };
}
