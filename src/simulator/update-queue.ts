import type { Update } from "grammy/types";
import { InvalidOptionError } from "../shared/errors.js";

/** The name of an update's payload field: `"message"`, `"callback_query"`, … */
export type UpdateType = Exclude<keyof Update, "update_id">;

/** An update as a test hands it in: `update_id` is assigned by the simulator unless given. */
export type UpdateInput = Omit<Update, "update_id"> & { update_id?: number };

// Without `allowed_updates`, Telegram delivers every type except these three
// (a bot must ask for them explicitly).
const OPT_IN_TYPES: ReadonlySet<string> = new Set(["chat_member", "message_reaction", "message_reaction_count"]);

// Compacting the backing array costs O(remaining); doing it only once the
// confirmed prefix is both large and at least half the array keeps each
// confirmation amortized O(1) without holding millions of dead references.
const COMPACT_AFTER = 4096;

/** The type of an update: its one field besides `update_id`. */
export function updateType(update: Update | UpdateInput): string | undefined {
    for (const key in update) if (key !== "update_id") return key;
    return undefined;
}

/**
 * One bot's pending updates with Telegram's `getUpdates` semantics: updates
 * stay until an `offset` confirms them, are handed out in `update_id` order,
 * and updates of types the bot did not ask for (`allowed_updates`) are never
 * stored. Reading (`peek`) never removes anything: Telegram only forgets an
 * update when a later call's offset moves past it.
 */
export class UpdateQueue {
    private items: Update[] = [];
    private head = 0;
    private nextId: number;
    private confirmed = 0;
    private allowed: ReadonlySet<string> | undefined;
    // Each update's JSON, made once: a `getUpdates` answer is then a join of
    // ready strings, and a redelivery costs nothing extra. Bulk pushes fill it
    // up front, so serving a benchmark's polls is cheap.
    // Kept parallel to `items` (same indexes), filled lazily for single pushes.
    private json: (string | undefined)[] = [];

    /** @param firstUpdateId the `update_id` of the first update (Telegram's are large, tests like 1). */
    constructor(firstUpdateId = 1) {
        if (!Number.isSafeInteger(firstUpdateId) || firstUpdateId < 1) {
            throw new InvalidOptionError("firstUpdateId", `expected a positive integer, got ${firstUpdateId}`);
        }
        this.nextId = firstUpdateId;
    }

    /** Updates waiting for confirmation. */
    get size(): number {
        return this.items.length - this.head;
    }

    /** The highest offset a `getUpdates` call has confirmed (0 before the first confirmation). */
    get confirmedOffset(): number {
        return this.confirmed;
    }

    /** The `allowed_updates` in force, or `undefined` for Telegram's default. */
    get allowedUpdates(): string[] | undefined {
        return this.allowed === undefined ? undefined : [...this.allowed];
    }

    /**
     * Assigns the next `update_id` (or checks the given one is higher than
     * every earlier one) and stores the update unless its type is filtered.
     * Returns the complete update either way.
     */
    push(input: UpdateInput): Update {
        const update = this.stamp(input);
        if (this.accepts(updateType(update))) {
            this.items.push(update);
            this.json.push(undefined);
        }
        return update;
    }

    /**
     * Stores many updates of one type, built by `build` with their assigned
     * ids. Cheaper than `push` in a loop: one type check for the whole batch
     * and no intermediate objects.
     */
    pushBuilt<T>(items: readonly T[], type: string, build: (item: T, updateId: number) => Update): Update[] {
        const out = new Array<Update>(items.length);
        const keep = this.accepts(type);
        for (let i = 0; i < items.length; i++) {
            const update = build(items[i] as T, this.nextId++);
            out[i] = update;
            if (keep) {
                this.items.push(update);
                this.json.push(JSON.stringify(update));
            }
        }
        return out;
    }

    /**
     * Applies a `getUpdates` offset. A positive offset confirms (forgets)
     * every update with a smaller id. A negative offset `-n` keeps only the
     * last `n` pending updates and forgets the rest, as Telegram does.
     * Offset 0 confirms nothing.
     */
    confirm(offset: number): void {
        if (offset > 0) {
            const bounded = Math.min(offset, this.nextId);
            this.head = this.firstIndexAtLeast(bounded);
            if (bounded > this.confirmed) this.confirmed = bounded;
        } else if (offset < 0) {
            this.head = Math.max(this.head, this.items.length + offset);
            const first = this.items[this.head];
            this.confirmed = Math.max(this.confirmed, first === undefined ? this.nextId : first.update_id);
        }
        this.compact();
    }

    /** Up to `limit` pending updates, oldest first, without confirming them. */
    peek(limit: number): Update[] {
        return this.items.slice(this.head, this.head + limit);
    }

    /** `peek` serialized: the JSON array of up to `limit` pending updates, and how many it holds. */
    peekJson(limit: number): { json: string; count: number } {
        const end = Math.min(this.items.length, this.head + limit);
        const parts = new Array<string>(end - this.head);
        for (let i = this.head; i < end; i++) {
            let json = this.json[i];
            if (json === undefined) {
                json = JSON.stringify(this.items[i]);
                this.json[i] = json;
            }
            parts[i - this.head] = json;
        }
        return { json: `[${parts.join(",")}]`, count: parts.length };
    }

    /**
     * Sets which update types are delivered. `undefined` keeps the current
     * setting (Telegram remembers the last list); an empty list restores the
     * default. Pending updates of types no longer allowed are dropped.
     */
    setAllowedUpdates(types: readonly string[] | undefined): void {
        if (types === undefined) return;
        const next = types.length === 0 ? undefined : new Set(types);
        if (sameSet(next, this.allowed)) return;
        this.allowed = next;
        const items: Update[] = [];
        const json: (string | undefined)[] = [];
        for (let i = this.head; i < this.items.length; i++) {
            const update = this.items[i] as Update;
            if (!this.accepts(updateType(update))) continue;
            items.push(update);
            json.push(this.json[i]);
        }
        this.items = items;
        this.json = json;
        this.head = 0;
    }

    /** Forgets every pending update (`drop_pending_updates`). */
    dropPending(): void {
        this.items = [];
        this.json = [];
        this.head = 0;
        this.confirmed = Math.max(this.confirmed, this.nextId);
    }

    private stamp(input: UpdateInput): Update {
        const given = input.update_id;
        if (given === undefined) {
            // update_id first, as Telegram serializes it.
            const update = { update_id: this.nextId, ...input } as Update;
            update.update_id = this.nextId++;
            return update;
        }
        if (!Number.isSafeInteger(given) || given < this.nextId) {
            throw new InvalidOptionError("update_id", `must be an integer of at least ${this.nextId} (ids only grow), got ${given}`);
        }
        this.nextId = given + 1;
        return { ...input } as Update;
    }

    private accepts(type: string | undefined): boolean {
        if (type === undefined) return true;
        return this.allowed === undefined ? !OPT_IN_TYPES.has(type) : this.allowed.has(type);
    }

    // Ids are increasing, so binary search the pending part.
    private firstIndexAtLeast(updateId: number): number {
        let low = this.head;
        let high = this.items.length;
        while (low < high) {
            const mid = (low + high) >>> 1;
            if ((this.items[mid] as Update).update_id < updateId) low = mid + 1;
            else high = mid;
        }
        return low;
    }

    private compact(): void {
        if (this.head === this.items.length) {
            this.items = [];
            this.json = [];
            this.head = 0;
        } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
            this.items = this.items.slice(this.head);
            this.json = this.json.slice(this.head);
            this.head = 0;
        }
    }
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
    if (a === undefined || b === undefined) return a === b;
    if (a.size !== b.size) return false;
    for (const item of a) if (!b.has(item)) return false;
    return true;
}
