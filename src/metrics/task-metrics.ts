import type { Registry } from "prom-client";
import { scrapedGauge } from "./series.js";

/** Tasks by state; `queued` as stored includes those running (a kill runs them again). */
export interface TaskCounts {
    queued: number;
    running: number;
    done: number;
    dead: number;
}

/**
 * Reports `sluice_tasks{state}` for one bot's tasks, counted at scrape time
 * (each state by its own index). Returns the function that stops reporting.
 */
export function measureTasks(registry: Registry, botId: number, counts: () => TaskCounts): () => void {
    const bot_id = String(botId);
    return scrapedGauge(registry, "sluice_tasks", "Durable tasks by state.", ["bot_id", "state"], (gauge) => {
        const { queued, running, done, dead } = counts();
        gauge.set({ bot_id, state: "queued" }, queued - running);
        gauge.set({ bot_id, state: "running" }, running);
        gauge.set({ bot_id, state: "done" }, done);
        gauge.set({ bot_id, state: "dead" }, dead);
    });
}
