import { Command } from "commander";
import { createOutbox } from "../outbox/outbox.js";
import { type BotApiOptions, botApi } from "./bot-api.js";
import { call, type Options, operating, print } from "./command-options.js";

/**
 * `sluice send --chat 123 --text "Hello"`: one message through the bot's
 * outbox. With `--store` it is queued in the bot's store (a running bot
 * sends it within a second); with `--url`, through its admin API; with
 * neither, it is sent now for the bot of `BOT_TOKEN`, within Telegram's
 * limits, and Telegram's answer is printed.
 */
export function sendCommand(): Command {
    return operating(new Command("send").description("Send a message through the bot's outbox"))
        .requiredOption("--chat <id>", "the chat to send to")
        .requiredOption("--text <text>", "the message text")
        .option("--parse-mode <mode>", "HTML, MarkdownV2 or Markdown")
        .option("--api-root <url>", "without --store or --url: the Bot API to send through (default: BOT_API_ROOT, or Telegram's)")
        .action(async (options: Options & BotApiOptions & { chat: string; text: string; parseMode?: string }) => {
            const chat_id = /^-?\d+$/.test(options.chat) ? Number(options.chat) : options.chat;
            const payload = { chat_id, text: options.text, ...(options.parseMode === undefined ? {} : { parse_mode: options.parseMode }) };
            if (options.store !== undefined || options.url !== undefined) {
                const answer = await call(options, "POST", "/v1/messages", { method: "sendMessage", payload });
                return print(options, answer, (queued: { id: number }) => `queued as message ${queued.id}`);
            }
            const outbox = createOutbox({ api: await botApi(options) });
            try {
                const { id } = outbox.enqueue({ method: "sendMessage", payload });
                const sent = await outbox.sent(id);
                print(options, sent, (message: { message_id: number }) => `sent as message ${message.message_id} in chat ${options.chat}`);
            } finally {
                await outbox.close();
            }
        });
}
