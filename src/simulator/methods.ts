/**
 * The Bot API methods the simulator serves, and how: the one table to extend
 * when Telegram adds a method. Telegram matches method names
 * case-insensitively and answers 404 for names it does not know; a method
 * missing here is answered 404 too, like a typo.
 *
 * Each entry says whether the method puts a message into a chat (flood
 * limits, `sim.sent()`), whether it needs a chat that accepts the bot, and
 * what it answers; `results.ts` builds the answers worth modelling.
 */
import { stringListParam } from "./http.js";
import {
    type Answer,
    badRequest,
    editBare,
    editCaption,
    editLiveLocation,
    editMedia,
    editText,
    forwardMessage,
    getChat,
    getChatMember,
    getChatMemberCount,
    getFile,
    type MethodAnswer,
    type MethodCall,
    newMessageId,
    newMessageIds,
    ok,
    sendBare,
    sendContact,
    sendDice,
    sendFile,
    sendLocation,
    sendMediaGroup,
    sendPoll,
    sendText,
    sendVenue,
    stopPoll,
} from "./results.js";

/** `getUpdates`: served by the update feed (`get-updates.ts`), which may hold the request open. Counted, never recorded. */
export interface LongPollSpec {
    readonly kind: "longPoll";
}

/** A method answered at once: by its `answer`, after the checks its traits call for. */
export interface CallSpec {
    readonly kind: "call";
    /**
     * Puts or changes a message in a chat. Such calls count against flood
     * limits (Telegram's limits are about messages); successful ones count as
     * sent and are listed by `sim.sent()`. Implies `chat`.
     */
    readonly message: boolean;
    /** Needs `chat_id` (unless it addresses an inline message) and fails for blocked or unknown chats. */
    readonly chat: boolean;
    /** Kept for `sim.calls()`. `getMe` is not: a bot calls it on every start, and tests read the log for what their bot did. */
    readonly recorded: boolean;
    /** The result, or a Bot API error. */
    readonly answer: Answer;
}

/** How the simulator serves one Bot API method. */
export type MethodSpec = LongPollSpec | CallSpec;

/** A method's spec under its canonical name. */
export type Method = MethodSpec & { readonly name: string };

const answerTrue: Answer = () => ok(true);
// Most methods change state the simulator does not model; like Telegram, they answer `true`.
const plain = (answer: Answer = answerTrue): CallSpec => ({ kind: "call", message: false, chat: false, recorded: true, answer });
const inChat = (answer: Answer = answerTrue): CallSpec => ({ kind: "call", message: false, chat: true, recorded: true, answer });
const message = (answer: Answer): CallSpec => ({ kind: "call", message: true, chat: true, recorded: true, answer });

// The methods of the Bot API as typed by @grammyjs/types, in the order of its
// documentation, plus deprecated aliases Telegram still answers.
const METHODS: Readonly<Record<string, MethodSpec>> = {
    // Getting updates
    getUpdates: { kind: "longPoll" },
    setWebhook: plain(setWebhook),
    deleteWebhook: plain(({ bot, payload, feed }) => {
        feed.deleteWebhook(bot, payload.drop_pending_updates === true);
        return ok(true);
    }),
    getWebhookInfo: plain(getWebhookInfo),

    // Available methods
    getMe: { ...plain(({ bot }) => ok(bot.account.botInfo)), recorded: false },
    logOut: plain(),
    close: plain(),
    sendMessage: message(sendText),
    sendRichMessage: message(sendText),
    forwardMessage: message(forwardMessage),
    forwardMessages: message(newMessageIds),
    copyMessage: message(newMessageId),
    copyMessages: message(newMessageIds),
    sendPhoto: message(sendFile("photo")),
    sendLivePhoto: message(sendBare),
    sendAudio: message(sendFile("audio")),
    sendDocument: message(sendFile("document")),
    sendVideo: message(sendFile("video")),
    sendAnimation: message(sendFile("animation")),
    sendVoice: message(sendFile("voice")),
    sendVideoNote: message(sendFile("video_note")),
    sendPaidMedia: message(sendBare),
    sendMediaGroup: message(sendMediaGroup),
    sendLocation: message(sendLocation),
    editMessageLiveLocation: message(editLiveLocation),
    stopMessageLiveLocation: plain(),
    sendVenue: message(sendVenue),
    sendContact: message(sendContact),
    sendPoll: message(sendPoll),
    sendChecklist: message(sendBare),
    editMessageChecklist: message(editBare),
    sendDice: message(sendDice),
    // Drafts are shown while being typed; they are not messages in the chat.
    sendMessageDraft: plain(),
    sendRichMessageDraft: plain(),
    sendChatAction: inChat(),
    setMessageReaction: plain(),
    getUserProfilePhotos: plain(() => ok({ total_count: 0, photos: [] })),
    getUserProfileAudios: plain(),
    setUserEmojiStatus: plain(),
    getFile: plain(getFile),
    banChatMember: plain(),
    unbanChatMember: plain(),
    restrictChatMember: plain(),
    promoteChatMember: plain(),
    setChatAdministratorCustomTitle: plain(),
    setChatMemberTag: plain(),
    banChatSenderChat: plain(),
    unbanChatSenderChat: plain(),
    setChatPermissions: plain(),
    exportChatInviteLink: plain(),
    createChatInviteLink: plain(),
    editChatInviteLink: plain(),
    createChatSubscriptionInviteLink: plain(),
    editChatSubscriptionInviteLink: plain(),
    revokeChatInviteLink: plain(),
    approveChatJoinRequest: plain(),
    declineChatJoinRequest: plain(),
    answerChatJoinRequestQuery: plain(),
    // Addresses the user asking to join, not the chat.
    sendChatJoinRequestWebApp: plain(),
    approveSuggestedPost: plain(),
    declineSuggestedPost: plain(),
    setChatPhoto: plain(),
    deleteChatPhoto: plain(),
    setChatTitle: plain(),
    setChatDescription: plain(),
    pinChatMessage: inChat(),
    unpinChatMessage: plain(),
    unpinAllChatMessages: plain(),
    leaveChat: plain(),
    getChat: plain(getChat),
    getChatAdministrators: plain(() => ok([])),
    getChatMemberCount: plain(getChatMemberCount),
    getChatMember: plain(getChatMember),
    getUserPersonalChatMessages: plain(),
    setChatStickerSet: plain(),
    deleteChatStickerSet: plain(),
    getForumTopicIconStickers: plain(),
    createForumTopic: plain(),
    editForumTopic: plain(),
    closeForumTopic: plain(),
    reopenForumTopic: plain(),
    deleteForumTopic: plain(),
    unpinAllForumTopicMessages: plain(),
    editGeneralForumTopic: plain(),
    closeGeneralForumTopic: plain(),
    reopenGeneralForumTopic: plain(),
    hideGeneralForumTopic: plain(),
    unhideGeneralForumTopic: plain(),
    unpinAllGeneralForumTopicMessages: plain(),
    answerCallbackQuery: plain(),
    answerGuestQuery: plain(),
    getUserChatBoosts: plain(),
    getUserGifts: plain(),
    getChatGifts: plain(),
    getBusinessConnection: plain(),
    getManagedBotToken: plain(),
    replaceManagedBotToken: plain(),
    getManagedBotAccessSettings: plain(),
    setManagedBotAccessSettings: plain(),
    setMyCommands: plain(({ bot, payload }) => {
        bot.commands = Array.isArray(payload.commands) ? payload.commands : [];
        return ok(true);
    }),
    deleteMyCommands: plain(({ bot }) => {
        bot.commands = [];
        return ok(true);
    }),
    getMyCommands: plain(({ bot }) => ok(bot.commands)),
    setMyName: plain(),
    getMyName: plain(({ bot }) => ok({ name: bot.sender.first_name })),
    setMyDescription: plain(),
    getMyDescription: plain(() => ok({ description: "" })),
    setMyShortDescription: plain(),
    getMyShortDescription: plain(() => ok({ short_description: "" })),
    setMyProfilePhoto: plain(),
    removeMyProfilePhoto: plain(),
    setChatMenuButton: plain(),
    getChatMenuButton: plain(),
    setMyDefaultAdministratorRights: plain(),
    getMyDefaultAdministratorRights: plain(),
    getMyStarBalance: plain(),

    // Updating messages
    editMessageText: message(editText),
    editMessageCaption: message(editCaption),
    editMessageMedia: message(editMedia),
    editMessageReplyMarkup: message(editBare),
    stopPoll: inChat(stopPoll),
    editEphemeralMessageText: plain(),
    editEphemeralMessageMedia: plain(),
    editEphemeralMessageCaption: plain(),
    editEphemeralMessageReplyMarkup: plain(),
    deleteMessage: inChat(),
    deleteMessages: inChat(),
    deleteEphemeralMessage: plain(),
    deleteMessageReaction: plain(),
    deleteAllMessageReactions: plain(),
    deleteBusinessMessages: plain(),
    setBusinessAccountName: plain(),
    setBusinessAccountUsername: plain(),
    setBusinessAccountBio: plain(),
    setBusinessAccountProfilePhoto: plain(),
    removeBusinessAccountProfilePhoto: plain(),
    setBusinessAccountGiftSettings: plain(),
    getBusinessAccountStarBalance: plain(),
    transferBusinessAccountStars: plain(),
    getBusinessAccountGifts: plain(),
    convertGiftToStars: plain(),
    upgradeGift: plain(),
    transferGift: plain(),
    postStory: plain(),
    repostStory: plain(),
    editStory: plain(),
    deleteStory: plain(),

    // Stickers and gifts
    sendSticker: message(sendFile("sticker")),
    getStickerSet: plain(),
    getCustomEmojiStickers: plain(),
    uploadStickerFile: plain(),
    createNewStickerSet: plain(),
    addStickerToSet: plain(),
    setStickerPositionInSet: plain(),
    deleteStickerFromSet: plain(),
    replaceStickerInSet: plain(),
    setStickerEmojiList: plain(),
    setStickerKeywords: plain(),
    setStickerMaskPosition: plain(),
    setStickerSetTitle: plain(),
    deleteStickerSet: plain(),
    setStickerSetThumbnail: plain(),
    setCustomEmojiStickerSetThumbnail: plain(),
    getAvailableGifts: plain(),
    // A gift goes to a user's profile, not into a chat.
    sendGift: plain(),
    giftPremiumSubscription: plain(),

    // Inline mode, payments, verification, passport, games
    answerInlineQuery: plain(),
    answerWebAppQuery: plain(),
    savePreparedInlineMessage: plain(),
    savePreparedKeyboardButton: plain(),
    sendInvoice: message(sendBare),
    createInvoiceLink: plain(),
    answerShippingQuery: plain(),
    answerPreCheckoutQuery: plain(),
    getStarTransactions: plain(),
    refundStarPayment: plain(),
    editUserStarSubscription: plain(),
    verifyUser: plain(),
    verifyChat: plain(),
    removeUserVerification: plain(),
    removeChatVerification: plain(),
    readBusinessMessage: plain(),
    setPassportDataErrors: plain(),
    sendGame: message(sendBare),
    setGameScore: plain(),
    getGameHighScores: plain(),

    // Deprecated names that still work on Telegram.
    kickChatMember: plain(),
    getChatMembersCount: plain(getChatMemberCount),
    setStickerSetThumb: plain(),
};

const byLowerCase = new Map<string, Method>(Object.entries(METHODS).map(([name, spec]) => [name.toLowerCase(), { ...spec, name }]));

/** The method Telegram runs for `name` (`sendmessage` is `sendMessage`), or `undefined` where it answers 404. */
export function findMethod(name: string): Method | undefined {
    return byLowerCase.get(name.toLowerCase());
}

/** Whether the method `name` puts or changes a message in a chat (see {@link CallSpec.message}). */
export function isMessageMethod(name: string): boolean {
    const method = findMethod(name);
    return method?.kind === "call" && method.message;
}

// Webhooks exist only as far as they conflict with polling: nothing is ever
// posted to the url.
function setWebhook({ bot, payload, feed }: MethodCall): MethodAnswer {
    if (typeof payload.url !== "string") return badRequest("bad webhook: url is required");
    feed.setWebhook(bot, payload.url);
    bot.queue.setAllowedUpdates(stringListParam(payload.allowed_updates));
    if (payload.drop_pending_updates === true) bot.queue.dropPending();
    return ok(true);
}

function getWebhookInfo({ bot }: MethodCall): MethodAnswer {
    const allowed = bot.queue.allowedUpdates;
    return {
        ok: true,
        result: {
            url: bot.webhook ?? "",
            has_custom_certificate: false,
            pending_update_count: bot.queue.size,
            ...(allowed === undefined ? {} : { allowed_updates: allowed }),
        },
    };
}
