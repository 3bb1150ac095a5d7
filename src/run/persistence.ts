import type { Transformer } from "grammy";
import { InvalidOptionError } from "../shared/errors.js";
import { Journal, type JournalOptions } from "../journal/journal.js";
import type { Logger } from "../shared/logger.js";
import type { OutboxLimits } from "../outbox/limiter.js";
import { type Outbox, type OutboxOptions, createOutbox } from "../outbox/outbox.js";
import { outboxTransformer } from "../outbox/transformer.js";
import { type Store, openStore } from "../store/store.js";

/** Outbox settings of `run`: the limits and retry settings; `true` takes the defaults. */
export type RunOutboxOptions = true | (OutboxLimits & Pick<OutboxOptions, "maxRetries" | "maxInFlight" | "keepSentMs">);

/** The parts of a grammY bot the outbox needs: its API with token, raw methods and transformers. */
interface BotWithApi {
    token?: string;
    api: unknown;
}
interface TransformableApi {
    token: string;
    raw: object;
    config: { use: (...transformers: Transformer[]) => unknown };
}

/** What `run` keeps on disk (or in memory): the journal and the outbox, in one store. */
export interface Persistence<Y extends { update_id: number }> {
    botId: number;
    journal: Journal<Y> | undefined;
    outbox: Outbox | undefined;
    /** Stops the outbox, closes the journal, then the store if `run` opened it. */
    close(): Promise<void>;
}

/**
 * Opens what `store` and `outbox` ask for: the store (when given a path), the
 * bot's journal in it, and an outbox on the same store (in memory without
 * one) installed as a transformer on `bot.api`.
 */
export function openPersistence<Y extends { update_id: number }>(
    bot: BotWithApi,
    options: { store?: string | Store; journal?: Omit<JournalOptions, "logger">; outbox?: RunOutboxOptions; logger?: Logger },
): Persistence<Y> | undefined {
    if (options.store === undefined && options.outbox === undefined) return undefined;
    const botId = Number(bot.token?.split(":")[0]);
    if (!Number.isSafeInteger(botId) || botId <= 0) {
        throw new InvalidOptionError("store", "sluice needs the bot's token (`bot.token`, as every grammY Bot has) to key its rows");
    }
    const ownStore = typeof options.store === "string";
    const store = typeof options.store === "string" ? openStore(options.store) : options.store;
    let journal: Journal<Y> | undefined;
    let outbox: Outbox | undefined;
    try {
        journal = store && Journal.open<Y>(store, botId, { ...options.journal, logger: options.logger });
        if (options.outbox !== undefined) {
            const api = bot.api as TransformableApi;
            if (typeof api.config?.use !== "function") {
                throw new InvalidOptionError("outbox", "the outbox needs a grammY bot (its `bot.api` takes transformers)");
            }
            const { maxRetries, maxInFlight, keepSentMs, ...limits } = options.outbox === true ? {} : options.outbox;
            outbox = createOutbox({ limits, maxRetries, maxInFlight, keepSentMs, store, api, logger: options.logger });
            api.config.use(outboxTransformer(outbox));
        }
    } catch (error) {
        journal?.close();
        if (ownStore) store?.close();
        throw error;
    }
    return {
        botId,
        journal,
        outbox,
        close: async () => {
            await outbox?.close();
            journal?.close();
            if (ownStore) store?.close();
        },
    };
}
