/** A piece of a template text: written as it is, or where a variable's value goes. `from` is its offset in the source. */
type Segment = { text: string; from: number } | { variable: string; from: number };

/** `{{`, `}}`, a `{name}` placeholder, or a brace that is neither. */
const TOKEN = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]/g;

/**
 * One locale's text of a template, split once at load into what is written
 * as it is and the `{name}` placeholders; `{{` and `}}` write a literal brace.
 * Placeholders are read before any markup, so a MarkdownV2 text writes an
 * escaped literal brace as `\{{`.
 */
export class TemplateText {
    /** The variables the text uses. */
    readonly variables: ReadonlySet<string>;

    private constructor(
        readonly source: string,
        private readonly segments: readonly Segment[],
    ) {
        this.variables = new Set(segments.flatMap((segment) => ("variable" in segment ? [segment.variable] : [])));
    }

    /** Splits `source`, or says what is wrong with a brace and where (an offset into `source`). */
    static parse(source: string): TemplateText | { problem: string; at: number } {
        const segments: Segment[] = [];
        let last = 0;
        for (const token of source.matchAll(TOKEN)) {
            const at = token.index;
            if (at > last) segments.push({ text: source.slice(last, at), from: last });
            const [written, variable] = token;
            if (variable !== undefined) segments.push({ variable, from: at });
            else if (written.length === 2) segments.push({ text: written[0]!, from: at });
            else {
                const problem = `"${written}" is not part of a {name} placeholder (a name is letters, digits and _, not starting with a digit); write "${written}${written}" for a literal "${written}"`;
                return { problem, at };
            }
            last = at + written.length;
        }
        if (last < source.length) segments.push({ text: source.slice(last), from: last });
        return new TemplateText(source, segments);
    }

    /** The text with each placeholder replaced by `write(variable)`. */
    fill(write: (variable: string) => string): string {
        return this.segments.map((segment) => ("variable" in segment ? write(segment.variable) : segment.text)).join("");
    }

    /**
     * Where in `source` the character at `at` of a filled text comes from,
     * for a text filled with values of one character each: what lets a
     * markup problem found in a filled text point into the template.
     */
    sourceOffset(at: number): number {
        let filled = 0;
        for (const segment of this.segments) {
            const length = "variable" in segment ? 1 : segment.text.length;
            if (at < filled + length) return segment.from + (at - filled);
            filled += length;
        }
        return this.source.length;
    }
}
