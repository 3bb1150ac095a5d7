/**
 * What a failed send means for the message: wait and send again (429),
 * retry with backoff (network errors, 5xx), or give up (400, 403, …) with a
 * class that says why, for the dead-letter table and the metrics.
 */
export type Failure =
    | { kind: "flood"; retryAfterSeconds: number; description: string }
    | { kind: "transient"; description: string }
    | { kind: "permanent"; errorClass: string; description: string };

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
    const fields = (typeof error === "object" && error !== null ? error : {}) as {
        error_code?: unknown;
        description?: unknown;
        parameters?: { retry_after?: unknown };
        message?: unknown;
    };
    const code = fields.error_code;
    const description = String(fields.description ?? fields.message ?? error);
    if (code === 429) {
        const retryAfter = fields.parameters?.retry_after;
        return { kind: "flood", retryAfterSeconds: typeof retryAfter === "number" ? retryAfter : 1, description };
    }
    if (typeof code === "number" && code >= 400 && code < 500) {
        const known = PERMANENT_CLASSES.find(([pattern]) => pattern.test(description));
        return { kind: "permanent", errorClass: known?.[1] ?? (code === 403 ? "forbidden" : "bad_request"), description };
    }
    return { kind: "transient", description };
}
