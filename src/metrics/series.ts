import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { promClient } from "./prom-client.js";

/**
 * Get-or-create for series: several bots (and a bot's outbox and tasks)
 * may share one registry, which refuses a second series of a name; they
 * share the series and tell themselves apart by their `bot_id` label.
 */
export function counterIn<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return (
        (registry.getSingleMetric(name) as Counter<L> | undefined) ??
        new (promClient().Counter)({ name, help, labelNames, registers: [registry] })
    );
}

/** Get-or-create for histograms (see `counterIn`). */
export function histogramIn<L extends string>(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
): Histogram<L> {
    return (
        (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
        new (promClient().Histogram)({ name, help, labelNames, buckets, registers: [registry] })
    );
}

/** Sets a scrape-time gauge's values for one component (may read them from elsewhere first). */
export type GaugeReader<L extends string> = (gauge: Gauge<L>) => void | Promise<void>;

const readersOf = new WeakMap<Gauge<string>, Set<GaugeReader<string>>>();

/**
 * A gauge whose values are read when it is scraped, from every component
 * that registered a reader (each setting its own `bot_id`'s values): state
 * that lives in the store or in memory is not copied on every change, only
 * looked at when someone asks. Returns the function that removes the reader
 * (a closed component stops reporting rather than reporting stale values).
 */
export function scrapedGauge<L extends string>(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly L[],
    read: GaugeReader<L>,
): () => void {
    let gauge = registry.getSingleMetric(name) as Gauge<L> | undefined;
    if (gauge === undefined) {
        const readers = new Set<GaugeReader<L>>();
        const { Gauge: GaugeSeries } = promClient();
        gauge = new GaugeSeries<L>({
            name,
            help,
            labelNames,
            registers: [registry],
            async collect() {
                // Values of components that closed since the last scrape must not linger.
                this.reset();
                await Promise.all(Array.from(readers, (reader) => reader(this)));
            },
        });
        readersOf.set(gauge as Gauge<string>, readers as Set<GaugeReader<string>>);
    }
    const readers = readersOf.get(gauge as Gauge<string>) as Set<GaugeReader<L>>;
    readers.add(read);
    return () => readers.delete(read);
}
