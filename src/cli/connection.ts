import type { Readable } from "node:stream";
import { SluiceError } from "../shared/errors.js";

/** A request body: none, JSON, or an NDJSON stream sent as it is read. */
export type RequestBody = unknown | { ndjson: Readable };

/**
 * How a command reaches a bot: through its admin API over HTTP (`--url`), or
 * through its store file in this process (`--store`). Both answer the same
 * routes with the same JSON, so every command is written once.
 */
export interface AdminConnection {
    /** Calls a route; returns its JSON answer, or throws a `SluiceError` carrying the answer's message. */
    call(method: string, path: string, body?: RequestBody): Promise<unknown>;
    /** Lets go of the connection (closes the store it opened). */
    close(): Promise<void>;
}

/** Where a command works, from its options. */
export interface ConnectionOptions {
    /** The bot's admin API, e.g. `http://127.0.0.1:8080`. */
    url?: string;
    /** The admin token (or `SLUICE_ADMIN_TOKEN`); only with `url`. */
    token?: string;
    /** A store file, worked on directly (also while a bot runs on it). */
    store?: string;
    /** Which bot of the store (or the bot of `BOT_TOKEN`, or the store's only bot). */
    bot?: string;
    /** A templates file (YAML), to check campaigns made with `--store` against. */
    templates?: string;
}

/** Opens the connection the options ask for: `--store` or `--url`, not both. */
export async function connect(options: ConnectionOptions): Promise<AdminConnection> {
    if (options.store !== undefined && options.url !== undefined) {
        throw new SluiceError("INVALID_OPTION", "Give either --store (work on the file) or --url (a running bot's admin API), not both.");
    }
    if (options.store !== undefined) {
        // Loaded only here: opening a store needs the outbox, journal and tasks, which a --url command does not.
        const { connectToStore } = await import("./store-connection.js");
        return connectToStore(options.store, options);
    }
    const { connectOverHttp } = await import("./http-connection.js");
    return connectOverHttp(options);
}

/** Runs `work` on a connection and closes it, whatever happens. */
export async function withConnection<T>(options: ConnectionOptions, work: (admin: AdminConnection) => Promise<T>): Promise<T> {
    const admin = await connect(options);
    try {
        return await work(admin);
    } finally {
        await admin.close();
    }
}

/** The JSON of an answer, or, for an error status, a `SluiceError` with the server's own message. */
export function answerOf(status: number, text: string, statusText = ""): unknown {
    let answer: { error?: { message?: string } } = {};
    try {
        answer = JSON.parse(text) as typeof answer;
    } catch {
        // Not JSON (a proxy's error page): the status says enough.
    }
    if (status >= 400) {
        throw new SluiceError("INVALID_OPTION", `The admin API answered ${status}: ${answer.error?.message ?? statusText}`);
    }
    return answer;
}
