import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { TemplateError, type TemplatePlace } from "../../shared/errors.js";
import { describeValue } from "./describe-value.js";
import { LOCALE_TAG, localeKey } from "./locale.js";
import { TemplateText } from "./template-text.js";

/** Texts of one template by locale: `{ news: { en: "Hello, {name}!", ru: "Привет, {name}!" } }`. */
export type TemplateMap = Record<string, Record<string, string>>;

/** One locale's text of a template, with the locale as the templates write it. */
export interface LocaleText {
    locale: string;
    text: TemplateText;
}

/** Every template by key, its texts by `localeKey`. */
export type TemplateTexts = ReadonlyMap<string, ReadonlyMap<string, LocaleText>>;

const EXAMPLE = 'news: { en: "Hello, {name}!", ru: "Привет, {name}!" }';

function invalid(place: TemplatePlace, problem: string, cause?: unknown): TemplateError {
    return new TemplateError("TEMPLATE_INVALID", problem, place, cause === undefined ? undefined : { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The `yaml` package's parser, loaded the first time a file is read: a bot
 * whose templates are an object (or that has none) does not pay its load time
 * at startup, where it delays the first update handled.
 */
function parseYaml(content: string): unknown {
    const { parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
    return parse(content);
}

/** The parsed content of a YAML templates file. */
function readYaml(path: string): unknown {
    let content: string;
    try {
        content = readFileSync(path, "utf8");
    } catch (error) {
        throw invalid(
            { path },
            `cannot be read (${(error as Error).message}); check the path, which is relative to ${process.cwd()}`,
            error,
        );
    }
    try {
        return parseYaml(content);
    } catch (error) {
        throw invalid({ path }, `not valid YAML: ${(error as Error).message}`, error);
    }
}

/** One template's texts, checked: an object of locale → string, each locale once, each brace a placeholder or escaped. */
function readLocales(place: TemplatePlace & { key: string }, locales: unknown): Map<string, LocaleText> {
    if (!isRecord(locales) || Object.keys(locales).length === 0) {
        throw invalid(place, `must map locales to texts, e.g. ${place.key}: { en: "…" }; got ${describeValue(locales)}`);
    }
    const texts = new Map<string, LocaleText>();
    for (const [locale, source] of Object.entries(locales)) {
        const at = { ...place, locale };
        if (!LOCALE_TAG.test(locale)) throw invalid(at, "not a language tag; name locales like en, pt-BR or pt_BR");
        if (typeof source !== "string") throw invalid(at, `must be a string; got ${describeValue(source)} (in YAML, quote it)`);
        const twin = texts.get(localeKey(locale));
        if (twin !== undefined) throw invalid(at, `the same locale as "${twin.locale}"; keep one of them`);
        const text = TemplateText.parse(source);
        if (!(text instanceof TemplateText)) throw invalid(at, `${text.problem} (at character ${text.at + 1})`);
        texts.set(localeKey(locale), { locale, text });
    }
    return texts;
}

/**
 * Reads templates from a YAML file (`source` is its path) or from an object,
 * checking their shape: every key maps to an object of locale → text.
 */
export function readTemplates(source: string | TemplateMap): TemplateTexts {
    const path = typeof source === "string" ? source : undefined;
    const content: unknown = path === undefined ? source : readYaml(path);
    const place: TemplatePlace = path === undefined ? {} : { path };
    if (!isRecord(content))
        throw invalid(place, `must map template keys to texts by locale, e.g. ${EXAMPLE}; got ${describeValue(content)}`);
    const templates = new Map<string, ReadonlyMap<string, LocaleText>>();
    for (const [key, locales] of Object.entries(content)) templates.set(key, readLocales({ ...place, key }, locales));
    return templates;
}
