import { actionButton } from "./actions.js";
import { byTestId, h, KeyedRows, setText, showPart } from "./dom.js";
import { ago, count, counted } from "./format.js";

/** @typedef {import("../snapshot.js").Snapshot} Snapshot */
/** @typedef {import("../snapshot.js").DeadLetterEntry} DeadLetterEntry */
/** @typedef {import("../snapshot.js").QuarantineEntry} QuarantineEntry */
/** @typedef {import("../snapshot.js").DeadTaskEntry} DeadTaskEntry */
/** @typedef {import("./actions.js").Act} Act */

/**
 * @template T
 * @typedef {object} WaitingListOptions
 * @property {string} card the card's test id
 * @property {string} list the list's test id
 * @property {string} row what a row's test id starts with: `dead-letter` makes `dead-letter-12`
 * @property {(item: T) => string} keyOf
 * @property {(item: T) => HTMLButtonElement[]} buttonsOf made once per row
 * @property {(item: T, now: number) => { title: string; detail: string }} describe
 */

/**
 * A list of things waiting for an operator, a row each with a title, a
 * detail line and its buttons; the card's "none" note while it is empty.
 *
 * @template T
 */
class WaitingList {
    /** @param {WaitingListOptions<T>} options */
    constructor({ card, list, row, keyOf, buttonsOf, describe }) {
        this.card = byTestId(card);
        this.now = Date.now();
        this.rows = new KeyedRows(byTestId(list), keyOf, (item) => {
            const title = h("div", { class: "title" });
            const detail = h("div", { class: "facts muted" });
            const element = h(
                "li",
                { class: "row", "data-testid": `${row}-${keyOf(item)}` },
                h("div", { class: "row-main" }, title, detail),
                h("div", { class: "actions" }, ...buttonsOf(item)),
            );
            return {
                element,
                update: (current) => {
                    const text = describe(current, this.now);
                    if (title.textContent !== text.title) title.textContent = text.title;
                    if (detail.textContent !== text.detail) detail.textContent = text.detail;
                },
            };
        });
    }

    /**
     * @param {{ total: number; items: T[] } | null} listed `null`: the bot has no such part.
     * @param {number} now
     */
    show(listed, now) {
        showPart(this.card, listed !== null);
        const items = listed?.items ?? [];
        for (const empty of this.card.querySelectorAll("[data-part=empty]")) empty.toggleAttribute("hidden", items.length > 0);
        this.now = now;
        this.rows.show(items);
    }
}

/**
 * What waits for an operator: dead letters (requeue), quarantined updates
 * (retry, drop) and dead tasks (retry). Each list carries its first entries
 * and its total; the rest are read through the API or the `sluice` command.
 */
export class MaintenancePanels {
    /** @param {Act} act */
    constructor(act) {
        /** @type {WaitingList<DeadLetterEntry>} */
        this.deadLetters = new WaitingList({
            card: "dead-letters",
            list: "dead-letter-list",
            row: "dead-letter",
            keyOf: (letter) => String(letter.id),
            buttonsOf: (letter) => {
                // A campaign's dead letter is counted in its numbers; the API refuses to send it again.
                if (letter.campaignId !== null) return [];
                const button = actionButton("Requeue", `dead-letter-${letter.id}-requeue`);
                button.addEventListener("click", () =>
                    act(button, { method: "POST", path: `/v1/dead-letters/${letter.id}/requeue`, done: `Message ${letter.id} requeued.` }),
                );
                return [button];
            },
            describe: (letter) => ({
                title: `#${letter.id} ${letter.method} to ${letter.chat}`,
                detail: [
                    letter.errorClass ?? "failed",
                    letter.description,
                    counted(letter.attempts, "attempt"),
                    letter.campaignId === null ? null : `campaign ${letter.campaignId}`,
                ]
                    .filter((part) => part !== null)
                    .join(" · "),
            }),
        });
        /** @type {WaitingList<QuarantineEntry>} */
        this.quarantine = new WaitingList({
            card: "quarantine",
            list: "quarantine-list",
            row: "quarantine",
            keyOf: (entry) => String(entry.updateId),
            buttonsOf: (entry) => {
                const retry = actionButton("Retry", `quarantine-${entry.updateId}-retry`);
                retry.addEventListener("click", () =>
                    act(retry, {
                        method: "POST",
                        path: `/v1/quarantine/${entry.updateId}/retry`,
                        done: `Update ${entry.updateId} handed to the bot again.`,
                        confirm: `Run update ${entry.updateId} again? Its handler ended the process ${entry.attempts} times.`,
                    }),
                );
                const drop = actionButton("Drop", `quarantine-${entry.updateId}-drop`, "danger");
                drop.addEventListener("click", () =>
                    act(drop, {
                        method: "DELETE",
                        path: `/v1/quarantine/${entry.updateId}`,
                        done: `Update ${entry.updateId} dropped.`,
                        confirm: `Delete update ${entry.updateId} for good? It will never be handled.`,
                    }),
                );
                return [retry, drop];
            },
            describe: (entry, now) => ({
                title: `Update ${entry.updateId} (${entry.kind}${entry.chatId === null ? "" : `, chat ${entry.chatId}`})`,
                detail: [entry.judgement, entry.lastExit, counted(entry.attempts, "attempt"), ago(entry.quarantinedAt, now)]
                    .filter((part) => part !== null)
                    .join(" · "),
            }),
        });
        /** @type {WaitingList<DeadTaskEntry>} */
        this.deadTasks = new WaitingList({
            card: "tasks",
            list: "dead-tasks",
            row: "dead-task",
            keyOf: (task) => String(task.id),
            buttonsOf: (task) => {
                const button = actionButton("Retry", `dead-task-${task.id}-retry`);
                button.addEventListener("click", () =>
                    act(button, { method: "POST", path: `/v1/tasks/${task.id}/retry`, done: `Task ${task.id} queued again.` }),
                );
                return [button];
            },
            describe: (task, now) => ({
                title: `#${task.id} ${task.name}`,
                detail: [task.error, counted(task.attempts, "attempt"), ago(task.finishedAt, now)]
                    .filter((part) => part !== null)
                    .join(" · "),
            }),
        });
    }

    /** @param {Snapshot} snapshot */
    show(snapshot) {
        const { outbox, journal, tasks } = snapshot;
        if (outbox !== null && outbox.deadLetters === null) {
            // The outbox did not answer (a cluster's, while Redis is unreachable): the list stays as last read.
            setText("dead-letters-total", "unknown: the outbox does not answer");
        } else {
            this.deadLetters.show(outbox?.deadLetters ?? null, snapshot.at);
            setText("dead-letters-total", !outbox?.deadLetters?.total ? "" : count(outbox.deadLetters.total));
        }
        this.quarantine.show(journal?.quarantined ?? null, snapshot.at);
        this.deadTasks.show(tasks?.dead ?? null, snapshot.at);
        setText("tasks-queued", count(tasks?.byState?.queued));
        setText("tasks-running", count(tasks?.byState?.running));
        setText("tasks-done", count(tasks?.byState?.done));
        setText("tasks-dead", count(tasks?.dead.total));
    }
}
