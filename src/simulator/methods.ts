/**
 * Which Bot API methods exist, and which of them the simulator treats as
 * sending a message. Telegram matches method names case-insensitively and
 * answers 404 for names it does not know, so the simulator needs the list.
 */

// The methods of the Bot API as typed by @grammyjs/types, plus deprecated
// aliases Telegram still answers. A method missing here is answered 404, like
// Telegram does for a typo.
const KNOWN_METHODS = [
    "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "getMe", "logOut", "close", "sendMessage",
    "sendRichMessage", "forwardMessage", "forwardMessages", "copyMessage", "copyMessages", "sendPhoto",
    "sendLivePhoto", "sendAudio", "sendDocument", "sendVideo", "sendAnimation", "sendVoice", "sendVideoNote",
    "sendPaidMedia", "sendMediaGroup", "sendLocation", "editMessageLiveLocation", "stopMessageLiveLocation",
    "sendVenue", "sendContact", "sendPoll", "sendChecklist", "editMessageChecklist", "sendDice",
    "sendMessageDraft", "sendRichMessageDraft", "sendChatAction", "setMessageReaction",
    "getUserProfilePhotos", "getUserProfileAudios", "setUserEmojiStatus", "getFile", "banChatMember",
    "unbanChatMember", "restrictChatMember", "promoteChatMember", "setChatAdministratorCustomTitle",
    "setChatMemberTag", "banChatSenderChat", "unbanChatSenderChat", "setChatPermissions",
    "exportChatInviteLink", "createChatInviteLink", "editChatInviteLink", "createChatSubscriptionInviteLink",
    "editChatSubscriptionInviteLink", "revokeChatInviteLink", "approveChatJoinRequest",
    "declineChatJoinRequest", "answerChatJoinRequestQuery", "sendChatJoinRequestWebApp",
    "approveSuggestedPost", "declineSuggestedPost", "setChatPhoto", "deleteChatPhoto", "setChatTitle",
    "setChatDescription", "pinChatMessage", "unpinChatMessage", "unpinAllChatMessages", "leaveChat",
    "getChat", "getChatAdministrators", "getChatMemberCount", "getChatMember", "getUserPersonalChatMessages",
    "setChatStickerSet", "deleteChatStickerSet", "getForumTopicIconStickers", "createForumTopic",
    "editForumTopic", "closeForumTopic", "reopenForumTopic", "deleteForumTopic",
    "unpinAllForumTopicMessages", "editGeneralForumTopic", "closeGeneralForumTopic",
    "reopenGeneralForumTopic", "hideGeneralForumTopic", "unhideGeneralForumTopic",
    "unpinAllGeneralForumTopicMessages", "answerCallbackQuery", "answerGuestQuery", "getUserChatBoosts",
    "getUserGifts", "getChatGifts", "getBusinessConnection", "getManagedBotToken", "replaceManagedBotToken",
    "getManagedBotAccessSettings", "setManagedBotAccessSettings", "setMyCommands", "deleteMyCommands",
    "getMyCommands", "setMyName", "getMyName", "setMyDescription", "getMyDescription",
    "setMyShortDescription", "getMyShortDescription", "setMyProfilePhoto", "removeMyProfilePhoto",
    "setChatMenuButton", "getChatMenuButton", "setMyDefaultAdministratorRights",
    "getMyDefaultAdministratorRights", "getMyStarBalance", "editMessageText", "editMessageCaption",
    "editMessageMedia", "editMessageReplyMarkup", "stopPoll", "editEphemeralMessageText",
    "editEphemeralMessageMedia", "editEphemeralMessageCaption", "editEphemeralMessageReplyMarkup",
    "deleteMessage", "deleteMessages", "deleteEphemeralMessage", "deleteMessageReaction",
    "deleteAllMessageReactions", "deleteBusinessMessages", "setBusinessAccountName",
    "setBusinessAccountUsername", "setBusinessAccountBio", "setBusinessAccountProfilePhoto",
    "removeBusinessAccountProfilePhoto", "setBusinessAccountGiftSettings", "getBusinessAccountStarBalance",
    "transferBusinessAccountStars", "getBusinessAccountGifts", "convertGiftToStars", "upgradeGift",
    "transferGift", "postStory", "repostStory", "editStory", "deleteStory", "sendSticker", "getStickerSet",
    "getCustomEmojiStickers", "uploadStickerFile", "createNewStickerSet", "addStickerToSet",
    "setStickerPositionInSet", "deleteStickerFromSet", "replaceStickerInSet", "setStickerEmojiList",
    "setStickerKeywords", "setStickerMaskPosition", "setStickerSetTitle", "deleteStickerSet",
    "setStickerSetThumbnail", "setCustomEmojiStickerSetThumbnail", "getAvailableGifts", "sendGift",
    "giftPremiumSubscription", "answerInlineQuery", "answerWebAppQuery", "savePreparedInlineMessage",
    "savePreparedKeyboardButton", "sendInvoice", "createInvoiceLink", "answerShippingQuery",
    "answerPreCheckoutQuery", "getStarTransactions", "refundStarPayment", "editUserStarSubscription",
    "verifyUser", "verifyChat", "removeUserVerification", "removeChatVerification", "readBusinessMessage",
    "setPassportDataErrors", "sendGame", "setGameScore", "getGameHighScores",    // Deprecated names that still work on Telegram.
    "kickChatMember", "getChatMembersCount", "setStickerSetThumb",
] as const;

const canonicalByLowerCase = new Map<string, string>(KNOWN_METHODS.map((name) => [name.toLowerCase(), name]));

/**
 * The canonical spelling of a Bot API method (`sendmessage` → `sendMessage`),
 * or `undefined` when Telegram would answer 404.
 */
export function canonicalMethod(name: string): string | undefined {
    return canonicalByLowerCase.get(name.toLowerCase());
}

const MESSAGE_METHODS = new Set(["copyMessage", "copyMessages", "forwardMessage", "forwardMessages"]);
// `send*` methods that do not post a message into a chat (or address a user, not a chat).
const NOT_MESSAGE_METHODS = new Set([
    "sendChatAction",
    "sendGift",
    "sendMessageDraft",
    "sendRichMessageDraft",
    "sendChatJoinRequestWebApp",
]);

/**
 * Methods that put or change a message in a chat: every `send*` except
 * `sendChatAction`, copies, forwards and `editMessage*`. Only these count
 * against flood limits (Telegram's limits are about messages) and only these
 * are listed by `sim.sent()`.
 */
export function isMessageMethod(method: string): boolean {
    if (NOT_MESSAGE_METHODS.has(method)) return false;
    return method.startsWith("send") || method.startsWith("editMessage") || MESSAGE_METHODS.has(method);
}

const OTHER_CHAT_METHODS = new Set(["sendChatAction", "deleteMessage", "deleteMessages", "stopPoll", "pinChatMessage"]);

/**
 * Methods that need `chat_id` and fail for blocked or unknown chats. Edits
 * are included, but an edit of an inline message (`inline_message_id`) has no
 * chat.
 */
export function isChatMethod(method: string): boolean {
    return isMessageMethod(method) || OTHER_CHAT_METHODS.has(method);
}
