/**
 * What the simulator answers to a bot's calls: plausible Message objects for
 * sends and edits, and the few other results worth modelling. Results copy
 * what the payload said (text, caption, markup), so a test can read its bot's
 * output from the result just as from the payload. Which method answers with
 * which builder is declared in `methods.ts`; nothing here knows method names.
 */
import type { Chat } from "grammy/types";
import type { BotState } from "./bot.js";
import type { UpdateFeed } from "./get-updates.js";
import type { Payload, UploadedFile } from "./http.js";
import { type Random, randomIntBetween } from "./random.js";
import { defaultUserId, makeUser } from "./users.js";

/** One call being answered: what its answer may read and change. */
export interface MethodCall {
    /** The calling bot. */
    readonly bot: BotState;
    /** The call's parameters. */
    readonly payload: Payload;
    /** Unix time in seconds. */
    readonly now: number;
    /** The simulator's generator, for answers that vary (dice). */
    readonly random: Random;
    /** Delivery of the bot's updates, which the webhook methods change. */
    readonly feed: UpdateFeed;
}

/** What a method answers: its `result`, or a Bot API error (429s carry `retry_after`). */
export type MethodAnswer = { ok: true; result: unknown } | { ok: false; status: number; description: string; retryAfter?: number };

/** How a method answers a call. */
export type Answer = (call: MethodCall) => MethodAnswer;

/** A successful answer. */
export const ok = (result: unknown): MethodAnswer => ({ ok: true, result });

/** A 400 answer: `Bad Request: <what>`. */
export const badRequest = (what: string): MethodAnswer => ({ ok: false, status: 400, description: `Bad Request: ${what}` });

type Msg = Record<string, unknown>;

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

/** A text message (`sendMessage`); empty text is refused as Telegram refuses it. */
export const sendText: Answer = (call) => {
    if (isBlank(call.payload.text)) return badRequest("message text is empty");
    return ok(withText(newMessage(call), call.payload, "text", "entities"));
};

/** A message carrying the file in parameter `field` (`photo`, `video`, …), which is then required. */
export function sendFile(field: string): Answer {
    return (call) => {
        const input = call.payload[field];
        if (input === undefined) return badRequest(`there is no ${field} in the request`);
        const message = withText(newMessage(call), call.payload, "caption", "caption_entities");
        return ok(Object.assign(message, media(call, field, input)));
    };
}

/** An album: one message per item of `media`, sharing a `media_group_id`. */
export const sendMediaGroup: Answer = (call) => {
    const items = call.payload.media;
    if (!Array.isArray(items) || items.length === 0) return badRequest('parameter "media" must be a non-empty array');
    const groupId = String(13_000_000_000_000_000 + call.bot.nextSerial());
    const messages = items.map((item: { type?: unknown; media?: unknown; caption?: unknown }) => {
        const message = newMessage(call);
        message.media_group_id = groupId;
        const type = typeof item?.type === "string" ? item.type : "photo";
        Object.assign(message, media(call, type, item?.media));
        if (typeof item?.caption === "string") message.caption = item.caption;
        return message;
    });
    return ok(messages);
};

/** A message with a location. */
export const sendLocation: Answer = (call) => ok({ ...newMessage(call), location: location(call.payload) });

/** A message with a venue (and its location). */
export const sendVenue: Answer = (call) => {
    const { payload } = call;
    return ok({
        ...newMessage(call),
        location: location(payload),
        venue: { location: location(payload), title: payload.title, address: payload.address },
    });
};

/** A message with a contact. */
export const sendContact: Answer = (call) =>
    ok({ ...newMessage(call), contact: pick(call.payload, "phone_number", "first_name", "last_name", "vcard") });

/** A message with a fresh poll. */
export const sendPoll: Answer = (call) => ok({ ...newMessage(call), poll: poll(call) });

/** A message with a die thrown at random. */
export const sendDice: Answer = (call) => ok({ ...newMessage(call), dice: dice(call) });

/** A message with only the parts every message shares, for sends whose content the simulator does not model. */
export const sendBare: Answer = (call) => ok(newMessage(call));

/** A forwarded message, with where it came from. */
export const forwardMessage: Answer = (call) => ok({ ...newMessage(call), forward_origin: forwardOrigin(call) });

/** The id of one new message in the chat (`copyMessage` answers only that). */
export const newMessageId: Answer = (call) => ok({ message_id: call.bot.chats.nextMessageId(chatIdOf(call.payload) ?? 0) });

/** The ids of new messages in the chat, one per id in `message_ids`. */
export const newMessageIds: Answer = (call) => {
    const chatId = chatIdOf(call.payload) ?? 0;
    return ok(idsOf(call.payload).map(() => ({ message_id: call.bot.chats.nextMessageId(chatId) })));
};

/** An edited message with new text; empty text is refused. */
export const editText: Answer = (call) => {
    if (isBlank(call.payload.text)) return badRequest("text must be non-empty");
    return edited(call, (message) => withText(message, call.payload, "text", "entities"));
};

/** An edited message with a new caption. */
export const editCaption: Answer = (call) => edited(call, (message) => withText(message, call.payload, "caption", "caption_entities"));

/** An edited message with a new location. */
export const editLiveLocation: Answer = (call) =>
    edited(call, (message) => {
        message.location = location(call.payload);
    });

/** An edited message with new media (`media` is one InputMedia). */
export const editMedia: Answer = (call) =>
    edited(call, (message) => {
        const input = call.payload.media as { type?: unknown; media?: unknown; caption?: unknown } | undefined;
        const type = typeof input?.type === "string" ? input.type : "document";
        Object.assign(message, media(call, type, input?.media));
        if (typeof input?.caption === "string") message.caption = input.caption;
    });

/** An edited message with only the parts every edit shares (markup, for instance). */
export const editBare: Answer = (call) => edited(call);

/** The poll the call describes, closed. */
export const stopPoll: Answer = (call) => ok({ ...poll(call), is_closed: true });

/** The chat, as the bot knows it. */
export const getChat: Answer = (call) =>
    ok({ ...call.bot.chats.chat(chatIdOf(call.payload) ?? 0), accent_color_id: 0, max_reaction_count: 11, accepted_gift_types: {} });

/** A plain member: `user_id`, or the chat's default user. */
export const getChatMember: Answer = (call) => {
    const { payload } = call;
    return ok({ status: "member", user: makeUser(Number(payload.user_id ?? defaultUserId(Number(chatIdOf(payload))))) });
};

/** Two members in a private chat (the user and the bot), ten elsewhere. */
export const getChatMemberCount: Answer = (call) => {
    const chatId = chatIdOf(call.payload);
    return ok(typeof chatId === "number" && chatId > 0 ? 2 : 10);
};

/** The file behind `file_id`, with a download path. */
export const getFile: Answer = (call) => {
    const fileId = String(call.payload.file_id);
    return ok({ file_id: call.payload.file_id, file_unique_id: uniqueId(fileId), file_size: 1024, file_path: `files/${fileId}` });
};

function isBlank(text: unknown): boolean {
    return typeof text !== "string" || text.trim() === "";
}

// `chat_id` as sent: numeric text is not read as a number here, unlike in the
// checks before a call (`chatIdParam`); JSON clients send numbers.
function chatIdOf(payload: Payload): number | string | undefined {
    return payload.chat_id as number | string | undefined;
}

/** A new message by the bot in the chat, with the parts every message shares. */
function newMessage(call: MethodCall): Msg {
    const chatId = chatIdOf(call.payload) ?? 0;
    const chat = call.bot.chats.chat(chatId);
    const message: Msg = { message_id: call.bot.chats.nextMessageId(chatId) };
    addSender(call, message, chat);
    message.chat = chat;
    message.date = call.now;
    return decorate(call, message, chat);
}

/** An existing message as an edit returns it; `change` adds what the method changed. */
function edited(call: MethodCall, change?: (message: Msg) => void): MethodAnswer {
    const { payload } = call;
    // Inline messages belong to no chat the bot can see: Telegram answers `true`.
    if (payload.inline_message_id !== undefined) return ok(true);
    if (typeof payload.message_id !== "number") return badRequest("message identifier is not specified");
    const chat = call.bot.chats.chat(chatIdOf(payload) ?? 0);
    const message: Msg = { message_id: payload.message_id };
    addSender(call, message, chat);
    Object.assign(message, { chat, date: call.now, edit_date: call.now });
    decorate(call, message, chat);
    change?.(message);
    return ok(message);
}

// In channels, messages have `sender_chat` instead of `from`.
function addSender(call: MethodCall, message: Msg, chat: Chat): void {
    if (chat.type === "channel") message.sender_chat = chat;
    else message.from = call.bot.sender;
}

function decorate(call: MethodCall, message: Msg, chat: Chat): Msg {
    const { payload } = call;
    if (payload.message_thread_id !== undefined) message.message_thread_id = payload.message_thread_id;
    const replyTo = (payload.reply_parameters as { message_id?: unknown } | undefined)?.message_id ?? payload.reply_to_message_id;
    if (typeof replyTo === "number") message.reply_to_message = { message_id: replyTo, chat, date: call.now };
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

/** The message fields describing a file sent as `kind` (`photo`, `video`, …). */
function media(call: MethodCall, kind: string, input: unknown): Msg {
    const { payload } = call;
    const fileId = fileIdFor(call, kind, input);
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
            return {
                audio: {
                    ...file,
                    duration: typeof payload.duration === "number" ? payload.duration : 180,
                    file_size: size,
                    ...pick(payload, "performer", "title"),
                },
            };
        case "voice":
            return {
                voice: {
                    ...file,
                    duration: typeof payload.duration === "number" ? payload.duration : 5,
                    mime_type: "audio/ogg",
                    file_size: size,
                },
            };
        case "video_note":
            return {
                video_note: { ...file, length: typeof payload.length === "number" ? payload.length : 240, duration, file_size: size },
            };
        case "sticker":
            return { sticker: { ...file, type: "regular", width: 512, height: 512, is_animated: false, is_video: false, file_size: size } };
        default:
            return {
                document: {
                    ...file,
                    file_name: upload?.filename ?? "file.dat",
                    mime_type: upload?.contentType ?? "application/octet-stream",
                    file_size: size,
                },
            };
    }
}

// A string that is neither a URL nor an `attach://` reference is an existing
// file id, and Telegram answers with that same id.
function fileIdFor(call: MethodCall, kind: string, input: unknown): string {
    if (typeof input === "string" && !/^(attach|https?):\/\//.test(input)) return input;
    const serial = call.bot.nextSerial().toString(36).padStart(8, "0");
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

function poll(call: MethodCall): Msg {
    const { payload } = call;
    const options = Array.isArray(payload.options) ? payload.options : [];
    return {
        id: String(5_000_000_000_000_000 + call.bot.nextSerial()),
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
function dice(call: MethodCall): Msg {
    const emoji = typeof call.payload.emoji === "string" ? call.payload.emoji : "🎲";
    const max = emoji === "🎰" ? 64 : emoji === "🏀" || emoji === "⚽" ? 5 : 6;
    return { emoji, value: randomIntBetween(call.random, 1, max) };
}

function forwardOrigin(call: MethodCall): Msg {
    const { payload, now } = call;
    const chat = call.bot.chats.chat((payload.from_chat_id as number | string | undefined) ?? 0);
    if (chat.type === "private") return { type: "user", date: now, sender_user: makeUser(chat.id) };
    if (chat.type === "channel") return { type: "channel", date: now, chat, message_id: payload.message_id };
    return { type: "chat", date: now, sender_chat: chat };
}

function idsOf(payload: Payload): unknown[] {
    return Array.isArray(payload.message_ids) ? payload.message_ids : [];
}

function pick(payload: Payload, ...keys: string[]): Msg {
    const out: Msg = {};
    for (const key of keys) if (payload[key] !== undefined) out[key] = payload[key];
    return out;
}
