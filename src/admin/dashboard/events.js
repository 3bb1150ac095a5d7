import { authorization, errorOf } from "./api.js";

/** @typedef {import("../snapshot.js").Snapshot} Snapshot */

/** Reconnection waits grow from one second to this, so a restarting bot is found again soon. */
const MAX_RETRY_MS = 10_000;

/**
 * @typedef {object} FollowOptions
 * @property {string} token
 * @property {(snapshot: Snapshot) => void} onSnapshot Each snapshot, as it arrives (one a second).
 * @property {(live: boolean) => void} onConnection Whether the stream is open.
 * @property {(message: string) => void} onRefused The token was refused (401): following stopped.
 */

/**
 * Follows the bot's event stream (`GET /v1/events`) until stopped, and
 * reconnects when it breaks (the bot restarted, the network blinked).
 * Read with `fetch` rather than `EventSource`, which cannot send the
 * `Authorization` header: the token would have to ride in the URL.
 *
 * @param {FollowOptions} options
 * @returns {() => void} what stops following
 */
export function followEvents(options) {
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
        let retryMs = 1_000;
        while (!signal.aborted) {
            try {
                const response = await fetch("/v1/events", {
                    headers: { ...authorization(options.token), accept: "text/event-stream" },
                    cache: "no-store",
                    signal,
                });
                if (response.status === 401) return options.onRefused((await errorOf(response)).message);
                if (!response.ok || response.body === null) throw await errorOf(response);
                for await (const event of serverSentEvents(response.body)) {
                    if (event.type !== "snapshot") continue;
                    retryMs = 1_000;
                    options.onSnapshot(JSON.parse(event.data));
                    options.onConnection(true);
                }
            } catch {
                // A broken stream, a refused connection or a 503: wait, then try again below.
            }
            if (signal.aborted) return;
            options.onConnection(false);
            await new Promise((resolve) => setTimeout(resolve, retryMs));
            retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
        }
    })();
    return () => controller.abort();
}

/**
 * The events of a `text/event-stream` body, as this server writes them:
 * blocks ending in a blank line, with `event:` and `data:` fields.
 *
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{ type: string; data: string }>}
 */
async function* serverSentEvents(body) {
    const reader = body.getReader();
    // In streaming mode, a character split between two chunks is decoded whole.
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf("\n\n");
            let type = "message";
            const data = [];
            for (const line of block.split("\n")) {
                const colon = line.indexOf(":");
                if (colon <= 0) continue;
                const field = line.slice(0, colon);
                const text = line.slice(colon + 1).replace(/^ /, "");
                if (field === "event") type = text;
                else if (field === "data") data.push(text);
            }
            if (data.length > 0) yield { type, data: data.join("\n") };
        }
    }
}
