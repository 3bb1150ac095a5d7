import type { Metrics } from "../metrics/registry.js";

/** One labelled value of a series, as prom-client reports it. */
export interface SeriesValue {
    labels: Partial<Record<string, string | number>>;
    value: number;
}

/**
 * Reads the current values of sluice's series for the dashboard, from the
 * first of the given handles whose registry holds the series (a standalone
 * outbox and tasks may each keep their own), keeping only that handle's bot:
 * a registry shared by several bots holds their values side by side, told
 * apart by `bot_id`. Scrape-time gauges are read now, as a scrape would.
 */
export class SeriesReader {
    private readonly sources: readonly Metrics[];

    constructor(sources: readonly (Metrics | undefined)[]) {
        this.sources = sources.filter((source) => source !== undefined);
    }

    /** The series' values for this bot; `undefined` if no registry holds it. */
    async values(name: string): Promise<SeriesValue[] | undefined> {
        for (const source of this.sources) {
            const series = source.registry.getSingleMetric(name);
            if (series === undefined) continue;
            const botId = String(source.botId);
            const { values } = await series.get();
            return values.filter((value) => String(value.labels.bot_id) === botId);
        }
        return undefined;
    }

    /** The sum of the series' values for this bot; `undefined` if no registry holds it. */
    async sum(name: string): Promise<number | undefined> {
        const values = await this.values(name);
        return values?.reduce((total, { value }) => total + value, 0);
    }

    /** The series' values for this bot summed by one label's value (`{ ok: 12, error: 1 }`); `undefined` if not there. */
    async byLabel(name: string, label: string): Promise<Record<string, number> | undefined> {
        const values = await this.values(name);
        if (values === undefined) return undefined;
        const sums: Record<string, number> = {};
        for (const { labels, value } of values) {
            const key = String(labels[label]);
            sums[key] = (sums[key] ?? 0) + value;
        }
        return sums;
    }
}
