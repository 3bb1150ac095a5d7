import { InvalidOptionError, TemplateError, type TemplatePlace } from "../../shared/errors.js";
import { CustomTemplates } from "./custom-templates.js";
import { describeValue } from "./describe-value.js";
import { fallbacks, LOCALE_TAG } from "./locale.js";
import { escapeFor, parseMarkup } from "./markup.js";
import { assertSendable, kindOf, limitOf, type MessageFormat } from "./message-limits.js";
import { type LocaleText, readTemplates, type TemplateMap, type TemplateTexts } from "./template-source.js";
import type { TemplateText } from "./template-text.js";

export type { TemplateMap } from "./template-source.js";

/** One recipient's values for a template's `{name}` placeholders: `{ name: "Eve", days: 3 }`. */
export type TemplateVars = Record<string, unknown>;

/**
 * Renders a template the application's own way (@grammyjs/i18n, Fluent, …)
 * instead of sluice's `{name}` placeholders: it gets the recipient's locale
 * as given, picks its own fallback, and must escape values itself, since its
 * output is sent as it is.
 */
export type TemplateRenderer = (key: string, locale: string | undefined, vars: TemplateVars) => string;

/** How `Templates.load` reads templates. */
export interface TemplateOptions {
    /** The locale used when neither a recipient's locale nor its base language has a text. @default "en" */
    defaultLocale?: string;
}

/** What `check` looks at besides the texts themselves. */
export interface CheckOptions extends MessageFormat {
    /**
     * Sample values: when given, every locale is also rendered with them, so
     * a variable they lack, or a text they push over the limit, shows before
     * anything is sent. @default undefined
     */
    vars?: TemplateVars;
}

/** The variables a template's texts use: enough to check recipients' data without rendering for each. */
export interface TemplateVariables {
    /** Every variable some locale uses. */
    all: ReadonlySet<string>;
    /** The variables of each locale, by the locale as the templates write it (what `resolveLocale` returns). */
    byLocale: ReadonlyMap<string, ReadonlySet<string>>;
}

/** What a broadcast needs of its templates: a check before the first send, then one text per recipient. */
export interface MessageTemplates {
    /** Throws a `TemplateError` if `key` cannot make a message Telegram accepts as `options` says. */
    check(key: string, options?: CheckOptions): void;
    /** The text for one recipient, ready to send with `format.parseMode`; throws a `TemplateError` instead of a text Telegram would refuse. */
    render(key: string, locale: string | undefined, vars: TemplateVars, format?: MessageFormat): string;
}

/**
 * Stands in for each value while a text is checked before rendering: a
 * private-use character, no markup in any mode, and one no template has a
 * reason to contain, so the ones in the parsed text are the placeholders.
 */
const STAND_IN = "\uE000";

/** Throws if `text` is not valid markup for `format`, or already over the limit before any value is put in. */
function checkText(place: TemplatePlace, text: TemplateText, format: MessageFormat): void {
    const parsed = parseMarkup(
        format.parseMode,
        text.fill(() => STAND_IN),
    );
    if ("problem" in parsed) {
        const problem = `not valid ${format.parseMode}: ${parsed.problem} (at character ${text.sourceOffset(parsed.at) + 1} of the template)`;
        throw new TemplateError("TEMPLATE_INVALID", problem, place);
    }
    const length = parsed.visible.length - (parsed.visible.split(STAND_IN).length - 1);
    const limit = limitOf(format);
    if (length > limit) {
        const problem = `${length} characters long (once its markup is parsed) before any value is put in, over Telegram's limit of ${limit} for ${kindOf(format)}; shorten it or split it into two messages`;
        throw new TemplateError("MESSAGE_TOO_LONG", problem, place);
    }
}

const WRITABLE = new Set(["string", "number", "bigint", "boolean"]);

/** The text of `variable`'s value in `vars`. */
function valueText(vars: TemplateVars, variable: string, place: TemplatePlace): string {
    const value = Object.hasOwn(vars, variable) ? vars[variable] : undefined;
    if (value === null || value === undefined) {
        const problem = `needs the variable "${variable}", which was not given (null and undefined count as not given); add it to the values`;
        throw new TemplateError("TEMPLATE_VARIABLE_MISSING", problem, { ...place, variable });
    }
    if (!WRITABLE.has(typeof value)) {
        const problem = `the variable "${variable}" is ${describeValue(value)}, which has no text of its own; pass a string, number, bigint or boolean`;
        throw new TemplateError("TEMPLATE_VARIABLE_MISSING", problem, { ...place, variable });
    }
    return String(value);
}

/**
 * Message templates by key and locale, with `{name}` placeholders whose
 * values are escaped for the parse mode, so a recipient's name can never
 * break a broadcast's markup. Every text is checked as Telegram would read
 * it: `check` once before sending, `render` again for each recipient.
 *
 * @example
 * const templates = Templates.load("templates.yaml"); // news: { en: "Hello, <b>{name}</b>!" }
 * templates.check("news", { parseMode: "HTML" });
 * templates.render("news", ctx.from?.language_code, { name: "Eve" }, { parseMode: "HTML" });
 */
export class Templates implements MessageTemplates {
    private constructor(
        private readonly templates: TemplateTexts,
        /** The locale every other one falls back to last. */
        readonly defaultLocale: string,
    ) {}

    /**
     * Templates from a YAML file (`source` is its path, read now) or from an
     * object; a file that cannot be read or has the wrong shape throws
     * `TEMPLATE_INVALID` naming the file, key and locale.
     */
    static load(source: string | TemplateMap, options: TemplateOptions = {}): Templates {
        const defaultLocale = options.defaultLocale ?? "en";
        if (typeof defaultLocale !== "string" || !LOCALE_TAG.test(defaultLocale)) {
            throw new InvalidOptionError(
                "templates.defaultLocale",
                `expected a language tag like "en" or "pt-BR", got ${JSON.stringify(defaultLocale)}`,
            );
        }
        return new Templates(readTemplates(source), defaultLocale);
    }

    /** Templates rendered by `renderer` instead: sluice only checks its output. */
    static custom(renderer: TemplateRenderer): MessageTemplates {
        return new CustomTemplates(renderer);
    }

    /**
     * The locale whose text a recipient with `locale` gets, as the templates
     * write it: the locale itself, else its base language (`pt` for `pt-BR`
     * or `pt_BR`), else the default locale. Case does not matter.
     */
    resolveLocale(key: string, locale: string | undefined): string {
        return this.textFor(key, locale).locale;
    }

    /**
     * Checks every locale of `key` against Telegram's rules for `options`
     * (markup, length before values) and that the default locale has a
     * text; returns the variables the texts use.
     */
    check(key: string, { vars, ...format }: CheckOptions = {}): TemplateVariables {
        this.textFor(key, undefined);
        const byLocale = new Map<string, ReadonlySet<string>>();
        for (const { locale, text } of this.textsOf(key).values()) {
            checkText({ key, locale }, text, format);
            if (vars !== undefined) this.render(key, locale, vars, format);
            byLocale.set(locale, text.variables);
        }
        return { all: new Set([...byLocale.values()].flatMap((variables) => [...variables])), byLocale };
    }

    /** The text of `key` for a recipient with `locale`, each `{name}` replaced by `vars.name` escaped for `format.parseMode`. */
    render(key: string, locale: string | undefined, vars: TemplateVars, format: MessageFormat = {}): string {
        const { locale: written, text } = this.textFor(key, locale);
        const place = { key, locale: written };
        const filled = text.fill((variable) => escapeFor(format.parseMode, valueText(vars, variable, place)));
        return assertSendable(filled, format, place);
    }

    private textsOf(key: string): ReadonlyMap<string, LocaleText> {
        const texts = this.templates.get(key);
        if (texts === undefined) {
            throw new TemplateError("TEMPLATE_UNKNOWN", "no template has this key; check its spelling, or add it to the templates", {
                key,
            });
        }
        return texts;
    }

    private textFor(key: string, locale: string | undefined): LocaleText {
        const texts = this.textsOf(key);
        for (const candidate of fallbacks(locale, this.defaultLocale)) {
            const found = texts.get(candidate);
            if (found !== undefined) return found;
        }
        const has = [...texts.values()].map((text) => text.locale).join(", ");
        const problem = `no text for ${locale === undefined ? "" : "this locale, its base language or "}the default locale "${this.defaultLocale}" (it has ${has}); add a "${this.defaultLocale}" text, which every locale without its own falls back to`;
        throw new TemplateError("TEMPLATE_UNKNOWN", problem, locale === undefined ? { key } : { key, locale });
    }
}
