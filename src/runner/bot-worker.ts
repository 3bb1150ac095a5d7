import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { type Api, Bot, type BotConfig, BotError, type Context } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import { WorkerCannotPollError } from "../shared/errors.js";
import { witnessExit } from "../shared/exit-witness.js";
import { runInUpdateScope } from "../shared/update-scope.js";
import {
    createWitnessSlot,
    errorInfo,
    type FailedMessage,
    PROTOCOL_ENV,
    PROTOCOL_VERSION,
    type ReadyMessage,
    type WorkerMessage,
} from "./worker-protocol.js";

/**
 * A bot that runs in a worker thread and handles the updates a central bot
 * sends it with `distribute`: it never polls (its `start`, `stop` and any
 * `getUpdates` call fail with `WORKER_CANNOT_POLL`). Build it in its own file
 * and put the bot's logic there, as with a `Bot`:
 *
 * ```ts
 * // worker.ts
 * import { BotWorker } from "sluice";
 * const bot = new BotWorker(process.env.BOT_TOKEN!);
 * bot.on("message", (ctx) => ctx.reply("yay!"));
 * ```
 *
 * The central bot (`bot.use(distribute(workerFile))`) only fetches. Plugins
 * installed there are not seen here, and the context types may differ.
 *
 * Under sluice's `distribute`, a handler error that no `bot.catch` of this
 * bot handles goes back to the central bot, as a `WORKER_HANDLER_FAILED`
 * error for its error handler; and if a handler ends the thread, the
 * central bot learns which update did it (see `distribute`). Under the
 * reference's `distribute` it behaves as the reference's `BotWorker`.
 */
export class BotWorker<C extends Context = Context, A extends Api = Api> extends Bot<C, A> {
    constructor(token: string, config?: BotConfig<C>) {
        super(token, config);
        // grammY's default handler, to tell later whether the worker file set its own with bot.catch.
        const defaultErrorHandler = this.errorHandler;
        // run(), the reference's run() and bot.start() all poll through getUpdates: refusing it refuses them all.
        this.api.config.use((previous, method, payload, signal) => {
            if (method === "getUpdates") throw new WorkerCannotPollError("call getUpdates");
            return previous(method, payload, signal);
        });
        if (isMainThread || parentPort === null) return; // built outside a thread (a test, a type check): nothing to serve
        const port = parentPort;
        const me = workerData as UserFromGetMe | undefined;
        if (config?.botInfo === undefined && isUserFromGetMe(me)) this.botInfo = me;
        const sluiceCentral = process.env[PROTOCOL_ENV] === PROTOCOL_VERSION;
        const send = (message: WorkerMessage) => port.postMessage(message);
        let announce = () => {};
        if (sluiceCentral) {
            const witness = createWitnessSlot();
            // The thread's exit runs in the async context of the code that ended it: name the update, if a handler did.
            witnessExit(({ culprit }) => {
                if (culprit !== undefined) Atomics.store(witness, 0, BigInt(culprit.updateId));
            });
            // Once the worker file has loaded (the next turn) or an update arrives, whichever is first: a file that
            // throws while it loads, after building the bot, must show no sign of life (see distribute's failed starts).
            announce = () => {
                announce = () => {};
                send({ sluice: "ready", witness: witness.buffer as SharedArrayBuffer } satisfies ReadyMessage);
            };
            setImmediate(() => announce());
        }
        const botId = Number(token.split(":")[0]) || 0;
        port.on("message", async (update: Update) => {
            announce();
            let failure: unknown;
            let failed = false;
            try {
                await runInUpdateScope(botId, update.update_id, () => this.handleUpdate(update));
            } catch (error) {
                const own = this.errorHandler !== defaultErrorHandler;
                if (own || !sluiceCentral) {
                    try {
                        await this.errorHandler(error instanceof BotError ? error : new BotError(error, undefined as never));
                    } catch (thrown) {
                        // The reference's worker dies of this rethrow. Here sluice's central bot is told; under the
                        // reference's, grammY's default handler has printed it and the update counts as handled.
                        failure = thrown instanceof BotError ? thrown.error : thrown;
                        failed = sluiceCentral;
                    }
                } else {
                    failure = error instanceof BotError ? error.error : error;
                    failed = true;
                }
            }
            if (failed) send({ sluice: "failed", updateId: update.update_id, error: errorInfo(failure) } satisfies FailedMessage);
            else send(update.update_id);
        });
    }

    /** Refused: a worker gets its updates from the central bot's `distribute`. */
    override start(): Promise<void> {
        throw new WorkerCannotPollError("start polling (bot.start())");
    }

    /** Refused: a worker is stopped with the central bot. */
    override stop(): Promise<void> {
        throw new WorkerCannotPollError("stop polling (bot.stop())");
    }
}

function isUserFromGetMe(value: unknown): value is UserFromGetMe {
    return typeof value === "object" && value !== null && typeof (value as UserFromGetMe).id === "number";
}
