import type { IncomingMessage, ServerResponse } from "node:http";

/** The parameters of one Bot API call, as the simulator records them. */
export type Payload = Record<string, unknown>;

/** A request the simulator cannot read; answered 400 with `message` (or 413 when too large). */
export class UnreadableRequest extends Error {
    constructor(
        message: string,
        readonly status = 400,
    ) {
        super(message);
    }
}

// Telegram accepts uploads up to 50 MB; anything larger is a bug in the caller.
const MAX_BODY_BYTES = 50 * 1024 * 1024;

/**
 * Reads a call's parameters the three ways Telegram accepts them: JSON body,
 * form body (urlencoded or multipart), and query string. Query parameters are
 * overridden by body parameters of the same name.
 */
export async function readPayload(req: IncomingMessage, query: string): Promise<Payload> {
    const fromQuery = query === "" ? {} : fromForm(new URLSearchParams(query));
    const body = req.method === "GET" || req.method === "HEAD" ? EMPTY : await readBody(req);
    if (body.length === 0) return fromQuery;
    const type = (req.headers["content-type"] ?? "").toLowerCase();
    let fromBody: Payload;
    if (type.startsWith("multipart/form-data")) {
        const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(req.headers["content-type"] ?? "");
        const value = boundary?.[1] ?? boundary?.[2];
        if (value === undefined) throw new UnreadableRequest("Bad Request: multipart boundary is missing");
        fromBody = parseMultipart(body, value);
    } else if (type.startsWith("application/x-www-form-urlencoded")) {
        fromBody = fromForm(new URLSearchParams(body.toString("utf8")));
    } else {
        fromBody = parseJsonObject(body.toString("utf8"));
    }
    return query === "" ? fromBody : { ...fromQuery, ...fromBody };
}

const EMPTY = Buffer.alloc(0);

function readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
                reject(new UnreadableRequest("Request Entity Too Large", 413));
                req.destroy();
                return;
            }
            chunks.push(chunk);
        });
        req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
        req.on("error", reject);
        // A client that goes away mid-body never sends `end`; settle so nothing waits forever.
        req.on("close", () => {
            if (!req.complete) reject(new UnreadableRequest("client went away"));
        });
    });
}

function parseJsonObject(text: string): Payload {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        throw new UnreadableRequest("Bad Request: can't parse JSON body");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new UnreadableRequest("Bad Request: the JSON body must be an object");
    }
    return value as Payload;
}

// Fields whose values are free text: never turned into numbers or JSON,
// so a message "42" or "[draft]" stays a string.
const TEXT_FIELDS = new Set([
    "text",
    "caption",
    "question",
    "title",
    "description",
    "short_description",
    "name",
    "data",
    "query",
    "emoji",
    "first_name",
    "last_name",
    "phone_number",
    "address",
    "explanation",
    "url",
    "secret_token",
    "custom_title",
    "callback_query_id",
    "inline_message_id",
    "business_connection_id",
]);

/**
 * Form values are strings on the wire; clients send numbers, booleans and
 * objects (reply markup, entities) as their JSON text. Decode those so a
 * form call is recorded like the same call made with JSON.
 */
export function decodeFormValue(key: string, value: string): unknown {
    if (TEXT_FIELDS.has(key) || value === "") return value;
    const first = value.charCodeAt(0);
    const jsonish = first === 123 /* { */ || first === 91 /* [ */ || value === "true" || value === "false" || /^-?\d+(\.\d+)?$/.test(value);
    if (!jsonish) return value;
    try {
        const decoded: unknown = JSON.parse(value);
        // Ids beyond 2^53 would lose digits as numbers; keep them as text.
        return typeof decoded === "number" && !Number.isSafeInteger(decoded) && Number.isInteger(decoded) ? value : decoded;
    } catch {
        return value;
    }
}

function fromForm(params: URLSearchParams): Payload {
    const payload: Payload = {};
    for (const [key, value] of params) payload[key] = decodeFormValue(key, value);
    return payload;
}

/** What the simulator records for an uploaded file part (the bytes are not kept). */
export interface UploadedFile {
    filename: string;
    contentType: string;
    size: number;
}

const CRLF2 = Buffer.from("\r\n\r\n");

/**
 * A small multipart/form-data reader: text fields are decoded with
 * `decodeFormValue`; file parts (those with a filename) are recorded as
 * `UploadedFile` under their field name. Enough for what Bot API clients send.
 */
export function parseMultipart(body: Buffer, boundary: string): Payload {
    const payload: Payload = {};
    const delimiter = Buffer.from(`--${boundary}`);
    let start = body.indexOf(delimiter);
    while (start !== -1) {
        let partStart = start + delimiter.length;
        if (body[partStart] === 45 && body[partStart + 1] === 45) break; // "--": the closing delimiter
        if (body[partStart] === 13 && body[partStart + 1] === 10) partStart += 2;
        const end = body.indexOf(delimiter, partStart);
        if (end === -1) break;
        // The CRLF before the next delimiter belongs to the delimiter.
        const partEnd = body[end - 2] === 13 && body[end - 1] === 10 ? end - 2 : end;
        readPart(body.subarray(partStart, partEnd), payload);
        start = end;
    }
    return payload;
}

function readPart(part: Buffer, into: Payload): void {
    const split = part.indexOf(CRLF2);
    if (split === -1) return;
    const headers = part.subarray(0, split).toString("utf8");
    const content = part.subarray(split + CRLF2.length);
    const name = /(?:^|;)\s*name="([^"]*)"/im.exec(headers)?.[1];
    if (name === undefined) return;
    const filename = /filename\*?=\s*"?([^";\r\n]*)"?/i.exec(headers)?.[1];
    if (filename === undefined) {
        into[name] = decodeFormValue(name, content.toString("utf8"));
        return;
    }
    const contentType = /content-type:\s*([^\r\n;]+)/i.exec(headers)?.[1]?.trim() ?? "application/octet-stream";
    const file: UploadedFile = { filename, contentType, size: content.length };
    into[name] = file;
}

/** `chat_id` as Telegram reads it: a number (numeric text too) or an `@username`; `undefined` when missing or empty. */
export function chatIdParam(value: unknown): number | string | undefined {
    if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
    if (typeof value !== "string" || value === "") return undefined;
    return /^-?\d+$/.test(value) ? Number(value) : value;
}

/** An integer parameter, sent as a number or as numeric text; `undefined` when it is neither. */
export function integerParam(value: unknown): number | undefined {
    const number = typeof value === "string" ? Number(value) : value;
    return typeof number === "number" && Number.isFinite(number) ? Math.trunc(number) : undefined;
}

/** A list-of-strings parameter such as `allowed_updates`, without its non-strings; `undefined` when absent. */
export function stringListParam(value: unknown): string[] | undefined {
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : undefined;
}

/** Writes a JSON body with an explicit length, so keep-alive connections can be reused. */
export function writeJson(res: ServerResponse, status: number, body: string): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
}

/** The body of a successful Bot API answer. */
export function okBody(result: unknown): string {
    return JSON.stringify({ ok: true, result });
}

/** The body of a failed Bot API answer, with `parameters.retry_after` when given. */
export function errorBody(errorCode: number, description: string, parameters?: Record<string, unknown>): string {
    return JSON.stringify(
        parameters === undefined
            ? { ok: false, error_code: errorCode, description }
            : { ok: false, error_code: errorCode, description, parameters },
    );
}
