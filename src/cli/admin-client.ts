import type { Readable } from "node:stream";
import { SluiceError } from "../shared/errors.js";

/** Where a command reaches a running bot: its admin API, and the token (`--token` or `SLUICE_ADMIN_TOKEN`). */
export interface RemoteOptions {
    url?: string;
    token?: string;
}

/**
 * Calls a running bot's admin API and returns the JSON answer; an error
 * answer becomes a `SluiceError` carrying the server's own message (never
 * the token, which is only ever sent, in the Authorization header).
 */
export async function callAdmin(
    remote: RemoteOptions,
    method: string,
    path: string,
    body?: unknown | { ndjson: Readable },
): Promise<unknown> {
    const url = remote.url;
    const token = remote.token ?? process.env.SLUICE_ADMIN_TOKEN;
    if (url === undefined || token === undefined) {
        throw new SluiceError(
            "INVALID_OPTION",
            "This command talks to a running bot's admin API: pass --url http://host:8080 and --token (or set SLUICE_ADMIN_TOKEN).",
        );
    }
    let response: Response;
    try {
        response = await fetch(new URL(path, url), { method, ...requestBody(token, body) } as RequestInit);
    } catch (error) {
        throw new SluiceError(
            "INVALID_OPTION",
            `The request to the admin API at ${url} failed: ${describeFetchError(error)}. Check the file, or that the bot runs with admin on.`,
            {
                cause: error,
            },
        );
    }
    const answer = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
    if (!response.ok) {
        const problem = answer.error?.message ?? response.statusText;
        throw new SluiceError("INVALID_OPTION", `The admin API answered ${response.status}: ${problem}`);
    }
    return answer;
}

/** Headers and body of a request: none, JSON, or an NDJSON stream sent as it is read. */
function requestBody(token: string, body: unknown): { headers: Record<string, string>; body?: unknown; duplex?: "half" } {
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
