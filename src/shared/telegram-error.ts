/**
 * Telegram's answer to a failed call, read from whatever grammY threw: a
 * `GrammyError` carries `error_code`, `description` and `parameters` as the
 * Bot API sent them; a network failure (`HttpError`, an abort) carries none.
 */
export interface TelegramError {
    /** Telegram's `error_code` (400, 403, 429, 502, …); none for a network failure. */
    errorCode: number | undefined;
    /** Telegram's `description`, or the error's message. */
    description: string;
    /** Telegram's `parameters` (`retry_after`, `migrate_to_chat_id`), if any. */
    parameters: Record<string, unknown> | undefined;
}

/** What Telegram said in `error`, in one shape for every caller. */
export function readTelegramError(error: unknown): TelegramError {
    const fields = (typeof error === "object" && error !== null ? error : {}) as {
        error_code?: unknown;
        description?: unknown;
        parameters?: unknown;
        message?: unknown;
    };
    // grammY gives every GrammyError a `parameters` object, empty when Telegram sent none.
    const given = typeof fields.parameters === "object" && fields.parameters !== null ? fields.parameters : {};
    const parameters = Object.keys(given).length > 0 ? given : undefined;
    return {
        errorCode: typeof fields.error_code === "number" ? fields.error_code : undefined,
        description: String(fields.description ?? fields.message ?? error),
        parameters: parameters as Record<string, unknown> | undefined,
    };
}

/** Seconds Telegram asked to wait (`parameters.retry_after` of a 429), if it did. */
export function retryAfterSeconds(error: TelegramError): number | undefined {
    const retryAfter = error.parameters?.retry_after;
    return error.errorCode === 429 && typeof retryAfter === "number" ? retryAfter : undefined;
}
