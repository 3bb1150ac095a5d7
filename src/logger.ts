import { pino, type Logger } from "pino";
import { redactDeep, redactTokens } from "./redact.js";

export type { Logger } from "pino";

/**
 * Creates sluice's logger: pino, quiet by default (`warn`), with every bot
 * token scrubbed from messages, bound fields and serialized errors.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
    return pino({
        name: options.name ?? "sluice",
        level: options.level ?? process.env.SLUICE_LOG_LEVEL ?? "warn",
        serializers: { err: serializeError, error: serializeError },
        formatters: { log: (fields) => redactDeep(fields) as Record<string, unknown> },
        hooks: {
            logMethod(args, method) {
                method.apply(
                    this,
                    args.map((arg) => (typeof arg === "string" ? redactTokens(arg) : arg)) as Parameters<typeof method>,
                );
            },
        },
    });
}

/** Error serializer that keeps name, code, message and stack, all token-free. */
function serializeError(error: unknown): unknown {
    if (!(error instanceof Error)) return redactDeep(error);
    const plain: Record<string, unknown> = {
        type: error.name,
        message: redactTokens(error.message),
        stack: error.stack === undefined ? undefined : redactTokens(error.stack),
    };
    for (const key of ["code", "error_code", "description", "method"] as const) {
        if (key in error) plain[key] = redactDeep((error as unknown as Record<string, unknown>)[key]);
    }
    if (error.cause !== undefined) plain.cause = serializeError(error.cause);
    return plain;
}

/**
 * Returns the logger a component should use: a child of the user's logger
 * when one was given, otherwise a child of a default quiet logger.
 */
export function componentLogger(component: string, parent?: Logger): Logger {
    return (parent ?? defaultLogger()).child({ component });
}

let shared: Logger | undefined;
function defaultLogger(): Logger {
    shared ??= createLogger();
    return shared;
}
