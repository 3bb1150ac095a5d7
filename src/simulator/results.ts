import type { Chat, User } from "grammy/types";
import type { ChatDirectory } from "./chats.js";
import { defaultUserId, makeUser } from "./users.js";
import type { Payload, UploadedFile } from "./http.js";
import { isMessageMethod } from "./methods.js";
import { type Random, randomIntBetween } from "./random.js";

/**
 * What the simulator answers to the methods a bot calls on chats: plausible
 * Message objects for sends and edits, `true` for the rest. Results copy what
 * the payload said (text, caption, markup), so a test can read its bot's
 * output from the result just as from the payload.
 */

/** What building a result needs to know about the bot and the moment. */
export interface ResultContext {
    /** The bot, as `from` of its messages. */
    bot: User;
    chats: ChatDirectory;
    /** Unix time in seconds. */
    now: number;
    random: Random;
    /** A fresh, unique suffix for file ids and media group ids. */
    nextSerial(): number;
    /** Commands set with `setMyCommands`. */
    commands: unknown[];
}

/** A call's outcome: the `result` to answer, or a Bot API error. */
export type Outcome = { ok: true; result: unknown } | { ok: false; status: number; description: string };

type Msg = Record<string, unknown>;

const ok = (result: unknown): Outcome => ({ ok: true, result });
const badRequest = (what: string): Outcome => ({ ok: false, status: 400, description: `Bad Request: ${what}` });

// The field holding the file, per sending method.
const MEDIA_FIELD: Record<string, string> = {
    sendPhoto: "photo",
    sendDocument: "document",
    sendVideo: "video",
    sendAudio: "audio",
    sendVoice: "voice",
    sendAnimation: "animation",
    sendSticker: "sticker",
    sendVideoNote: "video_note",
};

// Real file ids start with a prefix that encodes the file type; tests that
// print them see familiar shapes.
const FILE_ID_PREFIX: Record<string, string> = {
    photo: "AgACAgIAAxkBAAI",
    document: "BQACAgIAAxkBAAI",
    video: "BAACAgIAAxkBAAI",
    audio: "CQACAgIAAxkBAAI",
    voice: "AwACAgIAAxkBAAI",
    animation: "CgACAgIAAxkBAAI",
    sticker: "CAACAgIAAxkBAAI",
    video_note: "DQACAgIAAxkBAAI",
};

/** The result of `method` (a known method other than the update, webhook and `getMe` ones). */
export function resultFor(ctx: ResultContext, method: string, payload: Payload): Outcome {
    const chatId = payload.chat_id as number | string | undefined;
    if (method === "sendMessage" || method === "sendRichMessage") {
        if (typeof payload.text !== "string" || payload.text.trim() === "") return badRequest("message text is empty");
        return ok(withText(newMessage(ctx, chatId, payload), payload, "text", "entities"));
    }
    const mediaField = MEDIA_FIELD[method];
    if (mediaField !== undefined) {
        if (payload[mediaField] === undefined) return badRequest(`there is no ${mediaField} in the request`);
        const message = withText(newMessage(ctx, chatId, payload), payload, "caption", "caption_entities");
        return ok(Object.assign(message, media(ctx, mediaField, payload[mediaField], payload)));
    }
    switch (method) {
        case "sendMediaGroup":
            return mediaGroup(ctx, chatId, payload);
        case "sendLocation":
            return ok({ ...newMessage(ctx, chatId, payload), location: location(payload) });
        case "sendVenue":
            return ok({
                ...newMessage(ctx, chatId, payload),
                location: location(payload),
                venue: { location: location(payload), title: payload.title, address: payload.address },
            });
        case "sendContact":
            return ok({ ...newMessage(ctx, chatId, payload), contact: pick(payload, "phone_number", "first_name", "last_name", "vcard") });
        case "sendPoll":
            return ok({ ...newMessage(ctx, chatId, payload), poll: poll(ctx, payload) });
        case "sendDice":
            return ok({ ...newMessage(ctx, chatId, payload), dice: dice(ctx, payload) });
        case "copyMessage":
            return ok({ message_id: ctx.chats.nextMessageId(chatId ?? 0) });
        case "copyMessages":
        case "forwardMessages":
            return ok(idsOf(payload).map(() => ({ message_id: ctx.chats.nextMessageId(chatId ?? 0) })));
        case "forwardMessage":
            return ok({ ...newMessage(ctx, chatId, payload), forward_origin: forwardOrigin(ctx, payload) });
        case "stopPoll":
            return ok({ ...poll(ctx, payload), is_closed: true });
        case "getChat":
            return ok({ ...ctx.chats.chat(chatId ?? 0), accent_color_id: 0, max_reaction_count: 11, accepted_gift_types: {} });
        case "getChatMember":
            return ok({ status: "member", user: makeUser(Number(payload.user_id ?? defaultUserId(Number(chatId)))) });
        case "getChatMemberCount":
        case "getChatMembersCount":
            return ok(typeof chatId === "number" && chatId > 0 ? 2 : 10);
        case "getChatAdministrators":
            return ok([]);
        case "getMyCommands":
            return ok(ctx.commands);
        case "getFile":
            return ok({ file_id: payload.file_id, file_unique_id: uniqueId(String(payload.file_id)), file_size: 1024, file_path: `files/${String(payload.file_id)}` });
        case "getUserProfilePhotos":
            return ok({ total_count: 0, photos: [] });
        case "getMyName":
            return ok({ name: ctx.bot.first_name });
        case "getMyDescription":
            return ok({ description: "" });
        case "getMyShortDescription":
            return ok({ short_description: "" });
    }
    if (method.startsWith("editMessage")) return edit(ctx, method, chatId, payload);
    if (isMessageMethod(method)) return ok(newMessage(ctx, chatId, payload));
    return ok(true);
}

/** A new message by the bot in the chat, with the parts every message shares. */
function newMessage(ctx: ResultContext, chatId: number | string | undefined, payload: Payload): Msg {
    const chat = ctx.chats.chat(chatId ?? 0);
    const message: Msg = { message_id: ctx.chats.nextMessageId(chatId ?? 0) };
    addSender(ctx, message, chat);
    message.chat = chat;
    message.date = ctx.now;
    return decorate(ctx, message, chat, payload);
}

// In channels, messages have `sender_chat` instead of `from`.
function addSender(ctx: ResultContext, message: Msg, chat: Chat): void {
    if (chat.type === "channel") message.sender_chat = chat;
    else message.from = ctx.bot;
}

function decorate(ctx: ResultContext, message: Msg, chat: Chat, payload: Payload): Msg {
    if (payload.message_thread_id !== undefined) message.message_thread_id = payload.message_thread_id;
    const replyTo = (payload.reply_parameters as { message_id?: unknown } | undefined)?.message_id ?? payload.reply_to_message_id;
    if (typeof replyTo === "number") message.reply_to_message = { message_id: replyTo, chat, date: ctx.now };
    if (payload.protect_content === true) message.has_protected_content = true;
    // Only inline keyboards are part of a sent message; reply keyboards live in the client.
    const markup = payload.reply_markup as { inline_keyboard?: unknown } | undefined;
    if (markup?.inline_keyboard !== undefined) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    return message;
}

function withText(message: Msg, payload: Payload, textField: string, entitiesField: string): Msg {
    if (typeof payload[textField] === "string" && payload[textField] !== "") message[textField] = payload[textField];
    if (Array.isArray(payload[entitiesField])) message[entitiesField] = payload[entitiesField];
    return message;
}

function edit(ctx: ResultContext, method: string, chatId: number | string | undefined, payload: Payload): Outcome {
    if (method === "editMessageText" && (typeof payload.text !== "string" || payload.text.trim() === "")) {
        return badRequest("text must be non-empty");
    }
    // Inline messages belong to no chat the bot can see: Telegram answers `true`.
    if (payload.inline_message_id !== undefined) return ok(true);
    if (typeof payload.message_id !== "number") return badRequest("message identifier is not specified");
    const chat = ctx.chats.chat(chatId ?? 0);
    const message: Msg = { message_id: payload.message_id };
    addSender(ctx, message, chat);
    Object.assign(message, { chat, date: ctx.now, edit_date: ctx.now });
    decorate(ctx, message, chat, payload);
    if (method === "editMessageText") withText(message, payload, "text", "entities");
    else if (method === "editMessageCaption") withText(message, payload, "caption", "caption_entities");
    else if (method === "editMessageLiveLocation") message.location = location(payload);
    else if (method === "editMessageMedia") {
        const input = payload.media as { type?: unknown; media?: unknown; caption?: unknown } | undefined;
        const type = typeof input?.type === "string" ? input.type : "document";
        Object.assign(message, media(ctx, type, input?.media, payload));
        if (typeof input?.caption === "string") message.caption = input.caption;
    }
    return ok(message);
}

function mediaGroup(ctx: ResultContext, chatId: number | string | undefined, payload: Payload): Outcome {
    const items = payload.media;
    if (!Array.isArray(items) || items.length === 0) return badRequest("parameter \"media\" must be a non-empty array");
    const groupId = String(13_000_000_000_000_000 + ctx.nextSerial());
    const messages = items.map((item: { type?: unknown; media?: unknown; caption?: unknown }) => {
        const message = newMessage(ctx, chatId, payload);
        message.media_group_id = groupId;
        const type = typeof item?.type === "string" ? item.type : "photo";
        Object.assign(message, media(ctx, type, item?.media, payload));
        if (typeof item?.caption === "string") message.caption = item.caption;
        return message;
    });
    return ok(messages);
}

/** The message fields describing a file sent as `kind` (`photo`, `video`, …). */
function media(ctx: ResultContext, kind: string, input: unknown, payload: Payload): Msg {
    const fileId = fileIdFor(ctx, kind, input);
    const file = { file_id: fileId, file_unique_id: uniqueId(fileId) };
    const upload = typeof input === "object" && input !== null ? (input as UploadedFile) : undefined;
    const size = upload?.size ?? 48_213;
    const width = typeof payload.width === "number" ? payload.width : 1280;
    const height = typeof payload.height === "number" ? payload.height : 720;
    const duration = typeof payload.duration === "number" ? payload.duration : 10;
    switch (kind) {
        case "photo":
            return {
                photo: [
                    { file_id: `${fileId}_s`, file_unique_id: uniqueId(`${fileId}_s`), width: 90, height: 51, file_size: 1_200 },
                    { file_id: `${fileId}_m`, file_unique_id: uniqueId(`${fileId}_m`), width: 320, height: 180, file_size: 12_000 },
                    { ...file, width, height, file_size: size },
                ],
            };
        case "video":
            return { video: { ...file, width, height, duration, file_size: size } };
        case "animation": {
            const animation = { ...file, width, height, duration, file_size: size };
            // Telegram sends an animation also as a document, for old clients.
            return { animation, document: { ...file, file_name: upload?.filename ?? "animation.mp4", mime_type: "video/mp4" } };
        }
        case "audio":
            return { audio: { ...file, duration: typeof payload.duration === "number" ? payload.duration : 180, file_size: size, ...pick(payload, "performer", "title") } };
        case "voice":
            return { voice: { ...file, duration: typeof payload.duration === "number" ? payload.duration : 5, mime_type: "audio/ogg", file_size: size } };
        case "video_note":
            return { video_note: { ...file, length: typeof payload.length === "number" ? payload.length : 240, duration, file_size: size } };
        case "sticker":
            return { sticker: { ...file, type: "regular", width: 512, height: 512, is_animated: false, is_video: false, file_size: size } };
        default:
            return { document: { ...file, file_name: upload?.filename ?? "file.dat", mime_type: upload?.contentType ?? "application/octet-stream", file_size: size } };
    }
}

// A string that is neither a URL nor an `attach://` reference is an existing
// file id, and Telegram answers with that same id.
function fileIdFor(ctx: ResultContext, kind: string, input: unknown): string {
    if (typeof input === "string" && !/^(attach|https?):\/\//.test(input)) return input;
    const serial = ctx.nextSerial().toString(36).padStart(8, "0");
    return `${FILE_ID_PREFIX[kind] ?? FILE_ID_PREFIX.document}${serial}${Buffer.from(kind).toString("base64url")}`;
}

function uniqueId(fileId: string): string {
    let hash = 0x811c9dc5;
    for (let i = 0; i < fileId.length; i++) hash = Math.imul(hash ^ fileId.charCodeAt(i), 0x01000193);
    return `AQAD${(hash >>> 0).toString(36)}`;
}

function location(payload: Payload): Msg {
    return { latitude: Number(payload.latitude ?? 0), longitude: Number(payload.longitude ?? 0) };
}

function poll(ctx: ResultContext, payload: Payload): Msg {
    const options = Array.isArray(payload.options) ? payload.options : [];
    return {
        id: String(5_000_000_000_000_000 + ctx.nextSerial()),
        question: payload.question ?? "",
        options: options.map((option: unknown) => ({
            text: typeof option === "string" ? option : String((option as { text?: unknown })?.text ?? ""),
            voter_count: 0,
        })),
        total_voter_count: 0,
        is_closed: false,
        is_anonymous: payload.is_anonymous !== false,
        type: payload.type === "quiz" ? "quiz" : "regular",
        allows_multiple_answers: payload.allows_multiple_answers === true,
    };
}

// Dice values per emoji: 🎲🎯🎳 1–6, 🏀⚽ 1–5, 🎰 1–64.
function dice(ctx: ResultContext, payload: Payload): Msg {
    const emoji = typeof payload.emoji === "string" ? payload.emoji : "🎲";
    const max = emoji === "🎰" ? 64 : emoji === "🏀" || emoji === "⚽" ? 5 : 6;
    return { emoji, value: randomIntBetween(ctx.random, 1, max) };
}

function forwardOrigin(ctx: ResultContext, payload: Payload): Msg {
    const from = payload.from_chat_id as number | string | undefined;
    const chat = ctx.chats.chat(from ?? 0);
    if (chat.type === "private") return { type: "user", date: ctx.now, sender_user: makeUser(chat.id) };
    if (chat.type === "channel") return { type: "channel", date: ctx.now, chat, message_id: payload.message_id };
    return { type: "chat", date: ctx.now, sender_chat: chat };
}

function idsOf(payload: Payload): unknown[] {
    return Array.isArray(payload.message_ids) ? payload.message_ids : [];
}

function pick(payload: Payload, ...keys: string[]): Msg {
    const out: Msg = {};
    for (const key of keys) if (payload[key] !== undefined) out[key] = payload[key];
    return out;
}
