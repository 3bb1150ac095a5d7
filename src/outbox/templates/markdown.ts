import type { ParsedMarkup } from "./markup.js";
import { preTextStart } from "./pre-block.js";

/** The characters that open an entity in legacy Markdown, and the only ones `\` escapes. */
const MARKERS = "_*`[";
const ENTITY_NAMES: Record<string, string> = { _: "italic", "*": "bold", "`": "code", "```": "pre", "[": "link" };

/**
 * Reads `text` as Telegram's legacy Markdown (https://core.telegram.org/bots/api#markdown-style):
 * `*bold*`, `_italic_`, `` `code` ``, ```` ```pre``` ```` and `[text](url)`,
 * never nested; inside an entity everything up to its closing marker is
 * text, so there is nothing to escape and nothing to balance there.
 */
export function parseLegacyMarkdown(text: string): ParsedMarkup {
    let visible = "";
    let i = 0;
    while (i < text.length) {
        const c = text[i]!;
        if (c === "\\" && MARKERS.includes(text[i + 1] ?? "")) {
            visible += text[i + 1];
            i += 2;
            continue;
        }
        if (!MARKERS.includes(c)) {
            visible += c;
            i++;
            continue;
        }
        const marker = text.startsWith("```", i) ? "```" : c;
        const closer = c === "[" ? "]" : marker;
        const textStart = marker === "```" ? preTextStart(text, i + 3) : i + 1;
        const textEnd = text.indexOf(closer, textStart);
        if (textEnd < 0) {
            return {
                problem: `${ENTITY_NAMES[marker]} opened with "${marker}" is never closed; close it with "${closer}" or write "\\${c}" for a literal "${c}"`,
                at: i,
            };
        }
        visible += text.slice(textStart, textEnd);
        i = textEnd + closer.length;
        if (c === "[" && text[i] === "(") {
            const urlEnd = text.indexOf(")", i);
            if (urlEnd < 0) return { problem: 'the link\'s URL is never closed; add ")"', at: i };
            i = urlEnd + 1;
        }
    }
    return { visible };
}
