import { RateChart } from "./charts.js";
import { byTestId, setText, showPart } from "./dom.js";
import { count, percent, perSecond } from "./format.js";
import { RateOf } from "./rate.js";

/** @typedef {import("../snapshot.js").Snapshot} Snapshot */

/**
 * The top of the page: the numbers of updates and the sink, the journal's,
 * the two charts (updates and outbox sends per second) and the outbox's
 * queues. Rates are computed here, from successive snapshots' totals.
 */
export class Overview {
    #updates = new RateOf();
    #sends = new RateOf();
    #updatesChart = new RateChart(byTestId("updates-chart"), [{ label: "handled", color: "--accent", fill: true }]);
    #sendsChart = new RateChart(byTestId("sends-chart"), [
        { label: "sent", color: "--good", fill: true },
        { label: "limit", color: "--muted", dashed: true },
    ]);

    /** @param {Snapshot} snapshot */
    show(snapshot) {
        const { updates, sink, journal, outbox } = snapshot;
        const handled = updates && updates.handled.ok + updates.handled.error + updates.handled.timeout;
        const updatesRate = handled === null ? undefined : this.#updates.next(snapshot.at, handled);
        this.#updatesChart.push(snapshot.at, [updatesRate ?? null]);
        setText("updates-rate", perSecond(updatesRate));
        setText("updates-handled", count(handled));
        setText(
            "updates-failed",
            updates === null ? "no metrics" : `${count(updates.handled.error)} failed, ${count(updates.handled.timeout)} timed out`,
        );
        setText("sink-running", count(sink?.running));
        setText("sink-waiting", count(sink?.waiting));
        setText("journal-unfinished", count(journal?.unfinished));
        setText("journal-offset", journal === null ? "no journal" : `offset ${count(journal.offset)}`);
        setText("journal-quarantined", count(journal?.quarantined.total));

        showPart(byTestId("outbox"), outbox !== null);
        const sendsRate = outbox?.sent == null ? undefined : this.#sends.next(snapshot.at, outbox.sent);
        this.#sendsChart.push(snapshot.at, [sendsRate ?? null, outbox?.globalPerSecond ?? null]);
        if (outbox === null) return;
        setText("outbox-rate", `${perSecond(sendsRate)} of ${perSecond(outbox.globalPerSecond)} per second`);
        byTestId("outbox-rate-bar").style.width = percent(sendsRate ?? 0, outbox.globalPerSecond);
        setText("outbox-queued-high", count(outbox.queued?.high));
        setText("outbox-queued-normal", count(outbox.queued?.normal));
        setText("outbox-queued-low", count(outbox.queued?.low));
        setText("outbox-in-flight", count(outbox.inFlight));
        setText("outbox-sent", count(outbox.sent));
        setText("outbox-unreachable", count(outbox.unreachable));
        const stopped = byTestId("outbox-stopped");
        stopped.hidden = outbox.stoppedBy === null;
        stopped.textContent =
            outbox.stoppedBy === null
                ? ""
                : `The outbox stopped sending (${outbox.stoppedBy}): Telegram refused the bot token. Messages stay queued until the bot restarts with a valid token.`;
    }

    /** Forgets the rates and empties the charts (logged out). */
    clear() {
        this.#updates.reset();
        this.#sends.reset();
        this.#updatesChart.clear();
        this.#sendsChart.clear();
    }
}
