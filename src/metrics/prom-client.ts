import { createRequire } from "node:module";

let loaded: typeof import("prom-client") | undefined;

/**
 * prom-client, loaded the first time metrics are asked for: a bot without
 * metrics does not pay its load time (about 50 ms) at startup, where it
 * delays the first update handled after every restart.
 */
export function promClient(): typeof import("prom-client") {
    loaded ??= createRequire(import.meta.url)("prom-client") as typeof import("prom-client");
    return loaded;
}
