import type { Chat } from "grammy/types";

/** The kinds of chat a synthetic message can come from. */
export type ChatType = "private" | "group" | "supergroup" | "channel";

/**
 * How a chat answers a bot's calls: `"active"` normally, `"blocked"` with 403
 * `Forbidden: bot was blocked by the user`, `"not_found"` with 400
 * `Bad Request: chat not found` (the bot was removed, or the id is wrong).
 */
export type ChatState = "active" | "blocked" | "not_found";

interface ChatEntry {
    chat: Chat;
    lastMessageId: number;
    state: ChatState;
}

const CHAT_NOT_FOUND = { status: 400, description: "Bad Request: chat not found" };

// Supergroup and channel ids are -100 followed by the internal id; basic
// groups are small negative numbers. That is how Telegram tells them apart.
const SUPERGROUP_BELOW = -1_000_000_000_000;

/** The chat type Telegram would report for `chatId`. */
export function inferChatType(chatId: number): ChatType {
    if (chatId > 0) return "private";
    return chatId <= SUPERGROUP_BELOW ? "supergroup" : "group";
}

/** A plausible Chat object for `chatId`. */
export function makeChat(chatId: number, type: ChatType = inferChatType(chatId)): Chat {
    if (type === "private") return { id: chatId, type, first_name: `User ${chatId}`, username: `user${chatId}` };
    if (type === "channel") return { id: chatId, type, title: `Channel ${-chatId}` };
    if (type === "supergroup") return { id: chatId, type, title: `Supergroup ${-chatId}` };
    return { id: chatId, type, title: `Group ${-chatId}` };
}

/**
 * What one bot knows about its chats: the Chat objects it has seen, the last
 * message id of each (message ids count per chat, shared by the users'
 * messages and the bot's own, as on Telegram), and chats set to fail.
 */
export class ChatDirectory {
    private readonly entries = new Map<number | string, ChatEntry>();
    // `@channelname` chat ids are mapped to stable negative numeric ids.
    private nextChannelId = -1_001_000_000_001;

    /** The chat for a `chat_id` parameter (number or `@username`), created on first use. */
    chat(chatId: number | string, type?: ChatType): Chat {
        return this.entry(chatId, type).chat;
    }

    /** Records the Chat object a synthetic update carried, so the bot's replies show the same chat. */
    remember(chat: Chat): void {
        const existing = this.entries.get(chat.id);
        if (existing === undefined) this.entries.set(chat.id, { chat, lastMessageId: 0, state: "active" });
        else existing.chat = chat;
    }

    /** The next message id in a chat. */
    nextMessageId(chatId: number | string): number {
        return ++this.entry(chatId).lastMessageId;
    }

    /** The latest message id in a chat (0 when it has none). */
    lastMessageId(chatId: number | string): number {
        return this.entries.get(chatId)?.lastMessageId ?? 0;
    }

    /**
     * Telegram's error for a call into the chat, by its state and type, or `undefined` when the chat accepts
     * the call. A call without a chat id fails like one into an unknown chat.
     */
    refusal(chatId: number | string | undefined): { status: number; description: string } | undefined {
        if (chatId === undefined) return CHAT_NOT_FOUND;
        const entry = this.entries.get(chatId);
        if (entry === undefined || entry.state === "active") return undefined;
        if (entry.state === "not_found") return CHAT_NOT_FOUND;
        const type = entry.chat.type;
        const description =
            type === "private"
                ? "Forbidden: bot was blocked by the user"
                : type === "channel"
                  ? "Forbidden: bot is not a member of the channel chat"
                  : `Forbidden: bot was kicked from the ${type === "supergroup" ? "supergroup" : "group"} chat`;
        return { status: 403, description };
    }

    /** Makes the chat answer calls as `state` from now on. */
    setState(chatId: number | string, state: ChatState): void {
        this.entry(chatId).state = state;
    }

    private entry(chatId: number | string, type?: ChatType): ChatEntry {
        let entry = this.entries.get(chatId);
        if (entry === undefined) {
            entry = { chat: this.newChat(chatId, type), lastMessageId: 0, state: "active" };
            this.entries.set(chatId, entry);
        }
        return entry;
    }

    private newChat(chatId: number | string, type?: ChatType): Chat {
        if (typeof chatId === "number") return makeChat(chatId, type);
        const username = chatId.replace(/^@/, "");
        return { id: this.nextChannelId--, type: "channel", title: username, username };
    }
}
