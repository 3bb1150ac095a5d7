/**
 * Bot tokens look like `123456789:AAH...` (a numeric bot id, a colon, a secret
 * of 30+ URL-safe characters). Anything that may reach a log line or an error
 * message goes through `redactTokens`, so a token never leaves the process
 * even when it sits inside a URL that a network error quoted. The id is found
 * after any non-digit, not at a word boundary: in a Bot API URL it follows
 * `/bot` (`/bot123456789:AAH…/getMe`), where `\b` would not match.
 */
const TOKEN_PATTERN = /(?<!\d)(\d+):[A-Za-z0-9_-]{20,}/g;

/** Replaces every bot token in `text` with `<bot id>:<redacted>`. */
export function redactTokens(text: string): string {
    return text.replace(TOKEN_PATTERN, "$1:<redacted>");
}

/** Deep copy of a JSON-like value with every string passed through `redactTokens`. */
export function redactDeep(value: unknown, seen = new WeakSet<object>()): unknown {
    if (typeof value === "string") return redactTokens(value);
    if (typeof value !== "object" || value === null) return value;
    if (value instanceof Error) return redactError(value);
    if (seen.has(value)) return "[Circular]";
    seen.add(value);
    if (Array.isArray(value)) return value.map((item) => redactDeep(item, seen));
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = redactDeep(item, seen);
    return copy;
}

/** A plain, token-free copy of an error: type, message, stack, Telegram's fields and the cause chain. */
export function redactError(error: Error): Record<string, unknown> {
    const plain: Record<string, unknown> = {
        type: error.name,
        message: redactTokens(error.message),
        stack: error.stack === undefined ? undefined : redactTokens(error.stack),
    };
    for (const key of ["code", "reason", "error_code", "description", "method"] as const) {
        if (key in error) plain[key] = redactDeep((error as unknown as Record<string, unknown>)[key]);
    }
    if (error.cause !== undefined) plain.cause = redactDeep(error.cause);
    return plain;
}
