import type { Api } from "grammy";
import { botIdOfToken } from "../shared/bot-id.js";
import { SluiceError } from "../shared/errors.js";

/** Options of a command that calls the Bot API itself. */
export interface BotApiOptions {
    /** Where the Bot API is (or `BOT_API_ROOT`): a local Bot API server, or `sluice simulator`'s apiRoot. */
    apiRoot?: string;
}

/**
 * grammY's `Api` for the bot of `BOT_TOKEN` (from the environment only: a
 * token in a command line is kept in shell history and shown by `ps`).
 */
export async function botApi(options: BotApiOptions): Promise<Api> {
    const token = process.env.BOT_TOKEN;
    if (token === undefined || token === "") {
        throw new SluiceError("INVALID_OPTION", "Set BOT_TOKEN in the environment to the bot's token (from @BotFather).");
    }
    botIdOfToken(token, "BOT_TOKEN");
    const apiRoot = options.apiRoot ?? process.env.BOT_API_ROOT;
    // Loaded here: grammY is the user's own dependency, needed only by the commands that call Telegram.
    const { Api } = await import("grammy");
    return new Api(token, apiRoot === undefined ? {} : { apiRoot });
}
