import type { Registry } from "prom-client";
import { floodCounter } from "./flood-metrics.js";
import { counterIn, scrapedGauge } from "./series.js";

/** A campaign's recipients by where they are, as `outbox.campaigns.stats(id)` tells them. */
export interface CampaignCounts {
    id: number;
    sent: number;
    failed: number;
    skipped: number;
    pending: number;
}

/**
 * What the outbox metrics read at scrape time. The SQLite outbox answers
 * from memory; the cluster's reads its queue from Redis, so `queued` may
 * be a promise (a scrape awaits every reader).
 */
export interface OutboxGaugeSources {
    /** Queued messages by priority name. */
    queued(): Iterable<[priority: string, count: number]> | Promise<Iterable<[priority: string, count: number]>>;
    /** Calls being sent now (by this process). */
    inFlight(): number;
    /**
     * Campaigns not ended, and those that ended within the last `endedWithinMs`.
     * @default none: an outbox without campaigns (the cluster's) reports no `sluice_campaign_recipients`
     */
    campaigns?(endedWithinMs: number): readonly CampaignCounts[];
}

/**
 * How long an ended campaign's series stay: a dashboard shows how it ended,
 * and months of campaigns do not pile up series (its numbers stay in
 * `outbox.campaigns.stats`).
 */
const ENDED_CAMPAIGN_SHOWN_MS = 3_600_000;

const RECIPIENT_STATES = ["sent", "failed", "skipped", "pending"] as const;

/**
 * The series of one bot's outbox, the SQLite one's or a cluster node's. The
 * sender moves the counters as each send ends (the dispatcher takes this
 * object as its `SendEvents`, and so does the cluster outbox); queue depths
 * and campaign numbers are read at scrape time.
 */
export class OutboxMetrics {
    private readonly bot_id: string;
    private readonly sentTotal;
    private readonly failedTotal;
    private readonly retriedTotal;
    private readonly floodTotal;
    private readonly removeReaders: (() => void)[];

    constructor(registry: Registry, botId: number, sources: OutboxGaugeSources) {
        const bot_id = String(botId);
        this.bot_id = bot_id;
        this.sentTotal = counterIn(registry, "sluice_outbox_sent_total", "Outbox messages Telegram accepted, by method.", [
            "bot_id",
            "method",
        ]);
        this.failedTotal = counterIn(
            registry,
            "sluice_outbox_failed_total",
            "Outbox messages given up (moved to the dead letters), by error class.",
            ["bot_id", "error_class"],
        );
        this.retriedTotal = counterIn(
            registry,
            "sluice_outbox_retried_total",
            "Outbox sends that failed transiently (network, 5xx) and will be retried.",
            ["bot_id"],
        );
        this.floodTotal = floodCounter(registry);
        this.removeReaders = [
            scrapedGauge(
                registry,
                "sluice_outbox_queued",
                "Outbox messages queued, by priority.",
                ["bot_id", "priority"],
                async (gauge) => {
                    for (const [priority, count] of await sources.queued()) gauge.set({ bot_id, priority }, count);
                },
            ),
            scrapedGauge(registry, "sluice_outbox_in_flight", "Outbox calls being sent now.", ["bot_id"], (gauge) =>
                gauge.set({ bot_id }, sources.inFlight()),
            ),
        ];
        const { campaigns } = sources;
        if (campaigns === undefined) return;
        this.removeReaders.push(
            scrapedGauge(
                registry,
                "sluice_campaign_recipients",
                "Recipients of each campaign (by id) by state, while it runs and for an hour after it ended.",
                ["bot_id", "campaign", "state"],
                (gauge) => {
                    for (const campaign of campaigns(ENDED_CAMPAIGN_SHOWN_MS)) {
                        for (const state of RECIPIENT_STATES) gauge.set({ bot_id, campaign: String(campaign.id), state }, campaign[state]);
                    }
                },
            ),
        );
    }

    /** A message Telegram accepted. */
    sent(method: string): void {
        this.sentTotal.inc({ bot_id: this.bot_id, method });
    }

    /** A message given up. */
    failed(errorClass: string): void {
        this.failedTotal.inc({ bot_id: this.bot_id, error_class: errorClass });
    }

    /** A transient failure that will be retried. */
    retried(): void {
        this.retriedTotal.inc({ bot_id: this.bot_id });
    }

    /** A 429 answer. */
    flooded(): void {
        this.floodTotal.inc({ bot_id: this.bot_id });
    }

    /** Stops reporting the scrape-time gauges (the outbox closed); counters keep their totals. */
    close(): void {
        for (const remove of this.removeReaders) remove();
    }
}
