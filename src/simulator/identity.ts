/**
 * Who a simulated bot is: its token, id, names and what `getMe` answers.
 * Generated tokens and ids have the shapes of real ones, so code that parses
 * or logs them meets what it meets in production; a test may also fix the
 * token, to match a fixture.
 */
import type { UserFromGetMe } from "grammy/types";
import { InvalidOptionError } from "../shared/errors.js";
import type { CreateBotOptions, SimulatedBot } from "./bot.js";
import { botIdCandidate, tokenSecret } from "./random.js";

const TOKEN_SHAPE = /^(\d+):[A-Za-z0-9_-]+$/;

/**
 * The identity of a new bot. `existing` are the bots registered so far, by
 * token: tokens and ids must not repeat, and default names number the bots.
 */
export function newIdentity(options: CreateBotOptions, existing: ReadonlyMap<string, { readonly account: SimulatedBot }>): SimulatedBot {
    const n = existing.size + 1;
    let token: string;
    let id: number;
    if (options.token !== undefined) {
        const match = TOKEN_SHAPE.exec(options.token);
        if (match === null) throw new InvalidOptionError("token", "expected `<digits>:<secret>`");
        if (existing.has(options.token)) throw new InvalidOptionError("token", "a bot with this token already exists");
        token = options.token;
        id = Number(match[1]);
    } else {
        const used = new Set([...existing.values()].map((bot) => bot.account.id));
        do id = botIdCandidate();
        while (used.has(id));
        token = `${id}:${tokenSecret()}`;
    }
    const username = options.username ?? `sim_${n}_bot`;
    const firstName = options.firstName ?? `Sim Bot ${n}`;
    const botInfo = {
        id,
        is_bot: true,
        first_name: firstName,
        username,
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
        has_topics_enabled: false,
        allows_users_to_create_topics: false,
        can_manage_bots: false,
        supports_join_request_queries: false,
    } as UserFromGetMe;
    return { token, id, username, firstName, botInfo };
}
