import type { Readable } from "node:stream";
import { SluiceError } from "../shared/errors.js";
import { type AdminConnection, answerOf, type ConnectionOptions, type RequestBody } from "./connection.js";

/**
 * A running bot's admin API over HTTP. The token is only ever sent, in the
 * Authorization header; errors carry the server's message, never the token.
 */
export function connectOverHttp(options: ConnectionOptions): AdminConnection {
    const { url } = options;
    const token = options.token ?? process.env.SLUICE_ADMIN_TOKEN;
    if (url === undefined || token === undefined) {
        throw new SluiceError(
            "INVALID_OPTION",
            "Say where the bot is: --store bot.db (its store file), or --url http://host:8080 with --token (or SLUICE_ADMIN_TOKEN) for its admin API.",
        );
    }
    return {
        async call(method, path, body) {
            let response: Response;
            try {
                response = await fetch(new URL(path, url), { method, ...requestBody(token, body) } as RequestInit);
            } catch (error) {
                throw new SluiceError(
                    "INVALID_OPTION",
                    `The request to the admin API at ${url} failed: ${describeFetchError(error)}. Check the URL, or that the bot runs with admin on.`,
                    { cause: error },
                );
            }
            return answerOf(response.status, await response.text(), response.statusText);
        },
        close: async () => {},
    };
}

/** Headers and body of a request: none, JSON, or an NDJSON stream sent as it is read. */
function requestBody(token: string, body: RequestBody): { headers: Record<string, string>; body?: unknown; duplex?: "half" } {
    const authorization = `Bearer ${token}`;
    if (body === undefined) return { headers: { authorization } };
    if (typeof body === "object" && body !== null && "ndjson" in body) {
        return {
            headers: { authorization, "content-type": "application/x-ndjson" },
            body: (body as { ndjson: Readable }).ndjson,
            duplex: "half",
        };
    }
    return { headers: { authorization, "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** fetch's own message is "fetch failed"; the reason is its cause's. */
function describeFetchError(error: unknown): string {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return cause ?? (error as Error).message;
}
