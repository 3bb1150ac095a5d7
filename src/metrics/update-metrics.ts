import type { Registry } from "prom-client";
import { counterIn, histogramIn, scrapedGauge } from "./series.js";

/** How one update's handling ended: its handler resolved, threw, or outlived the sink's timeout. */
export type HandlingResult = "ok" | "error" | "timeout";

/** What the update metrics read at scrape time: the sink's updates, and the journal's when there is one. */
export interface UpdateGaugeSources {
    /** Handlers running now. */
    running(): number;
    /** Accepted updates waiting for their chat or a slot. */
    waiting(): number;
    journal?: {
        unfinishedCount(): number;
        quarantinedCount(): number;
    };
}

/** Handler durations from a few milliseconds to the minute a slow handler may take. */
const HANDLING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** A journal append is one SQLite commit: tens of microseconds to a slow disk's tens of milliseconds. */
const APPEND_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

/**
 * The series of updates for one bot, as `run` moves them: fetched, handled
 * (by result, with duration), written to the journal; and at scrape time
 * what the sink and the journal hold.
 */
export class UpdateMetrics {
    private readonly labels: { bot_id: string };
    private readonly fetchedTotal;
    private readonly handledTotal;
    private readonly handlingSeconds;
    private readonly appendSeconds;
    private readonly removeReaders: (() => void)[];
    /** Updates already counted as timed out: their handler's later end is not counted again. */
    private readonly timedOut = new WeakSet<object>();

    constructor(registry: Registry, botId: number, sources: UpdateGaugeSources) {
        const labels = { bot_id: String(botId) };
        this.labels = labels;
        this.fetchedTotal = counterIn(registry, "sluice_updates_fetched_total", "Updates received from getUpdates.", ["bot_id"]);
        this.handledTotal = counterIn(registry, "sluice_updates_handled_total", "Updates whose handling ended, by result.", [
            "bot_id",
            "result",
        ]);
        this.handlingSeconds = histogramIn(
            registry,
            "sluice_update_handling_seconds",
            "Time from an update's handler starting to its end (or timeout).",
            ["bot_id"],
            HANDLING_BUCKETS,
        );
        this.appendSeconds = histogramIn(
            registry,
            "sluice_journal_append_seconds",
            "Time to write a fetched batch to the journal.",
            ["bot_id"],
            APPEND_BUCKETS,
        );
        const gauge = (name: string, help: string, value: () => number) =>
            scrapedGauge(registry, name, help, ["bot_id"], (series) => series.set(labels, value()));
        const { journal } = sources;
        this.removeReaders = [
            gauge("sluice_sink_running", "Update handlers running now.", () => sources.running()),
            gauge("sluice_sink_waiting", "Accepted updates waiting for their chat or a free slot.", () => sources.waiting()),
            ...(journal === undefined
                ? []
                : [
                      gauge("sluice_journal_unfinished", "Journaled updates whose handling has not ended.", () =>
                          journal.unfinishedCount(),
                      ),
                      gauge("sluice_journal_quarantined", "Updates set aside after ending the process repeatedly.", () =>
                          journal.quarantinedCount(),
                      ),
                  ]),
        ];
    }

    /** A batch of `count` updates came from Telegram. */
    fetched(count: number): void {
        this.fetchedTotal.inc(this.labels, count);
    }

    /** Wraps an update consumer so each update's end is counted and timed. */
    measured<Y extends object>(consume: (update: Y) => Promise<void>): (update: Y) => Promise<void> {
        return async (update) => {
            const started = performance.now();
            let result: HandlingResult = "error";
            try {
                await consume(update);
                result = "ok";
            } finally {
                if (!this.timedOut.has(update)) this.handled(result, (performance.now() - started) / 1000);
            }
        };
    }

    /** The sink gave up waiting for `update`'s handler (see `SinkOptions.timeout`). */
    handlingTimedOut(update: object, timeoutMs: number): void {
        this.timedOut.add(update);
        this.handled("timeout", timeoutMs / 1000);
    }

    /** Writes a batch to the journal through `append`, timing it. */
    timedAppend(append: () => void): void {
        const started = performance.now();
        append();
        this.appendSeconds.observe(this.labels, (performance.now() - started) / 1000);
    }

    /** Stops reporting the scrape-time gauges (the bot stopped); counters keep their totals. */
    close(): void {
        for (const remove of this.removeReaders) remove();
    }

    private handled(result: HandlingResult, seconds: number): void {
        this.handledTotal.inc({ ...this.labels, result });
        this.handlingSeconds.observe(this.labels, seconds);
    }
}
