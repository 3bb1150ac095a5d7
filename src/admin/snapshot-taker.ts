import type { CampaignStats } from "../outbox/campaigns/campaigns.js";
import { reportedBy } from "../shared/timing.js";
import { type AdminTarget, outboxOf } from "./admin-target.js";
import { SeriesReader } from "./series-reader.js";
import type { CampaignEntry, Snapshot } from "./snapshot.js";

/** Entries of a long list a snapshot carries: enough for a page to act on, small enough to send every second. */
const LISTED = 20;
/** Error texts are cut here: a handler's error can be a whole stack or a response body. */
const TEXT_LIMIT = 300;

/**
 * Takes snapshots of one admin target. Every part is read as it is now:
 * counts from their indexes, lists a page at a time, series from the
 * bot's metrics registry: a million dead letters cost a count in an
 * index, not a million rows read every second.
 */
export class SnapshotTaker {
    private readonly series: SeriesReader;

    constructor(private readonly target: AdminTarget) {
        this.series = new SeriesReader([target.metrics, outboxOf(target)?.metrics, target.tasks?.metrics]);
    }

    /** The target's state now. */
    async take(): Promise<Snapshot> {
        const [updates, sink, outbox, tasks] = await Promise.all([this.updates(), this.sink(), this.outbox(), this.tasks()]);
        return {
            at: Date.now(),
            polling: this.target.isRunning(),
            updates,
            sink,
            journal: this.journal(),
            outbox,
            campaigns: this.campaigns(),
            tasks,
        };
    }

    private async updates(): Promise<Snapshot["updates"]> {
        const [fetched, handled] = await Promise.all([
            this.series.sum("sluice_updates_fetched_total"),
            this.series.byLabel("sluice_updates_handled_total", "result"),
        ]);
        if (fetched === undefined || handled === undefined) return null;
        return { fetched, handled: { ok: handled.ok ?? 0, error: handled.error ?? 0, timeout: handled.timeout ?? 0 } };
    }

    private async sink(): Promise<Snapshot["sink"]> {
        const [running, waiting] = await Promise.all([this.series.sum("sluice_sink_running"), this.series.sum("sluice_sink_waiting")]);
        return running === undefined || waiting === undefined ? null : { running, waiting };
    }

    private journal(): Snapshot["journal"] {
        const { journal } = this.target;
        if (journal === undefined) return null;
        const quarantined = journal.quarantined();
        return {
            offset: journal.offset,
            unfinished: journal.unfinishedCount(),
            quarantined: {
                total: quarantined.length,
                items: quarantined.slice(0, LISTED).map((entry) => ({
                    updateId: entry.updateId,
                    chatId: entry.chatId ?? null,
                    kind: kindOf(entry.update),
                    attempts: entry.attempts,
                    judgement: entry.judgement,
                    lastExit: clip(entry.lastExit),
                    quarantinedAt: entry.quarantinedAt.toISOString(),
                })),
            },
        };
    }

    /** The store's outbox or a cluster node's (whose sent and in flight are this node's, its queue the whole bot's). */
    private async outbox(): Promise<Snapshot["outbox"]> {
        const outbox = outboxOf(this.target);
        if (outbox === undefined) return null;
        const [queued, inFlight, sent, deadLetterCount, deadLetters] = await Promise.all([
            this.series.byLabel("sluice_outbox_queued", "priority"),
            this.series.sum("sluice_outbox_in_flight"),
            this.series.sum("sluice_outbox_sent_total"),
            reportedBy(() => outbox.deadLetterCount()),
            reportedBy(() => outbox.deadLetters(LISTED)),
        ]);
        return {
            queued: queued === undefined ? null : { high: queued.high ?? 0, normal: queued.normal ?? 0, low: queued.low ?? 0 },
            inFlight: inFlight ?? null,
            sent: sent ?? null,
            globalPerSecond: outbox.rates.globalPerSecond,
            paidPerSecond: this.target.outbox?.rates.paidPerSecond ?? null,
            deadLetters:
                deadLetterCount === null || deadLetters === null
                    ? null
                    : {
                          total: deadLetterCount,
                          items: deadLetters.map((letter) => ({
                              id: letter.id,
                              method: letter.method,
                              chat: letter.chat,
                              attempts: letter.attempts,
                              errorClass: letter.error?.errorClass ?? null,
                              description: clip(letter.error?.description),
                              campaignId: letter.campaignId ?? null,
                          })),
                      },
            unreachable: this.target.outbox?.unreachableCount() ?? null,
            stoppedBy: outbox.stoppedBy?.code ?? null,
        };
    }

    private campaigns(): Snapshot["campaigns"] {
        const { outbox } = this.target;
        if (outbox === undefined) return null;
        const all = outbox.campaigns.list().reverse();
        const open = all.filter((campaign) => campaign.finishedAt === undefined);
        const ended = all.filter((campaign) => campaign.finishedAt !== undefined);
        return { total: all.length, items: [...open, ...ended].slice(0, LISTED).map(campaignEntry) };
    }

    private async tasks(): Promise<Snapshot["tasks"]> {
        const { tasks } = this.target;
        if (tasks === undefined) return null;
        const byState = await this.series.byLabel("sluice_tasks", "state");
        const dead = tasks.dead(LISTED);
        return {
            byState:
                byState === undefined
                    ? null
                    : { queued: byState.queued ?? 0, running: byState.running ?? 0, done: byState.done ?? 0, dead: byState.dead ?? 0 },
            dead: {
                total: tasks.deadCount(),
                items: dead.map((task) => ({
                    id: task.id,
                    name: task.name,
                    attempts: task.attempts,
                    error: clip(task.error),
                    finishedAt: task.finishedAt?.toISOString() ?? null,
                })),
            },
        };
    }
}

/** A campaign's fields that travel as they are; the dates and `etaMs` are spelled for JSON (strings, `null`). */
type CampaignNumbers<T> = Omit<T, "createdAt" | "startAt" | "startedAt" | "finishedAt" | "etaMs">;
/**
 * `snapshot.ts` imports nothing (the page's modules are checked against it), so `CampaignEntry` restates
 * `CampaignStats`; this fails to compile when the two drift apart, in either direction.
 */
const sameCampaignNumbers: [CampaignNumbers<CampaignStats>, CampaignNumbers<CampaignEntry>] extends [
    CampaignNumbers<CampaignEntry>,
    CampaignNumbers<CampaignStats>,
]
    ? true
    : never = true;
void sameCampaignNumbers;

function campaignEntry({ createdAt, startAt, startedAt, finishedAt, etaMs, ...numbers }: CampaignStats): CampaignEntry {
    return {
        ...numbers,
        etaMs: etaMs ?? null,
        createdAt: createdAt.toISOString(),
        startAt: startAt?.toISOString() ?? null,
        startedAt: startedAt?.toISOString() ?? null,
        finishedAt: finishedAt?.toISOString() ?? null,
    };
}

/** An update's kind: its one field besides `update_id`. */
function kindOf(update: unknown): string {
    if (typeof update !== "object" || update === null) return "unknown";
    return Object.keys(update).find((key) => key !== "update_id") ?? "unknown";
}

function clip(text: string | undefined): string | null {
    if (text === undefined) return null;
    return text.length > TEXT_LIMIT ? `${text.slice(0, TEXT_LIMIT - 1)}…` : text;
}
