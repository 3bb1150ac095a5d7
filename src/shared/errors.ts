/**
 * Every error sluice throws on purpose is a `SluiceError`: match on `code`
 * rather than on the message, which is written for people and may change.
 */
export class SluiceError extends Error {
    /** Stable, machine-readable reason, e.g. `"UNAUTHORIZED"`. */
    readonly code: string;

    constructor(code: string, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = new.target.name;
        this.code = code;
    }
}

/** Telegram answered 401: the bot token is wrong or was revoked. */
export class UnauthorizedError extends SluiceError {
    constructor(options?: { cause?: unknown }) {
        super(
            "UNAUTHORIZED",
            "Telegram rejected the bot token (401 Unauthorized). Check the token you passed to `new Bot(...)` " +
                "(for example BOT_TOKEN); if it was revoked, get a new one from @BotFather.",
            options,
        );
    }
}

/** Why Telegram refused `getUpdates` with 409. */
export type ConflictReason = "webhook" | "poller";

/**
 * Telegram answered 409 to `getUpdates`: either a webhook is set for this bot,
 * or another process is polling with the same token.
 */
export class ConflictError extends SluiceError {
    /** `"webhook"`: a webhook is set; `"poller"`: another `getUpdates` loop runs with this token. */
    readonly reason: ConflictReason;

    constructor(reason: ConflictReason, options?: { cause?: unknown }) {
        super(
            reason === "webhook" ? "CONFLICT_WEBHOOK" : "CONFLICT_POLLER",
            reason === "webhook"
                ? "Telegram refused getUpdates (409) because a webhook is set for this bot. " +
                      "Call `bot.api.deleteWebhook()` once (or stop using the webhook) before polling."
                : "Telegram refused getUpdates (409) because another process is polling with the same token. " +
                      "Stop the other instance (an old deployment, a second terminal) so only one poller runs per bot.",
            options,
        );
        this.reason = reason;
    }
}

/** An option passed to sluice has a value it cannot work with. */
export class InvalidOptionError extends SluiceError {
    constructor(option: string, problem: string) {
        super("INVALID_OPTION", `Invalid option \`${option}\`: ${problem}`);
    }
}

/** Why a store could not be used. */
export type StoreProblem = "STORE_CORRUPT" | "STORE_UNWRITABLE" | "STORE_FULL" | "STORE_LOCKED" | "STORE_TOO_NEW";

/**
 * The SQLite store (journal, outbox) cannot be used: the message names the
 * file and says what to do. Nothing already in the file is changed.
 */
export class StoreError extends SluiceError {
    /** The store file concerned. */
    readonly path: string;

    constructor(code: StoreProblem, path: string, message: string, options?: { cause?: unknown }) {
        super(code, message, options);
        this.path = path;
    }
}
