import type { Transformer } from "grammy";
import { Journal, type JournalOptions } from "../journal/journal.js";
import { createOutbox, type Outbox, type OutboxSettings } from "../outbox/outbox.js";
import { outboxTransformer } from "../outbox/transformer.js";
import { botIdOfToken } from "../shared/bot-id.js";
import { InvalidOptionError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { openStore, type Store } from "../store/store.js";

/** The outbox of `run`: `true` for the default settings, or the settings `createOutbox` takes. */
export type RunOutboxOptions = true | OutboxSettings;

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
    /**
     * Stops the outbox (cancelling sends still in flight after `timeoutMs`;
     * they stay queued), closes the journal, then the store if `run` opened it.
     */
    close(timeoutMs: number): Promise<void>;
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
    const botId = botIdOfToken(bot.token, options.store === undefined ? "outbox" : "store");
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
            outbox = createOutbox({ ...(options.outbox === true ? {} : options.outbox), store, api, logger: options.logger });
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
        close: async (timeoutMs) => {
            await outbox?.close(timeoutMs);
            journal?.close();
            if (ownStore) store?.close();
        },
    };
}
