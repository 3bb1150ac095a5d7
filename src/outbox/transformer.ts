import { InputFile, type Transformer } from "grammy";
import { DeadLetterError } from "../shared/errors.js";
import { currentUpdateScope } from "../shared/update-scope.js";
import { dispatching, type OutboundMessage } from "./outbox.js";
import type { Enqueued } from "./queue.js";

/** What the transformer needs of an outbox: the single-node `Outbox` and the cluster's both have it. */
export interface QueueingOutbox {
    admit(chat: string, signal?: AbortSignal): Promise<void>;
    enqueueGrouped(message: OutboundMessage): Promise<Enqueued>;
    sent(id: number): Promise<unknown>;
}

/** Chat-bound methods whose calls go through the persistent queue. */
const QUEUED_METHODS = new Set([
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "sendVideo",
    "sendAnimation",
    "sendAudio",
    "sendVoice",
    "sendVideoNote",
    "sendSticker",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "sendPoll",
    "sendDice",
    "sendMediaGroup",
    "sendInvoice",
    "sendGame",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
    "deleteMessage",
    "deleteMessages",
    "pinChatMessage",
    "unpinChatMessage",
]);

/**
 * A grammY API transformer that routes chat-bound send/edit/delete calls into
 * the outbox and answers the caller with Telegram's real result once the
 * message left (or with Telegram's error if it never will). File uploads skip
 * the queue but still wait for the limits; other methods pass straight through.
 */
export function outboxTransformer(outbox: QueueingOutbox): Transformer {
    return async (prev, method, payload, signal) => {
        const chat = (payload as { chat_id?: unknown } | undefined)?.chat_id;
        if (dispatching.getStore() === true || !QUEUED_METHODS.has(method) || (typeof chat !== "number" && typeof chat !== "string")) {
            return prev(method, payload, signal);
        }
        if (hasUpload(payload)) {
            await outbox.admit(String(chat), signal as AbortSignal | undefined);
            return prev(method, payload, signal);
        }
        // Keyed by the update being handled, so a replay of it after a crash maps onto the same keys.
        const scope = currentUpdateScope();
        const idempotencyKey = scope === undefined ? undefined : `u:${scope.botId}:${scope.updateId}:${scope.calls++}`;
        const { id } = await outbox.enqueueGrouped({ method, payload: payload as Record<string, unknown>, idempotencyKey });
        try {
            // grammY's response envelope; its own callApi turns ok:false into a GrammyError for the caller.
            return { ok: true, result: (await outbox.sent(id)) as never };
        } catch (error) {
            // Telegram's own answer, as grammY turns it into a GrammyError; without one (network errors,
            // cancelled), the DeadLetterError itself, which says so.
            if (!(error instanceof DeadLetterError) || error.errorCode === undefined) throw error;
            return { ok: false, error_code: error.errorCode, description: error.description, parameters: error.parameters };
        }
    };
}

function hasUpload(value: unknown): boolean {
    if (value instanceof InputFile) return true;
    if (typeof value !== "object" || value === null) return false;
    return Object.values(value).some(hasUpload);
}
