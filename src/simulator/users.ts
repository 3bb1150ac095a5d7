import type { CallbackQuery, Chat, Message, MessageEntity, User } from "grammy/types";
import type { ChatType } from "./chats.js";

/**
 * A message a synthetic user sends to the bot. Only `chatId` and `text` are
 * needed; everything else gets a plausible default, so a test states only
 * what it cares about.
 *
 * @example
 * ```ts
 * sim.pushMessage(token, { chatId: 42, text: "/start" });                       // private chat, user 42
 * sim.pushMessage(token, { chatId: -100123, userId: 7, text: "hi all" });      // supergroup
 * ```
 */
export interface MessageSpec {
    /** Chat the message is in. Positive: a private chat; negative: a group (`-100…`: a supergroup). */
    chatId: number;
    /** Sender. @default `chatId` in a private chat, otherwise `-chatId` (one stable user per group) */
    userId?: number;
    /** Message text. A leading `/command` gets a `bot_command` entity, so `bot.command()` matches. */
    text: string;
    /** @default inferred from `chatId` */
    chatType?: Exclude<ChatType, "channel">;
    /** Unix time in seconds. @default now */
    date?: number;
    /** Sender's first name. @default `User <userId>` */
    firstName?: string;
    /** Sender's username. @default `user<userId>` */
    username?: string;
    /** Sender's IETF language tag. @default "en" */
    languageCode?: string;
}

/** A press on an inline button under one of the bot's messages. */
export interface CallbackQuerySpec {
    /** Chat of the message the button belongs to. */
    chatId: number;
    /** Who pressed. @default as for `MessageSpec.userId` */
    userId?: number;
    /** The button's `callback_data`. */
    data: string;
    /** Id of the message with the button. @default the chat's latest message id */
    messageId?: number;
    /** @default inferred from `chatId` */
    chatType?: Exclude<ChatType, "channel">;
}

/** The default sender of a message in `chatId`. */
export function defaultUserId(chatId: number): number {
    return chatId > 0 ? chatId : -chatId;
}

/** A human user with plausible names. */
export function makeUser(userId: number, spec: { firstName?: string; username?: string; languageCode?: string } = {}): User {
    return {
        id: userId,
        is_bot: false,
        first_name: spec.firstName ?? `User ${userId}`,
        username: spec.username ?? `user${userId}`,
        language_code: spec.languageCode ?? "en",
    };
}

const COMMAND = /^\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?/;

/** The entity grammY's `bot.command()` looks for when `text` starts with a command. */
export function commandEntities(text: string): MessageEntity[] | undefined {
    const match = COMMAND.exec(text);
    return match === null ? undefined : [{ type: "bot_command", offset: 0, length: match[0].length }];
}

/** A text message from a user, as Telegram delivers it in `update.message`. */
export function makeTextMessage(spec: MessageSpec, chat: Chat, messageId: number, date: number): Message {
    const from = makeUser(spec.userId ?? defaultUserId(spec.chatId), spec);
    const message: Record<string, unknown> = { message_id: messageId, from, chat, date: spec.date ?? date, text: spec.text };
    const entities = commandEntities(spec.text);
    if (entities !== undefined) message.entities = entities;
    return message as unknown as Message;
}

/** A callback query from a user pressing a button under `message`. */
export function makeCallbackQuery(spec: CallbackQuerySpec, id: string, message: Message): CallbackQuery {
    return {
        id,
        from: makeUser(spec.userId ?? defaultUserId(spec.chatId)),
        message,
        chat_instance: String(spec.chatId),
        data: spec.data,
    } as CallbackQuery;
}
