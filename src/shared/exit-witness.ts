import { redactTokens } from "./redact.js";
import { currentUpdateScope, type UpdateScope } from "./update-scope.js";

/** How the process is ending, as seen from its `exit` event. */
export interface ObservedExit {
    /** What ended it, for people: `process.exit(3)`, `uncaught exception: Error: boom`, … */
    readonly description: string;
    /** The update whose handler (or something it started) ended the process; none if it came from elsewhere. */
    readonly culprit: UpdateScope | undefined;
}

/** Called synchronously while the process exits; must not throw, and cannot wait for anything. */
export type ExitWitness = (exit: ObservedExit) => void;

const witnesses = new Set<ExitWitness>();
/** The fatal error reported just before the exit, if the exit is Node's answer to one. */
let fatal: { origin: string; error: unknown } | undefined;

function onFatal(error: unknown, origin: string): void {
    fatal = { origin, error };
    // Still alive on the next turn: an uncaughtException listener of the application kept the process going.
    setImmediate(() => (fatal = undefined)).unref();
}

function onExit(code: number): void {
    // Nothing here may throw: a throw from an exit listener changes the exit code and skips later listeners.
    try {
        const culprit = currentUpdateScope();
        const description =
            fatal === undefined
                ? `process exit with code ${code}`
                : `${fatal.origin === "unhandledRejection" ? "unhandled rejection" : "uncaught exception"}: ${describe(fatal.error)}`;
        for (const witness of witnesses) {
            try {
                witness({ description, culprit });
            } catch {
                // A witness that fails must not keep the others from recording.
            }
        }
    } catch {
        // Not even a description could be made (a hostile error object): nothing is recorded.
    }
}

/**
 * Lets `witness` see the process end through `process.exit`, an uncaught
 * exception or an unhandled rejection (a death sluice can observe, as
 * opposed to SIGKILL, the OOM killer or a native crash). Node runs `exit`
 * listeners synchronously in the async context of the code that ended the
 * process, so `culprit` names the update whose handler did it. Only
 * monitoring listeners are added: how and when the process ends is
 * unchanged. Returns a function that removes the witness.
 */
export function witnessExit(witness: ExitWitness): () => void {
    if (witnesses.size === 0) {
        process.on("exit", onExit);
        process.on("uncaughtExceptionMonitor", onFatal);
    }
    witnesses.add(witness);
    return () => {
        if (!witnesses.delete(witness) || witnesses.size > 0) return;
        process.off("exit", onExit);
        process.off("uncaughtExceptionMonitor", onFatal);
    };
}

function describe(error: unknown): string {
    let text: string;
    try {
        text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    } catch {
        text = "an error that cannot be printed";
    }
    return redactTokens(text.length > 300 ? `${text.slice(0, 300)}…` : text);
}
