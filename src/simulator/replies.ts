/**
 * Writing the simulator's answers late: after the latency injected for their
 * method, if any. The timers live here so that closing the simulator can
 * cancel every late answer and leave nothing that keeps the process alive.
 */
import type { ServerResponse } from "node:http";
import type { FaultInjector } from "./faults.js";
import { writeJson } from "./http.js";

/** Answers requests, each after the latency injected for its method. */
export class Replies {
    private readonly timers = new Set<NodeJS.Timeout>();

    constructor(private readonly faults: FaultInjector) {}

    /** Writes an answer, after the injected latency for `method` if any. */
    reply(res: ServerResponse, method: string, status: number, body: string): void {
        this.later(method, () => writeJson(res, status, body));
    }

    /** Runs `action` (an answer, or hanging up) after the injected latency for `method`; at once without. */
    later(method: string, action: () => void): void {
        this.afterMs(this.faults.active ? this.faults.latencyMs(method) : 0, action);
    }

    /** Runs `action` after `delay` ms; at once for 0. */
    afterMs(delay: number, action: () => void): void {
        if (delay <= 0) {
            action();
            return;
        }
        const timer = setTimeout(() => {
            this.timers.delete(timer);
            action();
        }, delay);
        this.timers.add(timer);
    }

    /** Drops every answer still waiting out its latency. */
    close(): void {
        for (const timer of this.timers) clearTimeout(timer);
        this.timers.clear();
    }
}
