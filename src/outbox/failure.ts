import type { SendFailure } from "../shared/errors.js";
import { readTelegramError, retryAfterSeconds } from "../shared/telegram-error.js";

/**
 * What a failed send means for the message: wait and send again (`flood`,
 * a 429), send again to the chat's new id (`migrated`: a group became a
 * supergroup), retry with backoff (`transient`: network errors, 5xx), give
 * up (`permanent`: 400, 403, …), or stop sending altogether
 * (`unauthorized`: the token was revoked, and every message would fail the
 * same way). `cause` is Telegram's answer, classed, as a dead letter keeps it.
 */
export interface Failure {
    kind: "flood" | "migrated" | "transient" | "permanent" | "unauthorized";
    /** Seconds Telegram asked to wait (a flood only). */
    retryAfterSeconds: number;
    /** The chat's new id (migrated only). */
    migrateTo?: number;
    cause: SendFailure;
}

/** Error classes meaning the chat cannot be reached by the bot until it writes again. */
export const UNREACHABLE_CLASSES: ReadonlySet<string> = new Set(["blocked_by_user", "user_deactivated", "chat_not_found"]);

/** Telegram's descriptions, matched case-insensitively, and the class each means. */
const PERMANENT_CLASSES: [RegExp, string][] = [
    [/chat not found/i, "chat_not_found"],
    [/bot was blocked by the user/i, "blocked_by_user"],
    [/user is deactivated/i, "user_deactivated"],
    [/bot was kicked/i, "kicked_from_chat"],
    [/not a member/i, "not_a_member"],
    [/not enough rights|have no rights/i, "not_enough_rights"],
    [/message is too long/i, "message_too_long"],
    [/message is not modified/i, "message_not_modified"],
    [/message to edit not found|message to delete not found/i, "message_not_found"],
    [/can't parse entities/i, "bad_markup"],
];

/** Classifies an error thrown by a grammY API call. */
export function classifyFailure(error: unknown): Failure {
    const telegram = readTelegramError(error);
    const { errorCode, description } = telegram;
    const cause = (errorClass: string): SendFailure => ({
        errorClass,
        description,
        ...(errorCode === undefined ? {} : { errorCode }),
        ...(telegram.parameters === undefined ? {} : { parameters: telegram.parameters }),
    });
    if (errorCode === 429) return { kind: "flood", retryAfterSeconds: retryAfterSeconds(telegram) ?? 1, cause: cause("flood") };
    if (errorCode === 401) return { kind: "unauthorized", retryAfterSeconds: 0, cause: cause("unauthorized") };
    const migrateTo = telegram.parameters?.migrate_to_chat_id;
    if (typeof migrateTo === "number") return { kind: "migrated", retryAfterSeconds: 0, migrateTo, cause: cause("migrated") };
    if (errorCode !== undefined && errorCode >= 400 && errorCode < 500) {
        const known = PERMANENT_CLASSES.find(([pattern]) => pattern.test(description));
        return { kind: "permanent", retryAfterSeconds: 0, cause: cause(known?.[1] ?? (errorCode === 403 ? "forbidden" : "bad_request")) };
    }
    return { kind: "transient", retryAfterSeconds: 0, cause: cause("retries_exhausted") };
}
