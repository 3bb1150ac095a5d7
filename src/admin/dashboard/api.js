/** A refusal of the admin API, with its stable code (`CAMPAIGN_STATE`, `NOT_FOUND`, `UNAUTHORIZED`, …). */
export class ApiError extends Error {
    /**
     * @param {number} status
     * @param {string} code
     * @param {string} message
     */
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

/**
 * The headers of every call: the token goes in `Authorization`, never in a
 * URL, where it would be kept by the browser's history and servers' logs.
 *
 * @param {string} token
 * @returns {Record<string, string>}
 */
export function authorization(token) {
    return { authorization: `Bearer ${token}` };
}

/**
 * The error a failed answer carries: the API's `{ error: { code, message } }`,
 * or its status when the body is something else (a proxy's page, say).
 *
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export async function errorOf(response) {
    try {
        const body = await response.json();
        if (typeof body?.error?.message === "string") return new ApiError(response.status, body.error.code ?? "ERROR", body.error.message);
    } catch {
        // Not JSON: the status says what there is to say.
    }
    return new ApiError(response.status, `HTTP_${response.status}`, `The server answered ${response.status} ${response.statusText}.`);
}

/**
 * Calls the admin API with the token; resolves with its JSON answer, or
 * throws the `ApiError` it answered with.
 *
 * @param {string} token
 * @param {"GET" | "POST" | "DELETE"} method
 * @param {string} path
 * @returns {Promise<unknown>}
 */
export async function call(token, method, path) {
    const response = await fetch(path, { method, headers: authorization(token), cache: "no-store" });
    if (!response.ok) throw await errorOf(response);
    return response.json();
}
