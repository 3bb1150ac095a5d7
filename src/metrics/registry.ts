import type { Registry } from "prom-client";
import { promClient } from "./prom-client.js";

/**
 * The `metrics` option of `run`, `createOutbox` and `createTasks`: `true`
 * keeps sluice's series in a registry of their own; `{ registry }` adds them
 * to yours (prom-client's `Registry`, e.g. its `register`), next to your
 * series, where one `/metrics` route serves both. Every series is named
 * `sluice_…` and labelled with the bot id.
 */
export type MetricsOption = true | { registry?: Registry };

/** Where a component's series are, and their exposition text for a `/metrics` route. */
export interface Metrics {
    /** The registry holding sluice's series (yours, when you gave one). */
    readonly registry: Registry;
    /** The `bot_id` label of this bot's series: a registry shared by several bots holds theirs too. */
    readonly botId: number;
    /** Prometheus' text format of every series in `registry`; scrape-time gauges are read now. */
    text(): Promise<string>;
}

/** The registry the option asks for, as the handle of bot `botId`'s series. */
export function metricsOf(option: MetricsOption, botId: number): Metrics {
    const registry = (option === true ? undefined : option.registry) ?? new (promClient().Registry)();
    return { registry, botId, text: () => registry.metrics() };
}
