/**
 * The chat and the user an update belongs to, read from the raw update
 * Telegram sent (no grammY context needed). The sink's lanes, `sequentialize`
 * and the journal's quarantine labels all read them here.
 */

/** The update fields that carry a chat and/or a user, in Bot API order. */
interface UpdateLike {
    [field: string]: unknown;
}

interface PayloadLike {
    chat?: { id: number };
    from?: { id: number };
    user?: { id: number };
    message?: { chat?: { id: number } };
    voter_chat?: { id: number };
}

/**
 * Keys of the default constraint for a raw Telegram update: its chat id and
 * its user id. In a private chat both are the same number and so the same
 * key, which is also the right lane: it is one person. Updates without a chat
 * or user (polls, for instance) get no key and run unconstrained.
 */
export function chatAndUserOfUpdate(update: unknown): string[] | undefined {
    const payload = payloadOf(update);
    return payload === undefined ? undefined : keysOf(payload);
}

/** The chat an update belongs to, if it has one (used to label journal rows). */
export function chatIdOfUpdate(update: unknown): number | undefined {
    const payload = payloadOf(update);
    return payload === undefined ? undefined : chatOf(payload);
}

/** The update's one payload object (`message`, `callback_query`, …). */
function payloadOf(update: unknown): PayloadLike | undefined {
    if (typeof update !== "object" || update === null) return undefined;
    const message = (update as UpdateLike).message; // by far the most common kind, checked without a scan
    if (typeof message === "object" && message !== null) return message as PayloadLike;
    for (const field in update as UpdateLike) {
        if (field === "update_id") continue;
        const payload = (update as UpdateLike)[field];
        if (typeof payload === "object" && payload !== null) return payload as PayloadLike;
    }
    return undefined;
}

function chatOf(payload: PayloadLike): number | undefined {
    return payload.chat?.id ?? payload.message?.chat?.id ?? payload.voter_chat?.id;
}

function keysOf(payload: PayloadLike): string[] | undefined {
    const chat = chatOf(payload);
    const user = payload.from?.id ?? payload.user?.id;
    if (chat === undefined) return user === undefined ? undefined : [String(user)];
    if (user === undefined || user === chat) return [String(chat)];
    return [String(chat), String(user)];
}
