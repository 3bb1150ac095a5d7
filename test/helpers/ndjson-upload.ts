/**
 * Uploads N recipients as NDJSON to the admin API from its own process, so
 * that the test measuring the server's memory does not also measure the
 * client's buffers. Environment: URL (the recipients route), TOKEN, N.
 * Prints the answer's status and body as one JSON line.
 */
import { Readable } from "node:stream";

const { URL: url, TOKEN, N } = process.env;
function* lines() {
    for (let n = 1; n <= Number(N); n++) yield `${JSON.stringify({ chatId: n, vars: { name: `user ${n}` } })}\n`;
}
const response = await fetch(url!, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-ndjson" },
    body: Readable.from(lines()) as unknown as ReadableStream,
    duplex: "half",
} as RequestInit);
process.stdout.write(`${JSON.stringify({ status: response.status, body: await response.json() })}\n`);
