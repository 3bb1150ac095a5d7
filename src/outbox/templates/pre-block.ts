/**
 * Where the text of a Markdown ``` block starts, given the offset just past
 * the opening ```: after its language tag, if any, and one line break, the
 * way both of Telegram's Markdown modes read it. Neither is shown.
 */
export function preTextStart(text: string, i: number): number {
    let end = i;
    while (end < text.length && !/\s|`/.test(text[end]!)) end++;
    // A word directly followed by ``` is the block's text, not its language.
    if (end > i && end < text.length && text[end] !== "`") i = end;
    const lineBreak = text.slice(i, i + 2);
    if (lineBreak === "\r\n" || lineBreak === "\n\r") return i + 2;
    return text[i] === "\n" || text[i] === "\r" ? i + 1 : i;
}
