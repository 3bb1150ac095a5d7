/**
 * From an HTTP request to a Bot API method, as Telegram's server does it:
 * `/bot<token>/<method>`, 401 for an unknown token, 404 for an unknown
 * method, parameters from the query string and the body. Then injected
 * faults, the checks Telegram makes before a method runs (the chat, flood
 * limits), the method's answer from `methods.ts`, and the record of the call.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { componentLogger } from "../shared/logger.js";
import type { ApiCall, BotState } from "./bot.js";
import type { CallLog } from "./call-log.js";
import type { FaultInjector } from "./faults.js";
import type { UpdateFeed } from "./get-updates.js";
import { chatIdParam, errorBody, okBody, type Payload, readPayload, UnreadableRequest, writeJson } from "./http.js";
import { findMethod, type Method } from "./methods.js";
import { seededRandom } from "./random.js";
import type { Replies } from "./replies.js";
import type { MethodAnswer } from "./results.js";

const ROUTE = /^\/bot([^/]+)\/([^/]*)$/;

type CallMethod = Extract<Method, { kind: "call" }>;

/** What the router hands requests to. */
export interface RouterParts {
    /** The registered bots, by token. */
    readonly bots: ReadonlyMap<string, BotState>;
    readonly faults: FaultInjector;
    readonly replies: Replies;
    readonly feed: UpdateFeed;
    readonly callLog: CallLog;
    /** Time source, ms since the epoch. */
    readonly clock: () => number;
}

/** Serves the HTTP requests of one simulator. */
export class Router {
    private readonly random = seededRandom();
    private readonly log = componentLogger("simulator");
    private closed = false;

    constructor(private readonly parts: RouterParts) {}

    /** Answers one request; a failure of the simulator itself is logged and answered 500. */
    serve(req: IncomingMessage, res: ServerResponse): void {
        this.route(req, res).catch((error: unknown) => {
            if (error instanceof UnreadableRequest) {
                writeJson(res, error.status, errorBody(error.status, error.message));
                return;
            }
            this.log.error({ err: error }, "simulator failed to answer a request");
            writeJson(res, 500, errorBody(500, "Internal Server Error"));
        });
    }

    /** Leaves requests still being read unanswered: the simulator is closing and destroys their connections. */
    close(): void {
        this.closed = true;
    }

    private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const url = req.url ?? "/";
        const queryStart = url.indexOf("?");
        const route = ROUTE.exec(queryStart === -1 ? url : url.slice(0, queryStart));
        if (route === null) return writeJson(res, 404, errorBody(404, "Not Found"));
        const payload = await readPayload(req, queryStart === -1 ? "" : url.slice(queryStart + 1));
        if (this.closed) return;
        const bot = this.parts.bots.get(decodeURIComponent(route[1] as string));
        if (bot === undefined) return writeJson(res, 401, errorBody(401, "Unauthorized"));
        const method = findMethod(route[2] as string);
        if (method?.name === "getMe") bot.counters.getMeCalls++;
        if (bot.revoked) return writeJson(res, 401, errorBody(401, "Unauthorized"));
        if (method === undefined) return writeJson(res, 404, errorBody(404, "Not Found"));
        const delay = this.parts.faults.delayFor(method.name, bot.account.token);
        this.parts.replies.afterMs(delay, () => this.serveMethod(bot, method, payload, req, res));
    }

    /** Serves a call to a known method of a registered bot: an injected fault, `getUpdates`, or the method's answer. */
    private serveMethod(bot: BotState, method: Method, payload: Payload, req: IncomingMessage, res: ServerResponse): void {
        if (res.destroyed || req.socket.destroyed) return; // the client gave up while the call was delayed
        const at = this.parts.clock();
        if (this.injectFault(bot, method.name, payload, at, req, res)) return;
        if (method.kind === "longPoll") this.parts.feed.getUpdates(bot, payload, res);
        else this.answerCall(bot, method, payload, at, res);
    }

    /** Fails the call as the fault injector decides, if it does; `true` when it did. */
    private injectFault(bot: BotState, method: string, payload: Payload, at: number, req: IncomingMessage, res: ServerResponse): boolean {
        const { faults, replies, callLog } = this.parts;
        const fault = faults.active ? faults.decide(method, bot.account.token) : undefined;
        if (fault === undefined) return false;
        bot.counters.faults++;
        if (fault.kind === "drop") {
            callLog.record(bot, { method, payload, at, ok: false, dropped: true });
            replies.later(method, () => req.socket.destroy());
        } else {
            callLog.record(bot, { method, payload, at, ok: false, errorCode: fault.status, description: fault.description });
            replies.reply(res, method, fault.status, errorBody(fault.status, fault.description, fault.parameters));
        }
        return true;
    }

    private answerCall(bot: BotState, method: CallMethod, payload: Payload, at: number, res: ServerResponse): void {
        const chatId = chatIdParam(payload.chat_id);
        const answer =
            this.refusal(bot, method, payload, chatId, at) ??
            method.answer({ bot, payload, now: Math.floor(at / 1000), random: this.random, feed: this.parts.feed });
        const call: ApiCall = { method: method.name, payload, at, ok: answer.ok };
        if (chatId !== undefined) call.chatId = chatId;
        if (answer.ok) {
            call.result = answer.result;
            if (method.message) bot.counters.sent++;
            this.parts.replies.reply(res, method.name, 200, okBody(answer.result));
        } else {
            call.errorCode = answer.status;
            call.description = answer.description;
            this.parts.replies.reply(
                res,
                method.name,
                answer.status,
                errorBody(
                    answer.status,
                    answer.description,
                    answer.retryAfter === undefined ? undefined : { retry_after: answer.retryAfter },
                ),
            );
        }
        if (method.recorded) this.parts.callLog.record(bot, call);
    }

    // What Telegram checks before a method runs, by the method's traits: the
    // chat must exist and accept the bot, and messages must fit the flood limits.
    private refusal(
        bot: BotState,
        method: CallMethod,
        payload: Payload,
        chatId: number | string | undefined,
        at: number,
    ): MethodAnswer | undefined {
        const chatBound = method.chat && payload.inline_message_id === undefined;
        if (chatBound) {
            const refusal = bot.chats.refusal(chatId);
            if (refusal !== undefined) return { ok: false, ...refusal };
        }
        if (!method.message) return undefined;
        const retryAfter = bot.limiter.admit(chatBound ? chatId : undefined, payload.allow_paid_broadcast === true, at);
        if (retryAfter === 0) return undefined;
        bot.counters.floodRejections++;
        return { ok: false, status: 429, description: `Too Many Requests: retry after ${retryAfter}`, retryAfter };
    }
}
