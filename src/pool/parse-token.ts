import { InvalidOptionError } from "../shared/errors.js";

/** A bot token taken apart: `123456789:AAH…` is bot `123456789` and its secret. */
export interface ParsedToken {
    /** The bot's user id, the number before the colon: what stores key a bot's rows by. */
    botId: number;
    /** What follows the colon. Treat it like a password: sluice never logs it. */
    secret: string;
}

/**
 * Telegram's tokens are a bot id (a positive whole number, written without
 * leading zeros), a colon and a secret from the URL-safe Base64 alphabet.
 * @BotFather's secrets are 35 characters today; a minimum of 30 is loose
 * enough for older ones and strict enough that a truncated paste, a
 * placeholder or a `-1:x` never reaches Telegram.
 */
const MIN_SECRET_LENGTH = 30;
/** Longer than any token Telegram issues; bounds what a caller can make sluice carry around. */
const MAX_TOKEN_LENGTH = 256;

/**
 * Checks a bot token strictly and takes it apart. Anything that is not
 * `<bot id>:<secret>` fails with an `InvalidOptionError` (option `token`)
 * that says what is wrong with it: never the token itself, which may be
 * a real one with a typo.
 *
 * @example
 * ```ts
 * parseToken("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"); // { botId: 123456789, secret: "AAHdq…" }
 * parseToken("-1:x"); // throws: the bot id must be a positive whole number
 * ```
 */
export function parseToken(token: string): ParsedToken {
    const problem = tokenProblem(token);
    if (problem !== undefined) {
        throw new InvalidOptionError("token", `expected a bot token as @BotFather gives it (\`<bot id>:<secret>\`), but ${problem}`);
    }
    const colon = token.indexOf(":");
    return { botId: Number(token.slice(0, colon)), secret: token.slice(colon + 1) };
}

/** What is wrong with `token`, said without repeating any of it; `undefined` when it is well-formed. */
function tokenProblem(token: unknown): string | undefined {
    if (typeof token !== "string") return `got ${token === null ? "null" : typeof token}`;
    if (token.length > MAX_TOKEN_LENGTH) return `got ${token.length} characters, more than any token has`;
    if (token.trim() !== token) return "it starts or ends with whitespace (copied with a newline?)";
    const colon = token.indexOf(":");
    if (colon < 0) return "it has no colon";
    const id = token.slice(0, colon);
    const secret = token.slice(colon + 1);
    if (!/^[1-9]\d*$/.test(id) || !Number.isSafeInteger(Number(id))) {
        return "the bot id before the colon is not a positive whole number (digits only, no sign, no leading zero)";
    }
    if (!/^[A-Za-z0-9_-]*$/.test(secret)) return "the secret after the colon has characters other than A-Z, a-z, 0-9, _ and -";
    if (secret.length < MIN_SECRET_LENGTH) {
        return `the secret after the colon has ${secret.length} characters, fewer than the ${MIN_SECRET_LENGTH} of a real one`;
    }
    return undefined;
}
