import type { ParsedMarkup } from "./markup.js";

/**
 * Telegram's HTML mode (https://core.telegram.org/bots/api#html-style): the
 * tags it knows, each with the attribute it cannot do without. Other
 * attributes are ignored by Telegram, so they are allowed here too.
 */
const TAGS = new Map<string, string | undefined>([
    ["b", undefined],
    ["strong", undefined],
    ["i", undefined],
    ["em", undefined],
    ["u", undefined],
    ["ins", undefined],
    ["s", undefined],
    ["strike", undefined],
    ["del", undefined],
    ["tg-spoiler", undefined],
    ["span", "class"],
    ["a", "href"],
    ["tg-emoji", "emoji-id"],
    ["tg-time", "unix"],
    ["code", undefined],
    ["pre", undefined],
    ["blockquote", undefined],
]);

const START_TAG = /<([a-zA-Z][\w-]*)((?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[\w.-]+))?)*)\s*>/y;
const END_TAG = /<\/([a-zA-Z][\w-]*)\s*>/y;
const ATTRIBUTE = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([\w.-]+)))?/g;
/** The only named entities Telegram decodes, and numeric ones. */
const ENTITY = /&(?:(lt|gt|amp|quot)|#(\d+)|#[xX]([\da-fA-F]+));/y;
const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

function matchAt(pattern: RegExp, text: string, at: number): RegExpExecArray | null {
    pattern.lastIndex = at;
    return pattern.exec(text);
}

/** What a numeric entity stands for; undefined for numbers that are no character (0, surrogate halves, past U+10FFFF). */
function decodeEntity(entity: RegExpExecArray): string | undefined {
    const [, named, decimal, hex] = entity;
    if (named !== undefined) return NAMED_ENTITIES[named];
    const code = decimal !== undefined ? Number(decimal) : Number.parseInt(hex!, 16);
    const isCharacter = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    return isCharacter ? String.fromCodePoint(code) : undefined;
}

/** Why Telegram would refuse a start tag, if it would. */
function startTagProblem(name: string, attributeText: string): string | undefined {
    if (!TAGS.has(name)) {
        return `<${name}> is not a tag Telegram supports (it knows ${[...TAGS.keys()].join(", ")}); write &lt; for a literal "<"`;
    }
    const attributes = new Map<string, string>();
    for (const [, attribute, double, single, bare] of attributeText.matchAll(ATTRIBUTE)) {
        attributes.set(attribute!, double ?? single ?? bare ?? "");
    }
    if (name === "span" && attributes.get("class") !== "tg-spoiler") {
        return '<span> needs class="tg-spoiler", the only span Telegram supports';
    }
    const required = TAGS.get(name);
    if (required !== undefined && !attributes.has(required)) return `<${name}> needs a ${required} attribute`;
    return undefined;
}

/**
 * Reads `text` as Telegram's HTML mode: supported tags, properly nested and
 * closed, and `<`, `>`, `&` only as tags or entities, as Telegram's
 * documentation asks (its parser lets a stray `>` or `&` through today, but
 * that is not a promise).
 */
export function parseHtml(text: string): ParsedMarkup {
    const open: { name: string; at: number }[] = [];
    let visible = "";
    let i = 0;
    while (i < text.length) {
        const c = text[i]!;
        if (c === "<") {
            const end = matchAt(END_TAG, text, i);
            if (end !== null) {
                const name = end[1]!.toLowerCase();
                const innermost = open.pop();
                if (innermost === undefined) return { problem: `</${name}> closes no open tag`, at: i };
                if (innermost.name !== name) {
                    return { problem: `</${name}> where </${innermost.name}> was expected (tags must close innermost first)`, at: i };
                }
                i += end[0].length;
                continue;
            }
            const start = matchAt(START_TAG, text, i);
            if (start === null) return { problem: '"<" starts no tag; write &lt; for a literal "<"', at: i };
            const name = start[1]!.toLowerCase();
            const problem = startTagProblem(name, start[2]!);
            if (problem !== undefined) return { problem, at: i };
            open.push({ name, at: i });
            i += start[0].length;
            continue;
        }
        if (c === ">") return { problem: '">" outside a tag; write &gt; for a literal ">"', at: i };
        if (c === "&") {
            const entity = matchAt(ENTITY, text, i);
            const decoded = entity === null ? undefined : decodeEntity(entity);
            if (entity === null || decoded === undefined) {
                return {
                    problem: '"&" starts no entity Telegram knows (&lt; &gt; &amp; &quot; &#…;); write &amp; for a literal "&"',
                    at: i,
                };
            }
            visible += decoded;
            i += entity[0].length;
            continue;
        }
        visible += c;
        i++;
    }
    const unclosed = open.pop();
    if (unclosed !== undefined) return { problem: `<${unclosed.name}> is never closed; add </${unclosed.name}>`, at: unclosed.at };
    return { visible };
}
