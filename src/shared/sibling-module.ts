import { fileURLToPath } from "node:url";

/**
 * Where to start a module that sits beside `importMetaUrl` in a new process
 * or worker thread, from the sources (run through tsx: the `.ts` file plus
 * tsx's loader) or from the compiled package (the `.js` file as it is).
 */
export function siblingModule(importMetaUrl: string, name: string): { path: string; execArgv: string[] } {
    const fromSource = importMetaUrl.endsWith(".ts");
    return {
        path: fileURLToPath(new URL(`./${name}.${fromSource ? "ts" : "js"}`, importMetaUrl)),
        execArgv: fromSource ? ["--import", tsxLoader()] : [],
    };
}

// Resolved from this file rather than the working directory, so it works
// whatever directory the process was started in.
function tsxLoader(): string {
    try {
        return import.meta.resolve("tsx");
    } catch {
        return "tsx";
    }
}
