import { InvalidOptionError } from "../shared/errors.js";
import { type Random, randomIntBetween, seededRandom } from "./random.js";

/**
 * Network and server trouble, injected at random but reproducibly (`seed`).
 * Real Telegram sometimes answers slowly, answers 500/502, or drops the
 * connection; code that polls or sends must survive all three.
 *
 * @example
 * ```ts
 * // every third sendMessage or so fails, the same ones on every run
 * sim.setFaults({ serverErrorRate: 0.3, methods: ["sendMessage"], seed: 7 });
 * ```
 */
export interface Faults {
    /** Delay added to every affected response, in ms: fixed, or drawn uniformly from `[min, max]`. @default 0 */
    latencyMs?: number | readonly [min: number, max: number];
    /** Share of affected calls answered 500 or 502 (`0..1`). @default 0 */
    serverErrorRate?: number;
    /** Share of affected calls whose connection is destroyed without an answer (`0..1`). @default 0 */
    dropRate?: number;
    /** Only these methods are affected (case-insensitive). @default every method */
    methods?: readonly string[];
    /** Seed of the random generator, for reproducible runs. @default a random seed */
    seed?: number;
}

/**
 * A one-shot failure for `sim.failNext(method, options)`: the next `count`
 * calls of the method fail this way, then the method behaves normally.
 */
export interface FailNextOptions {
    /** HTTP status and `error_code` of the answer. @default 500 */
    status?: number;
    /** Destroy the connection without answering instead (a network error on the client). @default false */
    drop?: boolean;
    /** How many calls fail. @default 1 */
    count?: number;
    /** `description` of the answer. @default Telegram's text for the status, e.g. "Too Many Requests: retry after 3" */
    description?: string;
    /** `parameters.retry_after` (seconds); set by default for status 429. @default 5 for 429 */
    retryAfter?: number;
    /** Further `parameters` of the answer, e.g. `{ migrate_to_chat_id: -100123 }`. @default none */
    parameters?: Record<string, unknown>;
    /** Only calls with this bot token are affected. @default every bot */
    token?: string;
}

/**
 * A one-shot delay for `sim.delayNext(method, options)`: the next `count`
 * calls of the method are served normally, but only after `delayMs` (a
 * `getMe` that hangs while a bot starts, a slow `sendMessage`).
 */
export interface DelayNextOptions {
    /** How long each call waits before it is served, in ms. */
    delayMs: number;
    /** How many calls wait. @default 1 */
    count?: number;
    /** Only calls with this bot token wait. @default every bot */
    token?: string;
}

/** What the fault injector decided for one call. */
export type Fault = { kind: "drop" } | { kind: "error"; status: number; description: string; parameters?: Record<string, unknown> };

interface Pending extends FailNextOptions {
    method: string;
    remaining: number;
}

interface PendingDelay extends DelayNextOptions {
    method: string;
    remaining: number;
}

const STATUS_TEXT: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
};

const DEFAULT_RETRY_AFTER = 5;

/**
 * Decides, per call, whether it fails and how late it is answered. One-shot
 * failures (`failNext`) come first and ignore `methods`; random faults follow.
 */
export class FaultInjector {
    private faults: Faults = {};
    private methods: ReadonlySet<string> | undefined;
    private random: Random = seededRandom();
    private readonly pending: Pending[] = [];
    private readonly delays: PendingDelay[] = [];

    constructor(faults: Faults = {}) {
        this.set(faults);
    }

    /** Replaces the random faults (one-shot failures stay queued). */
    set(faults: Faults): void {
        for (const key of ["serverErrorRate", "dropRate"] as const) {
            const rate = faults[key];
            if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
                throw new InvalidOptionError(`faults.${key}`, `expected a number from 0 to 1, got ${rate}`);
            }
        }
        const latency = faults.latencyMs;
        if (latency !== undefined) {
            const [min, max] = typeof latency === "number" ? [latency, latency] : latency;
            if (!(min >= 0 && max >= min)) {
                throw new InvalidOptionError("faults.latencyMs", "expected a number >= 0 or [min, max] with 0 <= min <= max");
            }
        }
        this.faults = { ...faults };
        this.methods = faults.methods === undefined ? undefined : new Set(faults.methods.map((m) => m.toLowerCase()));
        this.random = seededRandom(faults.seed);
    }

    /** Queues a one-shot failure of `method` (`"*"` for any method). */
    failNext(method: string, options: FailNextOptions = {}): void {
        const remaining = options.count ?? 1;
        if (!(Number.isInteger(remaining) && remaining > 0)) {
            throw new InvalidOptionError("failNext count", `expected a positive integer, got ${remaining}`);
        }
        this.pending.push({ ...options, method: method.toLowerCase(), remaining });
    }

    /** Queues a one-shot delay of `method` (`"*"` for any method). */
    delayNext(method: string, options: DelayNextOptions): void {
        const remaining = options.count ?? 1;
        if (!(Number.isInteger(remaining) && remaining > 0)) {
            throw new InvalidOptionError("delayNext count", `expected a positive integer, got ${remaining}`);
        }
        if (!(options.delayMs >= 0)) throw new InvalidOptionError("delayNext delayMs", `expected a number >= 0, got ${options.delayMs}`);
        this.delays.push({ ...options, method: method.toLowerCase(), remaining });
    }

    /** How long this call waits before it is served (0: not at all); consumes one-shot delays. */
    delayFor(method: string, token: string): number {
        if (this.delays.length === 0) return 0;
        const lower = method.toLowerCase();
        const index = this.delays.findIndex(
            (d) => (d.method === "*" || d.method === lower) && (d.token === undefined || d.token === token),
        );
        if (index < 0) return 0;
        const delay = this.delays[index] as PendingDelay;
        if (--delay.remaining === 0) this.delays.splice(index, 1);
        return delay.delayMs;
    }

    /** Whether anything can fail or be delayed at all (lets the hot path skip the rest). */
    get active(): boolean {
        const f = this.faults;
        return this.pending.length > 0 || !!f.latencyMs || !!f.serverErrorRate || !!f.dropRate;
    }

    /** The failure for this call, if any; consumes one-shot failures. */
    decide(method: string, token: string): Fault | undefined {
        const lower = method.toLowerCase();
        const index = this.pending.findIndex(
            (p) => (p.method === "*" || p.method === lower) && (p.token === undefined || p.token === token),
        );
        if (index >= 0) {
            const shot = this.pending[index] as Pending;
            if (--shot.remaining === 0) this.pending.splice(index, 1);
            return shotFault(shot);
        }
        if (!this.applies(lower)) return undefined;
        const { dropRate = 0, serverErrorRate = 0 } = this.faults;
        if (dropRate > 0 && this.random() < dropRate) return { kind: "drop" };
        if (serverErrorRate > 0 && this.random() < serverErrorRate) {
            const status = this.random() < 0.5 ? 500 : 502;
            return { kind: "error", status, description: STATUS_TEXT[status] as string };
        }
        return undefined;
    }

    /** Milliseconds to hold this call's answer back. */
    latencyMs(method: string): number {
        const latency = this.faults.latencyMs;
        if (!latency || !this.applies(method.toLowerCase())) return 0;
        if (typeof latency === "number") return latency;
        return randomIntBetween(this.random, latency[0], latency[1]);
    }

    private applies(lowerMethod: string): boolean {
        return this.methods === undefined || this.methods.has(lowerMethod);
    }
}

function shotFault(shot: Pending): Fault {
    if (shot.drop) return { kind: "drop" };
    const status = shot.status ?? 500;
    const retryAfter = shot.retryAfter ?? (status === 429 ? DEFAULT_RETRY_AFTER : undefined);
    const name = STATUS_TEXT[status] ?? "Error";
    const description = shot.description ?? (status === 429 ? `${name}: retry after ${retryAfter ?? DEFAULT_RETRY_AFTER}` : name);
    const parameters = { ...(retryAfter === undefined ? {} : { retry_after: retryAfter }), ...shot.parameters };
    return Object.keys(parameters).length === 0
        ? { kind: "error", status, description }
        : { kind: "error", status, description, parameters };
}
