/**
 * Drop-in compatibility, checked by the compiler (`npm run typecheck`):
 * every export sluice shares with `@grammyjs/runner` must fit wherever code
 * written against the reference expects it. Nothing here runs.
 */
import type * as reference from "@grammyjs/runner";
import type { Bot, Context } from "grammy";
import type { Update } from "grammy/types";
import * as sluice from "../../src/index.js";

declare const bot: Bot;

// The functions, called as code written for the reference calls them, return what it expects.
export const handle: reference.RunnerHandle = sluice.run(bot, {} satisfies reference.RunOptions<Update>);
export const runner: reference.RunnerHandle = sluice.createRunner(
    sluice.createSource(
        { supply: async () => [] as Update[] } satisfies reference.UpdateSupplier<Update>,
        {} satisfies reference.SourceOptions,
    ),
    sluice.createConcurrentSink(
        { consume: async () => {} } satisfies reference.UpdateConsumer<Update>,
        async () => {},
        {} satisfies reference.SinkOptions<Update>,
    ),
);
export const fetcher: (batchSize: number, signal: AbortSignal) => Promise<Update[]> = sluice.createUpdateFetcher(
    bot,
    {} satisfies reference.RunnerOptions,
);
export const sinks: reference.UpdateSink<Update>[] = [
    sluice.createConcurrentSink<Update>({ consume: async () => {} }, async () => {}),
    sluice.createSequentialSink<Update>({ consume: async () => {} }, async () => {}),
    sluice.createBatchSink<Update>({ consume: async () => {} }, async () => {}),
];
export const source: reference.UpdateSource<Update> = sluice.createSource<Update>({ supply: async () => [] });
export const middleware: ReturnType<typeof reference.sequentialize> = sluice.sequentialize();

// What sluice returns fits where code written for the reference keeps it.
export const sluiceHandle: reference.RunnerHandle = {} as sluice.RunHandle<Update>;
export const sink: reference.UpdateSink<Update> = {} as sluice.UpdateSink<Update>;
export const updateSource: reference.UpdateSource<Update> = {} as sluice.UpdateSource<Update>;
export const consumer: reference.UpdateConsumer<Update> = {} as sluice.UpdateConsumer<Update>;
export const runnerOptions: reference.RunnerOptions = {} as sluice.RunnerOptions;
export const fetchOptions: reference.FetchOptions = {} as sluice.FetchOptions;
export const sourceOptions: reference.SourceOptions = {} as sluice.SourceOptions;

// What code written for the reference passes in is accepted by sluice. (Not the other way round for two
// types, on purpose: sluice's timeout handler gets a third argument, and the reference types the signal
// a supplier gets with the abort-controller polyfill, which lacks `reason` and `throwIfAborted`.)
export const options: sluice.RunOptions<Update> = {} as reference.RunOptions<Update>;
export const sinkOptions: sluice.SinkOptions<Update> = {} as reference.SinkOptions<Update>;
export const supplier: sluice.UpdateSupplier<Update> = {} as reference.UpdateSupplier<Update>;
export const fromReferenceSink: sluice.UpdateSink<Update> = {} as reference.UpdateSink<Update>;
export const fromReferenceSource: sluice.UpdateSource<Update> = {} as reference.UpdateSource<Update>;

// Worker threads: the central bot's middleware and the worker's bot, as code written for the reference uses them.
declare const referenceWorkerBot: reference.BotWorker;
bot.use(sluice.distribute("./worker.js"));
bot.use(sluice.distribute("./worker.js", { count: 8 }));
export const distributed: ReturnType<typeof reference.distribute<Context>> = sluice.distribute<Context>("./worker.js");
export const distributeArguments: Parameters<typeof sluice.distribute<Context>> = [] as unknown as Parameters<
    typeof reference.distribute<Context>
>;
export const workerClass: new (...args: ConstructorParameters<typeof reference.BotWorker<Context>>) => reference.BotWorker<Context> =
    sluice.BotWorker<Context>;
export const workerBot: sluice.BotWorker = referenceWorkerBot;
