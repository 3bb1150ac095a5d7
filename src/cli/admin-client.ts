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
export async function callAdmin(remote: RemoteOptions, method: string, path: string, body?: unknown): Promise<unknown> {
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
        response = await fetch(new URL(path, url), {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
    } catch (error) {
        throw new SluiceError(
            "INVALID_OPTION",
            `Cannot reach the admin API at ${url}: ${(error as Error).message}. Is the bot running with admin on?`,
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
