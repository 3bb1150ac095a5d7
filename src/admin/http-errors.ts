import type { FastifyError } from "fastify";
import { SluiceError } from "../shared/errors.js";

/** The JSON body of every error answer: a stable code, and a message that says what to do. */
export interface ErrorBody {
    error: { code: string; message: string; field?: string };
}

/** HTTP statuses of sluice's own error codes; anything not listed is a 400 (the caller's input). */
const STATUS_OF: Partial<Record<string, number>> = {
    CAMPAIGN_UNKNOWN: 404,
    NOT_FOUND: 404,
    CAMPAIGN_STATE: 409,
    OUTBOX_CLOSED: 503,
    TASKS_CLOSED: 503,
};

/**
 * Turns what a route threw into a status and an `ErrorBody`: fastify's
 * schema and parsing errors (400 naming the field, 413 for a body over the
 * limit), sluice's typed errors by code, and anything else as a 500 whose
 * message is not echoed (it could carry internals).
 */
export function toErrorAnswer(error: unknown): { status: number; body: ErrorBody } {
    if (error instanceof SluiceError) {
        return { status: STATUS_OF[error.code] ?? 400, body: { error: { code: error.code, message: error.message } } };
    }
    const fastify = error as FastifyError;
    if (fastify.validation !== undefined) {
        const [first] = fastify.validation;
        const field = `${fastify.validationContext ?? "body"}${first?.instancePath.replaceAll("/", ".") ?? ""}`;
        const missing = first?.params && "missingProperty" in first.params ? `.${String(first.params.missingProperty)}` : "";
        return {
            status: 400,
            body: {
                error: {
                    code: "INVALID_REQUEST",
                    field: `${field}${missing}`,
                    message: `${field}${missing} ${first?.message ?? "is invalid"}`,
                },
            },
        };
    }
    if (fastify.statusCode === 413) {
        return {
            status: 413,
            body: { error: { code: "BODY_TOO_LARGE", message: "The request body is over the server's limit; send less per request." } },
        };
    }
    if (fastify.statusCode !== undefined && fastify.statusCode >= 400 && fastify.statusCode < 500) {
        return { status: fastify.statusCode, body: { error: { code: fastify.code ?? "BAD_REQUEST", message: fastify.message } } };
    }
    return { status: 500, body: { error: { code: "INTERNAL", message: "The server failed; its log says why." } } };
}

/** An error a route throws to answer with `status` (a 404 for something not there, say). */
export function httpError(status: number, code: string, message: string): Error {
    return Object.assign(new Error(message), { statusCode: status, code });
}

/** The part of the bot a route needs, or a 404 saying how to turn it on. */
export function need<T>(part: T | undefined, name: string, option: string): T {
    if (part === undefined) throw httpError(404, "NOT_CONFIGURED", `This bot has no ${name}; start it with \`${option}\`.`);
    return part;
}
