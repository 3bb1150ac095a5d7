/** A language tag as templates name their locales: `en`, `pt-BR`, `pt_BR`, `zh-Hant-TW`. */
export const LOCALE_TAG = /^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$/;

/**
 * The form locales are compared in: Telegram's `language_code` is `pt-br`,
 * gettext-style files say `pt_BR`, and all of them mean the same locale.
 */
export function localeKey(locale: string): string {
    return locale.toLowerCase().replaceAll("_", "-");
}

/**
 * Where a locale looks for its text, in order: itself, its base language
 * (`pt` for `pt-BR`), then the default locale and its base language.
 */
export function fallbacks(locale: string | undefined, defaultLocale: string): string[] {
    const chain = locale === undefined ? [defaultLocale] : [locale, defaultLocale];
    return chain.flatMap((tag) => [localeKey(tag), localeKey(tag).split("-")[0]!]);
}
