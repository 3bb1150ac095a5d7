import type { CampaignCounts } from "../../metrics/outbox-metrics.js";
import { InvalidOptionError, SluiceError, TemplateError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { LONGEST_TIMER_MS } from "../../shared/timing.js";
import { outsideUpdateScope } from "../../shared/update-scope.js";
import { Waiters } from "../../shared/waiters.js";
import type { Ending, OutboxQueue, QueuedMessage } from "../queue.js";
import { PRIORITIES, type Priority } from "../queue.js";
import type { MessageTemplates } from "../templates/templates.js";
import type { UnreachableChats } from "../unreachable.js";
import { type CampaignMessage, chatIdOf, isPaid, MessageMaker, type Recipient } from "./campaign-message.js";
import { type CampaignCounters, type CampaignRow, type CampaignState, type CampaignStore, RecipientState } from "./campaign-store.js";
import { SendRate } from "./send-rate.js";

/** What `campaigns.create` takes. */
export interface CampaignOptions {
    /** A name for people (lists, logs, the dashboard). */
    name: string;
    /** What every recipient gets. */
    message: CampaignMessage;
    /** Replies and other messages keep their pace ahead of a broadcast. @default "low" */
    priority?: Priority;
    /** Sends nothing before this time, once started. @default at once */
    startAt?: Date;
    /**
     * With `allow_paid_broadcast` (0.1 Star a message): the campaign pauses
     * once it has spent this many Stars. @default no cap
     */
    budgetStars?: number;
}

/** A campaign's numbers, true at any moment and across restarts: `sent + failed + skipped + pending = total`. */
export interface CampaignStats {
    id: number;
    name: string;
    state: CampaignState;
    /** Why a paused campaign is paused: `pause()`, or its Stars budget ran out. */
    pausedBy?: "user" | "budget";
    /** Recipients added (duplicates and rejected ones not counted). */
    total: number;
    sent: number;
    /** Recipients Telegram refused (see `byErrorClass`). */
    failed: number;
    /** Recipients not sent to: unreachable chats, or the campaign was cancelled (see `byErrorClass`). */
    skipped: number;
    /** Recipients still to be sent to (queued or waiting their turn). */
    pending: number;
    /** Failed and skipped recipients by reason: Telegram's error class, `unreachable`, `cancelled`. */
    byErrorClass: Record<string, number>;
    /** Recipients finished per second over the last minute. */
    perSecond: number;
    /** Time left at the current rate (bounded by the limits), while running. */
    etaMs: number | undefined;
    /** Stars spent on paid broadcast messages. */
    spentStars: number;
    createdAt: Date;
    startAt?: Date;
    startedAt?: Date;
    finishedAt?: Date;
}

/** What `addRecipients` did with what it was given. */
export interface AddRecipientsResult {
    /** Recipients added to the campaign. */
    added: number;
    /** Chats already in the campaign, ignored. */
    duplicates: number;
    /** Recipients refused: an invalid chat id, or a value their template needs is missing. */
    rejected: number;
    /** The first few refusals, with why: enough to fix the source without a million lines of errors. */
    firstErrors: { index: number; chatId: unknown; error: string }[];
}

/** What campaigns need of the outbox around them. */
export interface CampaignsContext {
    store: CampaignStore;
    queue: OutboxQueue;
    unreachable: UnreachableChats;
    templates: MessageTemplates | undefined;
    clock: () => number;
    /** Sends per second the limits allow, unpaid and paid: what an ETA cannot beat. */
    limits: { globalPerSecond: number; paidPerSecond: number };
    isInFlight: (id: number) => boolean;
    /**
     * Whether this process moves recipients into the queue and runs
     * schedules: the owner of the outbox does; a guest (the `sluice` command)
     * only writes campaigns and their states, which the owner then acts on.
     */
    feeds: boolean;
    log: Logger;
}

/** Messages of one campaign in the outbox's queue at once: it refills when half have left. */
const WINDOW = 1_000;
/** Recipients validated and stored per transaction by `addRecipients`. */
const ADD_BATCH = 5_000;
const FIRST_ERRORS = 10;
/** A measured rate is trusted for the ETA after this long; before, the limits' rate is used. */
const RATE_WARMUP_MS = 5_000;

/**
 * Broadcasts through the outbox. Recipients are stored (a million in
 * constant memory) and moved into the outbox's queue a window at a time, each
 * as a message keyed `c:<campaign>:<chat>`, in the same transaction that marks
 * the recipient queued: a crash never sends a recipient twice, except a send
 * in flight at the moment of the kill. Per-chat order, limits and retries
 * are the outbox's; a campaign adds pause, resume, cancel, a schedule,
 * counters, unreachable chats skipped, and a Stars budget.
 */
export class Campaigns {
    /** Messages each campaign has in the queue now. */
    private readonly queued = new Map<number, number>();
    private readonly makers = new Map<number, MessageMaker>();
    private readonly rates = new Map<number, SendRate>();
    /** `addRecipients` calls still running, per campaign: it is not finished while one is. */
    private readonly importing = new Map<number, number>();
    private readonly waiters = new Waiters<CampaignStats>();
    private readonly timers = new Map<number, NodeJS.Timeout>();
    private readonly toFeed = new Set<number>();
    private closed = false;

    /** @internal Created by the outbox. */
    constructor(private readonly context: CampaignsContext) {}

    /** @internal Picks up campaigns an earlier process left scheduled, running, paused or cancelled. */
    open(): void {
        this.reconcile();
    }

    /**
     * @internal Makes the queue and the timers match each campaign's state in
     * the store, which another process (the `sluice` command) may have
     * changed: a running campaign is fed, a scheduled one timed, a paused or
     * cancelled one's messages not in flight leave the queue, as `pause` and
     * `cancel` would have taken them.
     */
    reconcile(): void {
        const { store, queue } = this.context;
        for (const campaign of store.unfinished()) {
            const { id } = campaign;
            if (!this.queued.has(id)) this.queued.set(id, queue.queuedOfCampaign(id).length);
            if (campaign.state === "running") {
                this.rateOf(id, this.context.clock());
                this.feedSoon(id);
            } else if (campaign.state === "scheduled") {
                if (!this.timers.has(id)) this.schedule(campaign);
            } else {
                this.unschedule(id);
                if (this.queued.get(id)! > 0) store.store.transaction(() => this.takeBack(id, campaign.state === "paused"));
                this.finishIfDone(id);
            }
        }
    }

    /** @internal Stops feeding and scheduling; callers waiting in `finished` hear `closed`. */
    close(closed: SluiceError): void {
        this.closed = true;
        for (const timer of this.timers.values()) clearTimeout(timer);
        this.timers.clear();
        this.waiters.rejectAll(closed);
    }

    /**
     * Stores a campaign in `draft`, after checking its message as Telegram
     * would (template, markup, length): add recipients, then `start` it.
     */
    create(options: CampaignOptions): { id: number } {
        if (typeof options?.name !== "string" || options.name.trim() === "") {
            throw new InvalidOptionError("name", 'every campaign needs a name, e.g. "november-news"');
        }
        const priority = PRIORITIES.indexOf(options.priority ?? "low");
        if (priority === -1) throw new InvalidOptionError("priority", `expected one of ${PRIORITIES.join(", ")}`);
        const startAt = options.startAt?.getTime() ?? null;
        if (startAt !== null && !Number.isFinite(startAt)) throw new InvalidOptionError("startAt", "expected a valid Date");
        const maker = new MessageMaker(options.message, this.context.templates);
        const budget = options.budgetStars;
        if (budget !== undefined) {
            if (!(Number.isInteger(budget) && budget > 0))
                throw new InvalidOptionError("budgetStars", "expected a positive whole number of Stars");
            if (!maker.paid)
                throw new InvalidOptionError("budgetStars", "a budget caps paid broadcasts: set allow_paid_broadcast: true on the message");
        }
        const { store, clock } = this.context;
        const id = store.create(
            { name: options.name, message: JSON.stringify(options.message), priority, startAt, budgetStars: budget ?? null },
            clock(),
        );
        this.makers.set(id, maker);
        return { id };
    }

    /**
     * Adds recipients, streamed in batches (an array, a generator, lines of a
     * file): chats already in the campaign are ignored, and a recipient with
     * an invalid chat id or a missing template value is refused and counted,
     * not allowed to abort the import. Recipients added to a running
     * campaign are sent as they arrive.
     */
    async addRecipients(id: number, recipients: Iterable<Recipient> | AsyncIterable<Recipient>): Promise<AddRecipientsResult> {
        const campaign = this.campaign(id);
        if (campaign.state === "finished" || campaign.state === "cancelled") {
            throw stateError(campaign, "take recipients", "create a new campaign for them");
        }
        const maker = this.maker(campaign);
        const result: AddRecipientsResult = { added: 0, duplicates: 0, rejected: 0, firstErrors: [] };
        let batch: [number, string | null, string | null][] = [];
        const flush = async () => {
            // Cancelled (or finished) while this import ran: what it still brings cannot join.
            const now = this.campaign(id);
            if (now.state === "finished" || now.state === "cancelled")
                throw stateError(now, "take recipients", "create a new campaign for them");
            const added = this.context.store.addRecipients(id, batch);
            result.added += added;
            result.duplicates += batch.length - added;
            batch = [];
            if (added > 0) this.feedSoon(id);
            // Lets sends, replies and timers run between batches of a long import.
            await new Promise((resolve) => setImmediate(resolve));
        };
        this.importing.set(id, (this.importing.get(id) ?? 0) + 1);
        try {
            let index = 0;
            for await (const recipient of recipients) {
                const problem = maker.problemOf(recipient);
                if (problem === undefined) {
                    const vars = recipient.vars === undefined ? null : JSON.stringify(recipient.vars);
                    batch.push([chatIdOf(recipient.chatId)!, recipient.locale ?? null, vars]);
                    if (batch.length >= ADD_BATCH) await flush();
                } else {
                    result.rejected++;
                    if (result.firstErrors.length < FIRST_ERRORS)
                        result.firstErrors.push({ index, chatId: recipient?.chatId, error: problem });
                }
                index++;
            }
            if (batch.length > 0) await flush();
        } finally {
            const left = this.importing.get(id)! - 1;
            if (left === 0) this.importing.delete(id);
            else this.importing.set(id, left);
            this.finishIfDone(id);
        }
        return result;
    }

    /** Starts sending a `draft` campaign (at its `startAt`, if that is later). */
    start(id: number): void {
        const campaign = this.campaign(id);
        if (campaign.state !== "draft")
            throw stateError(campaign, "start", campaign.state === "paused" ? "resume it" : "it has started already");
        this.begin(campaign);
    }

    /**
     * Stops sending a campaign within a moment: its messages not yet in
     * flight leave the queue (so replies to the same chats are not held up
     * behind them), and nothing more of it is sent until `resume`.
     */
    pause(id: number, pausedBy: "user" | "budget" = "user"): void {
        const campaign = this.campaign(id);
        if (campaign.state !== "running" && campaign.state !== "scheduled") {
            throw stateError(campaign, "pause", "only a scheduled or running campaign can be paused");
        }
        this.context.store.store.transaction(() => {
            this.takeBack(id, true);
            this.context.store.setState(id, "paused", { pausedBy });
        });
        this.unschedule(id);
        this.context.log.info({ campaign: id, pausedBy }, "campaign paused");
    }

    /** Continues a paused campaign where it stopped. */
    resume(id: number): void {
        const campaign = this.campaign(id);
        if (campaign.state !== "paused") throw stateError(campaign, "resume", "only a paused campaign can be resumed");
        this.begin(campaign);
    }

    /**
     * Ends a campaign: what is not sent is not sent (counted as skipped,
     * `cancelled`); sends already in flight finish and are counted.
     */
    cancel(id: number): void {
        const campaign = this.campaign(id);
        if (campaign.state === "finished" || campaign.state === "cancelled") {
            throw stateError(campaign, "cancel", "it has ended already");
        }
        const { store, clock } = this.context;
        store.store.transaction(() => {
            this.takeBack(id, false);
            store.tally(id, "skipped", store.skipPending(id), "cancelled");
            store.setState(id, "cancelled", {});
        });
        this.unschedule(id);
        this.context.log.info({ campaign: id }, "campaign cancelled");
        this.finishIfDone(id, clock());
    }

    /** A campaign's numbers now. */
    stats(id: number): CampaignStats {
        return this.statsOf(this.campaign(id));
    }

    /** Every campaign of this bot with its numbers, oldest first. */
    list(): CampaignStats[] {
        return this.context.store.list().map((campaign) => this.statsOf(campaign));
    }

    /**
     * @internal Recipients by state of the campaigns not ended and of those
     * that ended at or after `since` (unix ms): what the metrics report.
     */
    recipientsSince(since: number): CampaignCounts[] {
        return this.context.store.notEndedBefore(since).map((campaign) => ({
            id: campaign.id,
            sent: campaign.sent,
            failed: campaign.failed,
            skipped: campaign.skipped,
            pending: pendingOf(campaign),
        }));
    }

    /**
     * Resolves with the final numbers once nothing of the campaign is pending
     * (finished, or cancelled and drained); rejects with `OUTBOX_CLOSED` if the
     * outbox closes first (the campaign goes on at the next start).
     */
    finished(id: number): Promise<CampaignStats> {
        const campaign = this.campaign(id);
        if (campaign.finished_at !== null) return Promise.resolve(this.statsOf(campaign));
        if (this.closed)
            return Promise.reject(new SluiceError("OUTBOX_CLOSED", "The outbox is closed; the campaign goes on at its next start."));
        return this.waiters.wait(id);
    }

    /**
     * @internal The outbox's queue says a message ended, inside the transaction
     * that records it: the recipient and the counters move in that same commit.
     */
    messageEnded(message: QueuedMessage, ending: Ending, now: number): void {
        const id = message.campaignId;
        if (id === null || message.recipient === null) return;
        const { store } = this.context;
        if (ending.state === "sent") {
            store.setRecipient(id, message.recipient, RecipientState.sent);
            store.tally(id, "sent", 1);
            if (message.payload.allow_paid_broadcast === true && store.spend(id)) {
                // After this commit: pausing withdraws messages, which is no business of a send's transaction.
                this.later(id, () => this.pauseForBudget(id));
            }
        } else if (ending.state === "dead") {
            store.setRecipient(id, message.recipient, RecipientState.failed);
            store.tally(id, "failed", 1, ending.failure.errorClass);
        } else {
            store.setRecipient(id, message.recipient, RecipientState.skipped);
            store.tally(id, "skipped", 1, "cancelled");
        }
        this.queued.set(id, Math.max(0, (this.queued.get(id) ?? 1) - 1));
        this.rateOf(id, now).record(now);
        this.feedSoon(id);
    }

    /**
     * @internal A message of a campaign went back to the queue after a send
     * (a 429, a network error, a migrated group). If the campaign was paused
     * or cancelled while that send was in flight, the message must not go
     * again: it leaves the queue as `pause` or `cancel` would have taken it.
     */
    messageReturned(message: QueuedMessage): void {
        const id = message.campaignId;
        if (id === null || message.recipient === null) return;
        const campaign = this.context.store.get(id);
        if (campaign === undefined || campaign.state === "running" || campaign.state === "scheduled") return;
        const { store, queue, clock } = this.context;
        const recipient = message.recipient;
        store.store.transaction(() => {
            if (queue.withdraw([{ id: message.id, chat: message.chat }], clock()).length === 0) return;
            this.queued.set(id, Math.max(0, (this.queued.get(id) ?? 1) - 1));
            if (campaign.state === "paused") {
                store.setRecipient(id, recipient, RecipientState.pending);
            } else {
                store.setRecipient(id, recipient, RecipientState.skipped);
                store.tally(id, "skipped", 1, "cancelled");
            }
        });
        this.finishIfDone(id);
    }

    /** Runs `work` on a later turn, outside any update's scope, logging instead of throwing from the event loop. */
    private later(id: number, work: () => void, delayMs?: number): NodeJS.Timeout | NodeJS.Immediate {
        const guarded = () => {
            try {
                work();
            } catch (error) {
                this.context.log.error({ err: error, campaign: id }, "campaign work failed");
            }
        };
        return outsideUpdateScope(() => (delayMs === undefined ? setImmediate(guarded) : setTimeout(guarded, delayMs)));
    }

    private pauseForBudget(id: number): void {
        const campaign = this.context.store.get(id);
        if (campaign?.state === "running" || campaign?.state === "scheduled") this.pause(id, "budget");
    }

    private begin(campaign: CampaignRow): void {
        const now = this.context.clock();
        if (campaign.start_at !== null && campaign.start_at > now) {
            this.context.store.setState(campaign.id, "scheduled", {});
            this.schedule(campaign);
        } else {
            this.context.store.setState(campaign.id, "running", { startedAt: now });
            this.rates.set(campaign.id, new SendRate(now));
            this.feedSoon(campaign.id);
        }
    }

    private schedule(campaign: CampaignRow): void {
        if (!this.context.feeds) return;
        this.unschedule(campaign.id);
        const delay = Math.max(0, campaign.start_at! - this.context.clock());
        // Not unref'd: a scheduled campaign keeps the process alive, as queued messages do. Node caps a
        // timer at about 24.8 days; a later startAt is met by scheduling again when this one fires.
        const timer = this.later(
            campaign.id,
            () => {
                this.timers.delete(campaign.id);
                const now = this.campaign(campaign.id);
                if (now.state === "scheduled") this.begin(now);
            },
            Math.min(delay, LONGEST_TIMER_MS),
        ) as NodeJS.Timeout;
        this.timers.set(campaign.id, timer);
    }

    private unschedule(id: number): void {
        clearTimeout(this.timers.get(id));
        this.timers.delete(id);
    }

    /**
     * Takes the campaign's messages not in flight out of the queue (inside a
     * transaction): their recipients go back to pending for a pause, or are
     * skipped and counted for a cancel.
     */
    private takeBack(id: number, toPending: boolean): void {
        const { store, queue, isInFlight, clock } = this.context;
        const waiting = queue.queuedOfCampaign(id).filter((message) => !isInFlight(message.id));
        const recipients = queue.withdraw(waiting, clock());
        this.queued.set(id, Math.max(0, (this.queued.get(id) ?? 0) - recipients.length));
        for (const chat of recipients) store.setRecipient(id, chat, toPending ? RecipientState.pending : RecipientState.skipped);
        if (!toPending && recipients.length > 0) store.tally(id, "skipped", recipients.length, "cancelled");
    }

    /** Feeds the campaign on the next turn of the event loop: a burst of ended messages costs one feed. */
    private feedSoon(id: number): void {
        if (this.closed || !this.context.feeds) return;
        if (this.toFeed.size === 0) {
            this.later(id, () => {
                const ids = [...this.toFeed];
                this.toFeed.clear();
                for (const campaign of ids) this.feed(campaign);
            });
        }
        this.toFeed.add(id);
    }

    /**
     * Tops the campaign's messages in the queue up to the window, in one
     * transaction with the recipients' new states: unreachable chats are
     * skipped, a recipient whose text cannot be made fails, the rest are
     * queued under their deterministic keys.
     */
    private feed(id: number): void {
        try {
            this.feedWindow(id);
        } catch (error) {
            // Runs from the event loop, where a throw would end the process; the next ended message or start retries.
            this.context.log.error({ err: error, campaign: id }, "could not queue the campaign's next recipients");
        }
    }

    private feedWindow(id: number): void {
        if (this.closed) return;
        const campaign = this.context.store.get(id);
        if (campaign === undefined) return;
        if (campaign.state === "running" && (this.queued.get(id) ?? 0) <= WINDOW / 2) {
            const { store, queue, unreachable, clock } = this.context;
            const maker = this.maker(campaign);
            const now = clock();
            store.store.transaction(() => {
                const room = WINDOW - (this.queued.get(id) ?? 0);
                const messages = [];
                for (const recipient of store.pending(id, room)) {
                    const chat = String(recipient.chat_id);
                    if (unreachable.has(chat)) {
                        store.setRecipient(id, recipient.chat_id, RecipientState.skipped);
                        store.tally(id, "skipped", 1, "unreachable");
                        continue;
                    }
                    try {
                        const vars = recipient.vars === null ? undefined : (JSON.parse(recipient.vars) as Record<string, unknown>);
                        const call = maker.callFor(recipient.chat_id, recipient.locale ?? undefined, vars);
                        messages.push({
                            ...call,
                            chat,
                            priority: campaign.priority,
                            notBefore: now,
                            idempotencyKey: `c:${id}:${chat}`,
                            campaignId: id,
                            recipient: recipient.chat_id,
                        });
                    } catch (error) {
                        if (!(error instanceof TemplateError)) throw error;
                        // The templates changed since the recipient was added: this one cannot get a text.
                        store.setRecipient(id, recipient.chat_id, RecipientState.failed);
                        store.tally(id, "failed", 1, "template_error");
                    }
                }
                let added = 0;
                for (const [index, { duplicate }] of queue.enqueue(messages, now).entries()) {
                    const { recipient } = messages[index]!;
                    if (!duplicate) {
                        store.setRecipient(id, recipient, RecipientState.queued);
                        added++;
                        continue;
                    }
                    // Only a message enqueued outside the campaign under its key can be there: that one is the recipient's.
                    store.setRecipient(id, recipient, RecipientState.skipped);
                    store.tally(id, "skipped", 1, "key_taken");
                }
                this.queued.set(id, (this.queued.get(id) ?? 0) + added);
            });
        }
        this.finishIfDone(id);
    }

    /** Marks the campaign finished when nothing of it is pending, queued, in flight or still being imported. */
    private finishIfDone(id: number, now = this.context.clock()): void {
        const campaign = this.context.store.get(id);
        if (campaign === undefined || campaign.finished_at !== null || this.importing.has(id)) return;
        if (campaign.state !== "running" && campaign.state !== "cancelled") return;
        if (pendingOf(campaign) > 0 || (this.queued.get(id) ?? 0) > 0) return;
        this.context.store.setState(id, campaign.state === "running" ? "finished" : "cancelled", { finishedAt: now });
        this.context.log.info({ campaign: id }, "campaign finished");
        this.waiters.resolve(id, this.stats(id));
    }

    private statsOf(campaign: CampaignRow): CampaignStats {
        const now = this.context.clock();
        const pending = pendingOf(campaign);
        const rate = this.rates.get(campaign.id);
        const perSecond = rate?.perSecond(now) ?? 0;
        const { limits } = this.context;
        // Not through the maker: stats must read even if the campaign's templates are gone since.
        const allowed = isPaid(JSON.parse(campaign.message) as CampaignMessage) ? limits.paidPerSecond : limits.globalPerSecond;
        const trusted = rate !== undefined && rate.measuredMs(now) >= RATE_WARMUP_MS && perSecond > 0;
        const etaRate = Math.min(allowed, trusted ? perSecond : allowed);
        const date = (ms: number | null) => (ms === null ? undefined : new Date(ms));
        return {
            id: campaign.id,
            name: campaign.name,
            state: campaign.state,
            ...(campaign.state === "paused" && campaign.paused_by !== null ? { pausedBy: campaign.paused_by } : {}),
            total: campaign.total,
            sent: campaign.sent,
            failed: campaign.failed,
            skipped: campaign.skipped,
            pending,
            byErrorClass: this.context.store.outcomes(campaign.id),
            perSecond,
            etaMs: campaign.state === "running" ? (pending / etaRate) * 1000 : undefined,
            spentStars: campaign.spent_tenths / 10,
            createdAt: new Date(campaign.created_at),
            ...optional("startAt", date(campaign.start_at)),
            ...optional("startedAt", date(campaign.started_at)),
            ...optional("finishedAt", date(campaign.finished_at)),
        };
    }

    private campaign(id: number): CampaignRow {
        const campaign = Number.isInteger(id) ? this.context.store.get(id) : undefined;
        if (campaign === undefined) {
            throw new SluiceError(
                "CAMPAIGN_UNKNOWN",
                `No campaign ${JSON.stringify(id)} for this bot; campaigns.list() shows the ones there are.`,
            );
        }
        return campaign;
    }

    private maker(campaign: CampaignRow): MessageMaker {
        let maker = this.makers.get(campaign.id);
        if (maker === undefined) {
            maker = new MessageMaker(JSON.parse(campaign.message) as CampaignMessage, this.context.templates);
            this.makers.set(campaign.id, maker);
        }
        return maker;
    }

    private rateOf(id: number, now: number): SendRate {
        let rate = this.rates.get(id);
        if (rate === undefined) {
            rate = new SendRate(now);
            this.rates.set(id, rate);
        }
        return rate;
    }
}

function pendingOf(campaign: CampaignCounters): number {
    return campaign.total - campaign.sent - campaign.failed - campaign.skipped;
}

function optional<K extends string>(key: K, value: Date | undefined): { [key in K]?: Date } {
    return value === undefined ? {} : ({ [key]: value } as { [key in K]: Date });
}

function stateError(campaign: CampaignRow, action: string, hint: string): SluiceError {
    return new SluiceError(
        "CAMPAIGN_STATE",
        `Campaign ${campaign.id} ("${campaign.name}") is ${campaign.state} and cannot ${action}; ${hint}.`,
    );
}
