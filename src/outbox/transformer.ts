import { InputFile, type Transformer } from "grammy";
import { currentUpdateScope } from "../shared/update-scope.js";
import { DeadLetterError, type Outbox, dispatching } from "./outbox.js";

/** Chat-bound methods whose calls go through the persistent queue. */
const QUEUED_METHODS = new Set([
    "sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAnimation", "sendAudio", "sendVoice",
    "sendVideoNote", "sendSticker", "sendLocation", "sendVenue", "sendContact", "sendPoll", "sendDice",
    "sendMediaGroup", "sendInvoice", "sendGame", "copyMessage", "copyMessages", "forwardMessage",
    "forwardMessages", "editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup",
    "deleteMessage", "deleteMessages", "pinChatMessage", "unpinChatMessage",
]);

/** Dead-letter classes that Telegram answered with 403 rather than 400. */
const FORBIDDEN_CLASSES = new Set(["blocked_by_user", "user_deactivated", "kicked_from_chat", "not_a_member", "forbidden"]);

/**
 * A grammY API transformer that routes chat-bound send/edit/delete calls into
 * the outbox and answers the caller with Telegram's real result once the
 * message left (or with Telegram's error if it never will). File uploads skip
 * the queue but still wait for the limits; other methods pass straight through.
 */
export function outboxTransformer(outbox: Outbox): Transformer {
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
            if (!(error instanceof DeadLetterError)) throw error;
            const errorCode = FORBIDDEN_CLASSES.has(error.errorClass) ? 403 : 400;
            return { ok: false, error_code: errorCode, description: error.description };
        }
    };
}

function hasUpload(value: unknown): boolean {
    if (value instanceof InputFile) return true;
    if (typeof value !== "object" || value === null) return false;
    return Object.values(value).some(hasUpload);
}
