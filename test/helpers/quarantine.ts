import type { Update } from "grammy/types";
import { openStore } from "../../src/index.js";
import { Journal } from "../../src/journal/journal.js";

/**
 * Leaves `update` quarantined in the journal of `botId` in the store at
 * `path`, as three deaths of the process while it ran alone in a trial do
 * (the journal's default `maxAttempts`), without a process to kill.
 */
export function quarantineUpdate(path: string, botId: number, update: Update): void {
    const store = openStore(path);
    const first = Journal.open<Update>(store, botId);
    first.recover();
    first.append([update], update.update_id + 1);
    first.startTrial([update.update_id], "alone");
    for (let death = 0; death < 2; death++) {
        // Opened again without closing: the life before died.
        const next = Journal.open<Update>(store, botId);
        next.recover();
        next.startTrial([update.update_id], "alone");
    }
    const last = Journal.open<Update>(store, botId);
    last.recover(); // the third death convicts it
    last.close();
    store.close();
}
