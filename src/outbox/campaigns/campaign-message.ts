import { InvalidOptionError, TemplateError } from "../../shared/errors.js";
import type { ParseMode } from "../templates/markup.js";
import { assertSendable, type MessageFormat } from "../templates/message-limits.js";
import type { MessageTemplates, TemplateVars } from "../templates/templates.js";

/** Every recipient gets the template `template`, in their locale, with `vars` and their own values. */
export interface TemplateMessage {
    template: string;
    /** Values every recipient's text gets; a recipient's own `vars` win. @default {} */
    vars?: TemplateVars;
    /** How Telegram reads the text; values are escaped for it. @default plain text */
    parse_mode?: ParseMode;
    /** Further `sendMessage` parameters (`reply_markup`, `link_preview_options`, `allow_paid_broadcast`, …). @default {} */
    other?: Record<string, unknown>;
}

/** Every recipient gets the same text. */
export interface TextMessage {
    text: string;
    /** @default plain text */
    parse_mode?: ParseMode;
    /** Further `sendMessage` parameters. @default {} */
    other?: Record<string, unknown>;
}

/** Every recipient gets this Bot API call, with their `chat_id` filled in (`sendPhoto`, `copyMessage`, …). */
export interface MethodMessage {
    method: string;
    payload: Record<string, unknown>;
}

/** What a campaign sends to each recipient. */
export type CampaignMessage = TemplateMessage | TextMessage | MethodMessage;

/** One recipient of a campaign. */
export interface Recipient {
    /** A chat id: a whole number (a numeric string is accepted too). */
    chatId: number | string;
    /** The recipient's language, e.g. `"pt-BR"`; picks the template's locale. @default the templates' default locale */
    locale?: string;
    /** The recipient's own template values. @default {} */
    vars?: TemplateVars;
}

/** The Bot API call one recipient gets. */
export interface RecipientCall {
    method: string;
    payload: Record<string, unknown>;
}

const PARSE_MODES = new Set(["HTML", "MarkdownV2", "Markdown"]);

/**
 * A campaign's message, checked once when the campaign is created, and
 * turned into one call per recipient. Anything Telegram would refuse for
 * every recipient (markup, length, an unknown template) is refused here;
 * what depends on the recipient (their values) is checked as they are added.
 */
export class MessageMaker {
    /** Whether the calls carry `allow_paid_broadcast` (0.1 Star each, up to 1000/s). */
    readonly paid: boolean;
    private readonly format: MessageFormat;
    /** Whether a recipient without a locale or values of their own gets a text: found out once. */
    private defaultRenders: boolean | undefined;

    constructor(
        private readonly message: CampaignMessage,
        private readonly templates: MessageTemplates | undefined,
    ) {
        if (typeof message !== "object" || message === null) {
            throw new InvalidOptionError("message", "expected { template }, { text } or { method, payload }");
        }
        const parseMode = "payload" in message ? message.payload?.parse_mode : message.parse_mode;
        if (parseMode !== undefined && !PARSE_MODES.has(parseMode as string)) {
            throw new InvalidOptionError("message.parse_mode", `expected HTML, MarkdownV2 or Markdown, got ${JSON.stringify(parseMode)}`);
        }
        const caption = "payload" in message && message.payload?.caption !== undefined;
        this.format = { ...(parseMode === undefined ? {} : { parseMode: parseMode as ParseMode }), caption };
        this.paid = isPaid(message);
        this.check();
    }

    private check(): void {
        const { message } = this;
        if ("template" in message) {
            if (this.templates === undefined) {
                throw new InvalidOptionError(
                    "message.template",
                    "this outbox has no templates; pass `templates` (a YAML file or an object) to the outbox",
                );
            }
            this.templates.check(message.template, this.format);
        } else if ("text" in message) {
            if (typeof message.text !== "string") throw new InvalidOptionError("message.text", "expected a string");
            sendable("message.text", message.text, this.format);
        } else if ("method" in message) {
            if (typeof message.method !== "string" || typeof message.payload !== "object" || message.payload === null) {
                throw new InvalidOptionError("message", "expected { method: string, payload: object }");
            }
            const { text, caption } = message.payload;
            if (typeof text === "string") sendable("message.payload.text", text, this.format);
            if (typeof caption === "string") sendable("message.payload.caption", caption, this.format);
        } else {
            throw new InvalidOptionError("message", "expected { template }, { text } or { method, payload }");
        }
    }

    /**
     * Why `recipient` cannot get this message (its chat id, or a value its
     * template needs), or `undefined` if it can.
     */
    problemOf(recipient: Recipient): string | undefined {
        if (chatIdOf(recipient?.chatId) === undefined) {
            return `chatId ${JSON.stringify(recipient?.chatId)} is not a chat id (a non-zero whole number)`;
        }
        if (!("template" in this.message)) return undefined;
        if (recipient.vars === undefined && recipient.locale === undefined && this.needsNoOwnValues()) return undefined;
        try {
            this.callFor(0, recipient.locale, recipient.vars);
            return undefined;
        } catch (error) {
            if (error instanceof TemplateError) return error.message;
            throw error;
        }
    }

    private needsNoOwnValues(): boolean {
        this.defaultRenders ??= (() => {
            try {
                this.callFor(0, undefined, undefined);
                return true;
            } catch (error) {
                if (error instanceof TemplateError) return false;
                throw error;
            }
        })();
        return this.defaultRenders;
    }

    /** The call `chatId` gets; throws a `TemplateError` if its text cannot be made. */
    callFor(chatId: number, locale: string | undefined, vars: TemplateVars | undefined, render = true): RecipientCall {
        const { message } = this;
        if ("method" in message) return { method: message.method, payload: { ...message.payload, chat_id: chatId } };
        const text =
            "text" in message
                ? message.text
                : render
                  ? this.templates!.render(message.template, locale, { ...message.vars, ...vars }, this.format)
                  : "";
        const parseMode = message.parse_mode === undefined ? {} : { parse_mode: message.parse_mode };
        return { method: "sendMessage", payload: { ...message.other, chat_id: chatId, text, ...parseMode } };
    }
}

/** Whether a campaign's calls carry `allow_paid_broadcast` (readable without its templates). */
export function isPaid(message: CampaignMessage): boolean {
    const parameters = "payload" in message ? message.payload : message.other;
    return parameters?.allow_paid_broadcast === true;
}

/** A recipient's chat id as a number, or `undefined` if it is not one. */
export function chatIdOf(value: unknown): number | undefined {
    const id = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    return typeof id === "number" && Number.isSafeInteger(id) && id !== 0 ? id : undefined;
}

/** Refuses a text Telegram would refuse, naming the field. */
function sendable(field: string, text: string, format: MessageFormat): void {
    try {
        assertSendable(text, format, {});
    } catch (error) {
        if (error instanceof TemplateError) throw new InvalidOptionError(field, error.message.replace(/^Templates: /, ""));
        throw error;
    }
}
