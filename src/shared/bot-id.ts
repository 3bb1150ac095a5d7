import { InvalidOptionError } from "./errors.js";

/**
 * The bot id of a token: the number before its colon (`123456:ABC…`). Stores
 * key every row by it. Fails with `InvalidOptionError` naming `option` when
 * there is none; the token itself never appears in the message.
 */
export function botIdOfToken(token: string | undefined, option: string): number {
    const botId = Number(token?.split(":")[0]);
    if (!Number.isSafeInteger(botId) || botId <= 0 || !token?.includes(":")) {
        throw new InvalidOptionError(
            option,
            "expected a bot whose token starts with its numeric id (`123456:ABC…`), as every grammY Bot has",
        );
    }
    return botId;
}
