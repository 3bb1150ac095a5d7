import { hostname } from "node:os";
import { StoreError } from "../shared/errors.js";
import { preparedStatement, type Store } from "./store.js";

/** What a lock owner does for its bot; each role has its own lock. */
export type OwnerRole = "journal" | "outbox" | "tasks";

/** How often a running owner refreshes its row. */
const HEARTBEAT_MS = 5_000;
/** An owner row this old belongs to a process that is gone (or hung): it may be taken over. */
const STALE_AFTER_MS = 30_000;

const TAKE = "INSERT OR REPLACE INTO owners (bot_id, role, pid, host, heartbeat_at) VALUES (?, ?, ?, ?, ?)";
const READ = "SELECT pid, host, heartbeat_at FROM owners WHERE bot_id = ? AND role = ?";

/**
 * Makes sure only one process at a time works for a bot on a store, per
 * role: two pollers on one journal would both replay and both poll; two
 * dispatchers on one outbox would both send every message. The owner row holds
 * pid, host and a heartbeat; a row left by a process that died (a `kill -9`)
 * is recognised by its pid no longer running on this host, or by a stale
 * heartbeat, and is taken over.
 */
export class OwnerLock {
    private timer: NodeJS.Timeout | undefined;

    private constructor(
        private readonly store: Store,
        private readonly botId: number,
        private readonly role: OwnerRole,
    ) {}

    /** Takes the lock of `role` for `botId`, or fails with `StoreError("STORE_LOCKED")`. */
    static acquire(store: Store, botId: number, role: OwnerRole): OwnerLock {
        store.transaction(() => {
            const owner = OwnerLock.holder(store, botId, role);
            if (owner !== undefined && owner.pid !== process.pid) {
                throw new StoreError(
                    "STORE_LOCKED",
                    store.path,
                    `The store ${store.path} is in use (${role}) for bot ${botId} by process ${owner.pid} on ${owner.host}. ` +
                        `Only one process may run a bot's ${role} on one store: stop that process first ` +
                        "(or give this one its own store file).",
                );
            }
            preparedStatement(store, TAKE).run(botId, role, process.pid, hostname(), Date.now());
        });
        const lock = new OwnerLock(store, botId, role);
        lock.timer = setInterval(() => lock.heartbeat(), HEARTBEAT_MS);
        lock.timer.unref();
        return lock;
    }

    /** The live process that holds the lock of `role` for `botId`, if one does. */
    static holder(store: Store, botId: number, role: OwnerRole): { pid: number; host: string } | undefined {
        const owner = preparedStatement(store, READ).get(botId, role) as { pid: number; host: string; heartbeat_at: number } | undefined;
        return owner !== undefined && isAlive(owner, hostname(), Date.now()) ? { pid: owner.pid, host: owner.host } : undefined;
    }

    /**
     * Gives the lock up (idempotent). If the store cannot be written, the row
     * stays; it names this process, so the next opener sees it is gone and
     * takes the lock over.
     */
    release(): void {
        clearInterval(this.timer);
        this.timer = undefined;
        this.write("DELETE FROM owners WHERE bot_id = ? AND role = ? AND pid = ?", this.botId, this.role, process.pid);
    }

    /** A missed heartbeat (store busy or unwritable) is made up by the next one; only 30 s of misses let another host in. */
    private heartbeat(): void {
        const sql = "UPDATE owners SET heartbeat_at = ? WHERE bot_id = ? AND role = ? AND pid = ?";
        this.write(sql, Date.now(), this.botId, this.role, process.pid);
    }

    private write(sql: string, ...values: unknown[]): void {
        if (!this.store.isOpen) return;
        try {
            preparedStatement(this.store, sql).run(...values);
        } catch {
            // See release() and heartbeat(): neither may take the process down.
        }
    }
}

function isAlive(owner: { pid: number; host: string; heartbeat_at: number }, host: string, now: number): boolean {
    if (now - owner.heartbeat_at > STALE_AFTER_MS) return false;
    if (owner.host !== host) return true; // cannot look at another machine's processes; trust the heartbeat
    try {
        process.kill(owner.pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
    }
}
