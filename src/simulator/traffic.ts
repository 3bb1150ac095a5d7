import { InvalidOptionError } from "../shared/errors.js";
import { randomIntBetween, seededRandom } from "./random.js";
import type { MessageSpec } from "./users.js";

/**
 * The shape of a synthetic load: how many messages, spread over how many
 * chats, and whether one chat floods. Feed the result to `sim.pushMessages`.
 *
 * @example
 * ```ts
 * // 100k messages from 1,000 chats; chat 1000 sends a fifth of them
 * sim.pushMessages(token, syntheticTraffic({ messages: 100_000, chats: 1000, floodShare: 0.2 }));
 * ```
 */
export interface TrafficOptions {
    /** Number of messages. */
    messages: number;
    /** Number of distinct chats. @default 100 */
    chats?: number;
    /** Share of the chats that are supergroups (`0..1`); the rest are private chats. @default 0 */
    groupShare?: number;
    /** Share of all messages sent by one chat, the first one (`0..1`). @default 0 */
    floodShare?: number;
    /** Id of the first private chat; the others follow. @default 1000 */
    firstChatId?: number;
    /** Seed for the choice of chats, so runs are comparable. @default 1 */
    seed?: number;
}

/** The first supergroup id; supergroups count down from here. */
const FIRST_SUPERGROUP_ID = -1_000_000_000_001;

/**
 * Builds `messages` message specs over `chats` chats. Each message's text is
 * `#<n>`, its sequence number within its chat starting at 1, so a test can
 * check per-chat order with `Number(text.slice(1))`. Group messages come from
 * the users of the private chats.
 */
export function syntheticTraffic(options: TrafficOptions): MessageSpec[] {
    const { messages, chats = 100, groupShare = 0, floodShare = 0, firstChatId = 1000, seed = 1 } = options;
    if (!(Number.isInteger(messages) && messages >= 0)) throw new InvalidOptionError("messages", "expected an integer >= 0");
    if (!(Number.isInteger(chats) && chats > 0)) throw new InvalidOptionError("chats", "expected a positive integer");
    for (const [name, share] of [
        ["groupShare", groupShare],
        ["floodShare", floodShare],
    ] as const) {
        if (!(share >= 0 && share <= 1)) throw new InvalidOptionError(name, "expected a number from 0 to 1");
    }
    const groups = Math.min(chats - 1, Math.round(chats * groupShare));
    const privates = chats - groups;
    const chatIds = new Array<number>(chats);
    for (let i = 0; i < privates; i++) chatIds[i] = firstChatId + i;
    for (let i = 0; i < groups; i++) chatIds[privates + i] = FIRST_SUPERGROUP_ID - i;

    const random = seededRandom(seed);
    const sequence = new Map<number, number>();
    const out = new Array<MessageSpec>(messages);
    for (let i = 0; i < messages; i++) {
        const index = random() < floodShare ? 0 : randomIntBetween(random, 0, chats - 1);
        const chatId = chatIds[index] as number;
        const n = (sequence.get(chatId) ?? 0) + 1;
        sequence.set(chatId, n);
        out[i] =
            chatId > 0
                ? { chatId, text: `#${n}` }
                : { chatId, userId: firstChatId + randomIntBetween(random, 0, privates - 1), text: `#${n}` };
    }
    return out;
}
