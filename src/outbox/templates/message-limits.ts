import { TemplateError, type TemplatePlace } from "../../shared/errors.js";
import { type ParseMode, parseMarkup } from "./markup.js";

/** Telegram's limits, counted after the markup is parsed: a message's text, and a media caption. */
const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;

/** How a rendered text will be sent. */
export interface MessageFormat {
    /** The `parse_mode` it is sent with; none: plain text. @default undefined */
    parseMode?: ParseMode;
    /** Sent as a media caption, which Telegram limits to 1024 rather than 4096. @default false */
    caption?: boolean;
}

/** The most Telegram accepts for a text sent as `format` says. */
export function limitOf(format: MessageFormat): number {
    return format.caption === true ? CAPTION_LIMIT : TEXT_LIMIT;
}

/** What a text is called in messages about its length. */
export function kindOf(format: MessageFormat): string {
    return format.caption === true ? "a caption" : "a message text";
}

/**
 * Returns `text` if Telegram would accept it as `format` says, and otherwise
 * throws what it would refuse: markup it cannot parse (`TEMPLATE_INVALID`),
 * or more than its limit (`MESSAGE_TOO_LONG`). Checking here costs one parse
 * and saves a 400 from Telegram for each recipient of a broadcast.
 */
export function assertSendable(text: string, format: MessageFormat, place: TemplatePlace): string {
    const parsed = parseMarkup(format.parseMode, text);
    if ("problem" in parsed) {
        const problem = `the rendered text is not valid ${format.parseMode}: ${parsed.problem} (at character ${parsed.at + 1} of the rendered text)`;
        throw new TemplateError("TEMPLATE_INVALID", problem, place);
    }
    const limit = limitOf(format);
    if (parsed.visible.length > limit) {
        const problem = `the rendered text is ${parsed.visible.length} characters long once its markup is parsed, over Telegram's limit of ${limit} for ${kindOf(format)}; shorten the text or the values put in it`;
        throw new TemplateError("MESSAGE_TOO_LONG", problem, place);
    }
    return text;
}
