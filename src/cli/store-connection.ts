import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { buildAdminApp } from "../admin/admin-server.js";
import type { AdminTarget } from "../admin/admin-target.js";
import { Journal } from "../journal/journal.js";
import { Outbox } from "../outbox/outbox.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { SluiceError } from "../shared/errors.js";
import { OwnerLock, type OwnerRole } from "../store/owner-lock.js";
import { openStore, type Store, sqliteOf } from "../store/store.js";
import { Tasks } from "../tasks/tasks.js";
import { type AdminConnection, answerOf, type ConnectionOptions } from "./connection.js";
import { botIdsIn } from "./store-summary.js";

/** Which part of a bot a route writes to: the one whose owner must pick the write up. */
const ROLE_OF_ROUTE: [prefix: string, role: OwnerRole][] = [
    ["/v1/quarantine", "journal"],
    ["/v1/tasks", "tasks"],
    ["/v1/", "outbox"],
];

/**
 * Works on a store file directly, as a guest of whatever bot runs on it: the
 * admin API's routes answer in this process (requests injected into the
 * application, no socket), over a guest journal, outbox and tasks. A bot
 * that owns the store picks up what is written within a second; with none
 * running, it waits for the next start, and the command says so.
 */
export async function connectToStore(path: string, options: ConnectionOptions): Promise<AdminConnection> {
    if (!existsSync(path)) {
        throw new SluiceError("INVALID_OPTION", `There is no store at ${path}. Give the file the bot was started with (its \`store\`).`);
    }
    const store = openStore(path);
    try {
        const botId = botOf(store, options);
        const target: AdminTarget = {
            journal: Journal.guest(store, botId),
            outbox: Outbox.guest(store, botId, options.templates === undefined ? {} : { templates: options.templates }),
            tasks: Tasks.guest(store, botId),
            isRunning: () => OwnerLock.holder(store, botId, "journal") !== undefined,
        };
        // A token of the moment: the requests below are the only ones this application ever sees.
        const token = randomBytes(24).toString("hex");
        const app = await buildAdminApp({ handle: target, token });
        const noted = new Set<OwnerRole>();
        return {
            async call(method, path, body) {
                const ndjson = typeof body === "object" && body !== null && "ndjson" in body;
                const response = await app.inject({
                    method: method as "GET",
                    url: path,
                    headers: {
                        authorization: `Bearer ${token}`,
                        ...(body === undefined ? {} : { "content-type": ndjson ? "application/x-ndjson" : "application/json" }),
                    },
                    ...(body === undefined ? {} : { payload: ndjson ? (body as { ndjson: never }).ndjson : JSON.stringify(body) }),
                });
                const answer = answerOf(response.statusCode, response.body);
                if (method !== "GET") noteIfNobodyRuns(store, botId, roleOf(path), noted);
                return answer;
            },
            async close() {
                await app.close();
                store.close();
            },
        };
    } catch (error) {
        store.close();
        throw error;
    }
}

/** The bot a command is about: `--bot`, else the bot of `BOT_TOKEN`, else the store's only one. */
function botOf(store: Store, options: ConnectionOptions): number {
    if (options.bot !== undefined) {
        const botId = Number(options.bot);
        if (!Number.isSafeInteger(botId) || botId < 0) {
            throw new SluiceError(
                "INVALID_OPTION",
                `--bot takes a bot's numeric id (the number before the colon of its token), not ${options.bot}.`,
            );
        }
        return botId;
    }
    if (process.env.BOT_TOKEN !== undefined) return botIdOfToken(process.env.BOT_TOKEN, "BOT_TOKEN");
    const bots = botIdsIn(sqliteOf(store));
    if (bots.length === 1) return bots[0]!;
    throw new SluiceError(
        "INVALID_OPTION",
        bots.length === 0
            ? `The store ${store.path} holds no bot yet: say which with --bot <id> (or set BOT_TOKEN).`
            : `The store ${store.path} holds bots ${bots.join(", ")}: say which with --bot <id> (or set BOT_TOKEN).`,
    );
}

function roleOf(path: string): OwnerRole {
    return ROLE_OF_ROUTE.find(([prefix]) => path.startsWith(prefix))![1];
}

/** What a command wrote waits for the bot's next start when no process runs that part of it now: say so, once. */
function noteIfNobodyRuns(store: Store, botId: number, role: OwnerRole, noted: Set<OwnerRole>): void {
    if (noted.has(role) || OwnerLock.holder(store, botId, role) !== undefined) return;
    noted.add(role);
    const runner = role === "outbox" ? "the bot (or `sluice serve`)" : "the bot";
    process.stderr.write(
        `note: no process runs the ${role} of bot ${botId} on ${store.path} now; this takes effect when ${runner} starts\n`,
    );
}
