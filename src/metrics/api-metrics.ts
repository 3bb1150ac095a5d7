import type { Transformer } from "grammy";
import type { Registry } from "prom-client";
import { floodCounter, outboxCountsFloodsIn } from "./flood-metrics.js";
import { histogramIn } from "./series.js";

/** From a quick call to a long poll's 30 s wait (getUpdates is timed too). */
const REQUEST_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * A grammY API transformer timing every Bot API call of one bot by method
 * and result (`ok`, or `error` for Telegram's refusals and network
 * failures), and counting the calls answered 429 (see `floodCounter`).
 * Install it before the outbox's transformer: grammY runs the last installed
 * outermost, and this one must time the HTTP call, not the wait in the
 * outbox's queue.
 */
export function apiTimingTransformer(registry: Registry, botId: number): Transformer {
    const seconds = histogramIn(
        registry,
        "sluice_api_request_seconds",
        "Bot API calls by method and result, with their duration.",
        ["bot_id", "method", "result"],
        REQUEST_BUCKETS,
    );
    const floods = floodCounter(registry);
    const bot_id = String(botId);
    return async (prev, method, payload, signal) => {
        const started = performance.now();
        let result = "error";
        try {
            const response = await prev(method, payload, signal);
            if (response.ok) result = "ok";
            else if (response.error_code === 429 && !outboxCountsFloodsIn(registry)) floods.inc({ bot_id });
            return response;
        } finally {
            seconds.observe({ bot_id, method, result }, (performance.now() - started) / 1000);
        }
    };
}
