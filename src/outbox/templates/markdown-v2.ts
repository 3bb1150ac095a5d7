import type { ParsedMarkup } from "./markup.js";
import { preTextStart } from "./pre-block.js";

/** Characters that are markup in MarkdownV2 unless escaped with `\`. */
const RESERVED = "_*[]()~`>#+-=|{}.!";

interface Entity {
    kind: string;
    open: string;
    close: string;
}

/** MarkdownV2's entities by their markers; where one marker begins another ("__" and "_"), the longer comes first. */
const ENTITIES: readonly Entity[] = [
    { kind: "pre", open: "```", close: "```" },
    { kind: "code", open: "`", close: "`" },
    { kind: "underline", open: "__", close: "__" },
    { kind: "italic", open: "_", close: "_" },
    { kind: "bold", open: "*", close: "*" },
    { kind: "strikethrough", open: "~", close: "~" },
    { kind: "spoiler", open: "||", close: "||" },
    { kind: "custom emoji", open: "![", close: "]" },
    { kind: "link", open: "[", close: "]" },
];

/** A block quote runs over consecutive lines that start with `>`, so it has no closing marker. */
const QUOTE: Entity = { kind: "quote", open: ">", close: "" };

/** Whether `text` at `i` closes `entity`: Telegram looks only at the innermost open one. */
function closes(entity: Entity, text: string, i: number): boolean {
    if (entity === QUOTE) return false;
    // "__" is always underline, read greedily left to right.
    if (entity.kind === "italic") return text[i] === "_" && text[i + 1] !== "_";
    return text.startsWith(entity.close, i);
}

/** Where the `(…)` that starts at `i` ends, `\` escaping any character; -1 when it is never closed. */
function urlEnd(text: string, i: number): number {
    for (i++; i < text.length; i++) {
        if (text[i] === ")") return i;
        if (text[i] === "\\") i++;
    }
    return -1;
}

function reserved(c: string, at: number): ParsedMarkup {
    return { problem: `"${c}" is reserved in MarkdownV2; write "\\${c}" for a literal "${c}"`, at };
}

function unclosed({ entity, at }: { entity: Entity; at: number }): ParsedMarkup {
    const marker = entity.open;
    return {
        problem: `${entity.kind} opened with "${marker}" is never closed; close it with "${entity.close}" or write "\\${marker[0]}" for a literal "${marker[0]}"`,
        at,
    };
}

/**
 * Reads `text` as Telegram's MarkdownV2 (https://core.telegram.org/bots/api#markdownv2-style):
 * reserved characters escaped outside entity syntax, entities closed
 * innermost first, `>` quoting a line only at its start.
 */
export function parseMarkdownV2(text: string): ParsedMarkup {
    const open: { entity: Entity; at: number }[] = [];
    let visible = "";
    let inQuote = false;
    // A `>` may start a quote until the line shows a character; markers do not count, so "**>" starts one.
    let lineStart = true;
    let i = 0;
    while (i < text.length) {
        const c = text[i]!;
        const next = text.charCodeAt(i + 1);
        if (c === "\\" && next >= 1 && next <= 126) {
            visible += text[i + 1];
            lineStart = text[i + 1] === "\n";
            i += 2;
            continue;
        }
        const innermost = open.at(-1);
        const verbatim = innermost?.entity.kind === "code" || innermost?.entity.kind === "pre";
        if (verbatim ? c !== "`" : !RESERVED.includes(c) && c !== "\n") {
            visible += c;
            if (c !== "\r") lineStart = false;
            i++;
            continue;
        }
        if (inQuote && c === "\n" && text[i + 1] !== ">") {
            // The quote ends with this line; "||" just before the line break marks it expandable.
            if (innermost?.entity.kind === "spoiler" && innermost.at === i - 2) open.pop();
            const quote = open.pop()!;
            if (quote.entity !== QUOTE) return unclosed(quote);
            inQuote = false;
        }
        if (c === "\n") {
            visible += c;
            lineStart = true;
            i++;
            continue;
        }
        if (innermost !== undefined && closes(innermost.entity, text, i)) {
            const { entity } = open.pop()!;
            i += entity.close.length;
            if (entity.kind === "custom emoji" && text[i] !== "(") {
                return { problem: 'a custom emoji needs its URL right after "]": ![👍](tg://emoji?id=…)', at: innermost.at };
            }
            if ((entity.kind === "link" || entity.kind === "custom emoji") && text[i] === "(") {
                const end = urlEnd(text, i);
                if (end < 0)
                    return { problem: `the ${entity.kind}'s URL is never closed; add ")" and write "\\)" for one inside it`, at: i };
                i = end + 1;
            }
            continue;
        }
        if (c === ">") {
            if (!lineStart) return reserved(c, i);
            if (!inQuote) open.push({ entity: QUOTE, at: i });
            inQuote = true;
            i++;
            continue;
        }
        const entity = ENTITIES.find(({ open }) => text.startsWith(open, i));
        if (entity === undefined) return reserved(c, i);
        open.push({ entity, at: i });
        i = entity.kind === "pre" ? preTextStart(text, i + entity.open.length) : i + entity.open.length;
    }
    if (inQuote) {
        if (open.at(-1)!.entity.kind === "spoiler" && open.at(-1)!.at === text.length - 2) open.pop();
        if (open.at(-1)!.entity === QUOTE) open.pop();
    }
    const left = open.at(-1);
    return left === undefined ? { visible } : unclosed(left);
}
