/*
 * What `GET /v1/events` sends, as it travels (dates as ISO strings). This
 * file imports nothing: the dashboard's modules check their reading of it
 * against these types (tsconfig.dashboard.json).
 */

/** The first few entries of a list that can grow long, and how long it is. */
export interface Listed<T> {
    total: number;
    items: T[];
}

/** A quarantined update as the dashboard lists it: who it came from and why it is there, not its content. */
export interface QuarantineEntry {
    updateId: number;
    chatId: number | null;
    /** The update's kind, e.g. `message` or `callback_query`. */
    kind: string;
    attempts: number;
    judgement: string;
    lastExit: string | null;
    quarantinedAt: string;
}

/** A dead letter as the dashboard lists it. */
export interface DeadLetterEntry {
    id: number;
    method: string;
    chat: string;
    attempts: number;
    errorClass: string | null;
    description: string | null;
    /** Its campaign, if any: such a letter is counted in the campaign's numbers and cannot be requeued. */
    campaignId: number | null;
}

/** A campaign's numbers, as `campaigns.stats()` tells them (see `CampaignStats`). */
export interface CampaignEntry {
    id: number;
    name: string;
    state: "draft" | "scheduled" | "running" | "paused" | "cancelled" | "finished";
    pausedBy?: "user" | "budget";
    total: number;
    sent: number;
    failed: number;
    skipped: number;
    pending: number;
    byErrorClass: Record<string, number>;
    /** Recipients finished per second over the last minute. */
    perSecond: number;
    /** Time left at the current rate, while running. */
    etaMs: number | null;
    spentStars: number;
    createdAt: string;
    startAt: string | null;
    startedAt: string | null;
    finishedAt: string | null;
}

/** A dead task as the dashboard lists it (not its payload, which can be large). */
export interface DeadTaskEntry {
    id: number;
    name: string;
    attempts: number;
    error: string | null;
    finishedAt: string | null;
}

/**
 * The state of a bot at one moment, as `GET /v1/events` sends it every
 * second. Totals are counted since the process started; the page computes
 * rates from two snapshots (`at` is when each was taken). `null` marks what
 * this bot does not have (no journal, no outbox) or cannot tell (series
 * read from its metrics, which it runs without).
 */
export interface Snapshot {
    /** When it was taken (unix ms). */
    at: number;
    polling: boolean;
    updates: { fetched: number; handled: { ok: number; error: number; timeout: number } } | null;
    /** Handlers running, and accepted updates waiting for their chat or a slot. */
    sink: { running: number; waiting: number } | null;
    journal: { offset: number; unfinished: number; quarantined: Listed<QuarantineEntry> } | null;
    outbox: {
        queued: { high: number; normal: number; low: number } | null;
        inFlight: number | null;
        sent: number | null;
        /** The bot-wide limit sends are paced to, per second (paid broadcasts have their own). */
        globalPerSecond: number;
        /** `null` for an outbox without paid broadcasts (a cluster's). */
        paidPerSecond: number | null;
        /** `null` while the outbox does not answer (a cluster's, during a Redis outage). */
        deadLetters: Listed<DeadLetterEntry> | null;
        /** Chats marked unreachable; `null` for an outbox that keeps no such marks (a cluster's). */
        unreachable: number | null;
        /** Why the outbox stopped sending on its own (`UNAUTHORIZED`: Telegram refused the token). */
        stoppedBy: string | null;
    } | null;
    /** Campaigns not finished, then the latest finished ones, newest first. */
    campaigns: Listed<CampaignEntry> | null;
    tasks: { byState: { queued: number; running: number; done: number; dead: number } | null; dead: Listed<DeadTaskEntry> } | null;
}
