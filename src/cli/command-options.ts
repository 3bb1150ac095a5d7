import type { Command } from "commander";
import { type ConnectionOptions, type RequestBody, withConnection } from "./connection.js";

/** Options of a command that operates a bot. */
export type Options = ConnectionOptions & { json?: boolean };

/**
 * Adds where the command works (`--store` and `--bot`, or `--url` and
 * `--token`) and `--json` to a command that operates a bot.
 */
export function operating(command: Command): Command {
    return command
        .option("--store <path>", "work on the bot's store file directly (also while the bot runs)")
        .option("--bot <id>", "with --store: which bot (default: the bot of BOT_TOKEN, or the store's only one)")
        .option("--url <url>", "or: the bot's admin API, e.g. http://127.0.0.1:8080")
        .option("--token <token>", "with --url: the admin token (default: SLUICE_ADMIN_TOKEN)")
        .option("--json", "print JSON instead of text");
}

/** One call to the bot the options name. */
export function call(options: ConnectionOptions, method: string, path: string, body?: RequestBody): Promise<unknown> {
    return withConnection(options, (admin) => admin.call(method, path, body));
}

/** Prints an answer: JSON for scripts, otherwise the summary `describe` makes of it. */
export function print(options: { json?: boolean }, answer: unknown, describe: (answer: never) => string): void {
    process.stdout.write(options.json ? `${JSON.stringify(answer)}\n` : `${describe(answer as never)}\n`);
}
