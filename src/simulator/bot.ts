import type { Message, MessageId, User, UserFromGetMe } from "grammy/types";
import { ChatDirectory } from "./chats.js";
import { FloodLimiter, type FloodLimits } from "./flood-limits.js";
import type { Payload } from "./http.js";
import { PollSlot } from "./long-poll.js";
import { UpdateQueue } from "./update-queue.js";

/** A bot registered with the simulator: what `sim.createBot()` returns. */
export interface SimulatedBot {
    /** Token to pass to `new Bot(token, { client: { apiRoot: sim.apiRoot } })`; shaped like a real one. */
    readonly token: string;
    /** The bot's user id (the number before the colon of the token). */
    readonly id: number;
    /** Username, ending in `bot`. */
    readonly username: string;
    readonly firstName: string;
    /** What `getMe` answers: pass it as `new Bot(token, { botInfo })` to skip that call. */
    readonly botInfo: UserFromGetMe;
}

/** Options of `sim.createBot()`. */
export interface CreateBotOptions {
    /** @default `sim_<n>_bot` */
    username?: string;
    /** @default `Sim Bot <n>` */
    firstName?: string;
    /** A fixed token (`<digits>:<secret>`), e.g. to match a test fixture. @default a fresh random token */
    token?: string;
    /** `update_id` of the first update pushed. @default 1 */
    firstUpdateId?: number;
}

/**
 * One API call as the simulator recorded it. Every method except
 * `getUpdates` and `getMe` is recorded (those two are only counted, so
 * polling for hours does not grow memory).
 */
export interface ApiCall {
    /** Canonical method name, e.g. `"sendMessage"`. */
    method: string;
    /** Parameters as received (JSON body, form fields or query string). Uploaded files appear as `{ filename, contentType, size }`. */
    payload: Payload;
    /** Arrival time, ms since the epoch (from the simulator's clock). */
    at: number;
    /** `payload.chat_id`, when the call has one. */
    chatId?: number | string;
    /** Whether the call was answered with `ok: true`. */
    ok: boolean;
    /** `error_code` of a failed call (absent for dropped connections). */
    errorCode?: number;
    /** `description` of a failed call. */
    description?: string;
    /** `result` of a successful call. */
    result?: unknown;
    /** The connection was destroyed without an answer (fault injection). */
    dropped?: boolean;
}

/** What a successful message call returned. */
export type SentResult = Message | Message[] | MessageId | MessageId[] | true;

/** A successful send, copy, forward or edit, as listed by `sim.sent()`. */
export interface SentCall extends ApiCall {
    ok: true;
    result: SentResult;
    /** The message the call produced, when it produced exactly one (`sendMessage`, `sendPhoto`, `editMessageText`, …). */
    message?: Message;
    /** `payload.text`, or `payload.caption` for media. */
    text?: string;
}

/** Counters of one bot, from `sim.stats(token)`. */
export interface BotStats {
    /** `getUpdates` requests received (including refused ones). */
    getUpdatesCalls: number;
    /** `getMe` requests received (including those refused with 401 after `sim.revokeToken`). */
    getMeCalls: number;
    /** Updates pushed into the simulator (including ones filtered by `allowed_updates`). */
    updatesPushed: number;
    /** Updates handed out by `getUpdates`, counting redeliveries. */
    updatesDelivered: number;
    /** Updates not confirmed yet. */
    pending: number;
    /** Highest offset confirmed by `getUpdates`. */
    confirmedOffset: number;
    /** Recorded calls (every method except `getUpdates` and `getMe`), also when `recordCalls` is off. */
    calls: number;
    /** Successful message calls (sends, copies, forwards, edits). */
    sent: number;
    /** Calls answered 429 by the flood limits. */
    floodRejections: number;
    /** `getUpdates` answered 409 (a newer poller or a webhook). */
    conflicts: number;
    /** Calls failed or dropped by fault injection. */
    faults: number;
    /** Whether a long poll is being held open right now. */
    polling: boolean;
}

/** Everything the simulator keeps for one bot. */
export class BotState {
    readonly queue: UpdateQueue;
    readonly poll = new PollSlot();
    readonly chats = new ChatDirectory();
    /** The bot as `from` of its messages: a plain User, without getMe's capability fields. */
    readonly sender: User;
    readonly calls: ApiCall[] = [];
    /** Recorded calls per method, so waiting for the n-th call does not rescan the log. */
    readonly callCounts = new Map<string, number>();
    limiter: FloodLimiter;
    webhook: string | undefined;
    /** `sim.revokeToken` was called: every call is answered 401. */
    revoked = false;
    commands: unknown[] = [];
    /** A scheduled wake-up of the held poll, so many pushes in one tick answer it once. */
    wake: NodeJS.Immediate | undefined;
    private serial = 0;
    readonly counters = {
        getUpdatesCalls: 0,
        getMeCalls: 0,
        updatesPushed: 0,
        updatesDelivered: 0,
        calls: 0,
        sent: 0,
        floodRejections: 0,
        conflicts: 0,
        faults: 0,
    };

    constructor(
        readonly account: SimulatedBot,
        limits: FloodLimits,
        firstUpdateId?: number,
    ) {
        this.queue = new UpdateQueue(firstUpdateId);
        const user = account.botInfo;
        this.sender = { id: user.id, is_bot: true, first_name: user.first_name, username: user.username };
        this.limiter = new FloodLimiter(limits);
    }

    /** A number unique within this bot, for file ids, poll ids, callback query ids. */
    nextSerial(): number {
        return ++this.serial;
    }

    stats(): BotStats {
        return {
            ...this.counters,
            pending: this.queue.size,
            confirmedOffset: this.queue.confirmedOffset,
            polling: this.poll.held !== undefined,
        };
    }
}
