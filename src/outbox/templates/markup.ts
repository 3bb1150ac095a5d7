import { parseHtml } from "./html.js";
import { parseLegacyMarkdown } from "./markdown.js";
import { parseMarkdownV2 } from "./markdown-v2.js";

/**
 * Telegram's `parse_mode`: how it reads formatting out of a message's text.
 * `Markdown` is the legacy mode Telegram keeps for old bots; it cannot nest
 * entities nor escape inside them, so new templates are better in HTML or
 * MarkdownV2.
 */
export type ParseMode = "HTML" | "MarkdownV2" | "Markdown";

/**
 * What Telegram's parser makes of a text: the text it shows, or the first
 * problem it meets and where (an offset into the text, in UTF-16 units).
 */
export type ParsedMarkup = { visible: string } | { problem: string; at: number };

/** Characters that would be read as markup, per mode. */
const MARKDOWN_V2_SPECIAL = /[_*[\]()~`>#+\-=|{}.!\\]/g;
const LEGACY_MARKDOWN_SPECIAL = /[_*`[]/g;
const HTML_SPECIAL = /[&<>"]/g;
const HTML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

/**
 * Escapes `value` so that Telegram shows it as written, whatever it holds:
 * a user's name cannot open a tag or close the template's bold. Without a
 * parse mode nothing is markup, so the value comes back unchanged.
 *
 * Legacy Markdown has no escape inside an entity and none for `\` itself, so
 * a value inside `*…*` that holds `*` still breaks it: one more reason to
 * prefer HTML or MarkdownV2.
 */
export function escapeFor(parseMode: ParseMode | undefined, value: string): string {
    switch (parseMode) {
        case "HTML":
            return value.replace(HTML_SPECIAL, (c) => HTML_ENTITIES[c]!);
        case "MarkdownV2":
            return value.replace(MARKDOWN_V2_SPECIAL, "\\$&");
        case "Markdown":
            return value.replace(LEGACY_MARKDOWN_SPECIAL, "\\$&");
        case undefined:
            return value;
    }
}

/** Reads `text` as Telegram's parser would in `parseMode` (no parse mode: the text as it is). */
export function parseMarkup(parseMode: ParseMode | undefined, text: string): ParsedMarkup {
    switch (parseMode) {
        case "HTML":
            return parseHtml(text);
        case "MarkdownV2":
            return parseMarkdownV2(text);
        case "Markdown":
            return parseLegacyMarkdown(text);
        case undefined:
            return { visible: text };
    }
}

/**
 * Why Telegram would refuse `text` in `parseMode` ("can't parse entities"),
 * with the position (1-based, in UTF-16 units) where its parser would stop;
 * undefined when the markup is valid.
 */
export function checkMarkup(parseMode: ParseMode | undefined, text: string): string | undefined {
    const parsed = parseMarkup(parseMode, text);
    return "problem" in parsed ? `${parsed.problem} (at character ${parsed.at + 1})` : undefined;
}

/**
 * The length Telegram holds against its limits (4096 for a text, 1024 for a
 * caption): what is left once the markup is parsed, tags and markers gone and
 * entities decoded, in UTF-16 code units. For text that is not valid markup,
 * which Telegram refuses anyway, the length as written: parsing only ever
 * shortens a text, so that is an upper bound.
 */
export function visibleLength(parseMode: ParseMode | undefined, text: string): number {
    const parsed = parseMarkup(parseMode, text);
    return "visible" in parsed ? parsed.visible.length : text.length;
}
