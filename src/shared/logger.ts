import { type DestinationStream, type Logger, pino } from "pino";
import { redactDeep, redactError, redactTokens } from "./redact.js";

export type { Logger } from "pino";

/**
 * Creates a logger the way sluice configures its own: pino, quiet by default
 * (`warn`, or `SLUICE_LOG_LEVEL`), with bot tokens scrubbed from messages,
 * bound fields and serialized errors.
 */
export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
    return pino(
        {
            name: options.name ?? "sluice",
            level: options.level ?? process.env.SLUICE_LOG_LEVEL ?? "warn",
            serializers: tokenFreeSerializers,
            formatters: { log: (fields) => redactDeep(fields) as Record<string, unknown> },
            hooks: {
                logMethod(args, method) {
                    const scrubbed = args.map((arg) => (typeof arg === "string" ? redactTokens(arg) : arg));
                    method.apply(this, scrubbed as Parameters<typeof method>);
                },
            },
        },
        options.destination,
    );
}

/**
 * The logger a component writes to: a child of the user's logger (or of a
 * shared quiet default) whose error serializer strips tokens, so even a
 * logger configured without redaction never prints one from sluice.
 */
export function componentLogger(component: string, parent?: Logger): Logger {
    return (parent ?? defaultLogger()).child({ component }, { serializers: tokenFreeSerializers });
}

/** Errors become plain, token-free objects (see `redactError`); anything else is redacted as it is. */
function serializeError(error: unknown): unknown {
    return error instanceof Error ? redactError(error) : redactDeep(error);
}

const tokenFreeSerializers = { err: serializeError, error: serializeError };

let shared: Logger | undefined;
function defaultLogger(): Logger {
    shared ??= createLogger();
    return shared;
}
