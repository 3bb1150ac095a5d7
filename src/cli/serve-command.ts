import { Command } from "commander";
import { createAdminServer } from "../admin/admin-server.js";
import { Journal } from "../journal/journal.js";
import { createOutbox } from "../outbox/outbox.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { openStore } from "../store/store.js";
import { Tasks } from "../tasks/tasks.js";
import { type BotApiOptions, botApi } from "./bot-api.js";

interface ServeOptions extends BotApiOptions {
    store: string;
    port: string;
    host: string;
    token?: string;
    templates?: string;
}

/** How long a stop waits for sends in flight. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * `sluice serve --store bot.db --port 8080`: a broadcast server for the bot
 * of `BOT_TOKEN`, without polling: its outbox sends what the store holds and
 * what the admin API (and its dashboard) is given: messages, campaigns,
 * requeued dead letters. The journal's quarantine and dead tasks are shown
 * and can be dropped; retries wait for the bot itself. Stops on SIGINT or
 * SIGTERM, letting sends in flight finish.
 */
export function serveCommand(): Command {
    return new Command("serve")
        .description("Send the bot's outbox and campaigns and serve the admin API and dashboard, without polling (BOT_TOKEN)")
        .requiredOption("--store <path>", "the bot's store file (created if missing)")
        .option("--port <port>", "admin API port (0: a free one)", "8080")
        .option("--host <host>", "interface the admin API listens on", "127.0.0.1")
        .option("--token <token>", "the admin token (default: SLUICE_ADMIN_TOKEN)")
        .option("--templates <file>", "message templates (YAML) for campaigns")
        .option("--api-root <url>", "the Bot API to send through (default: BOT_API_ROOT, or Telegram's)")
        .action(async (options: ServeOptions) => {
            const api = await botApi(options);
            const store = openStore(options.store);
            const botId = botIdOfToken(api.token, "BOT_TOKEN");
            const outbox = createOutbox({
                store,
                api,
                metrics: true,
                ...(options.templates === undefined ? {} : { templates: options.templates }),
            });
            const admin = await createAdminServer({
                handle: {
                    journal: Journal.guest(store, botId),
                    outbox,
                    tasks: Tasks.guest(store, botId),
                    metrics: outbox.metrics,
                    // No polling here: ready means sending, which lasts until Telegram refuses the token.
                    isRunning: () => true,
                },
                token: options.token ?? process.env.SLUICE_ADMIN_TOKEN ?? "",
                port: Number(options.port),
                host: options.host,
            }).catch(async (error: unknown) => {
                await outbox.close(0);
                store.close();
                throw error;
            });
            process.stdout.write(`serving bot ${botId}'s outbox; admin API and dashboard on ${admin.url}\n`);
            await new Promise<void>((resolve) => {
                for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
            });
            await admin.close();
            await outbox.close(STOP_TIMEOUT_MS);
            store.close();
        });
}
