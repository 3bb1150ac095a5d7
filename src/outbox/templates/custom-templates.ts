import { TemplateError } from "../../shared/errors.js";
import { describeValue } from "./describe-value.js";
import { assertSendable, type MessageFormat } from "./message-limits.js";
import type { CheckOptions, MessageTemplates, TemplateRenderer, TemplateVars } from "./templates.js";

/**
 * Templates the application renders itself (`Templates.custom`): sluice
 * passes key, locale and values through and checks the output as Telegram
 * will read it, but sends it as it is; escaping values is the renderer's job.
 */
export class CustomTemplates implements MessageTemplates {
    constructor(private readonly renderer: TemplateRenderer) {}

    /**
     * Renders `key` once, for no locale in particular, with `vars` as sample
     * values, and checks the output: the renderer's texts are its own, so
     * rendering is the only way to see them.
     */
    check(key: string, { vars = {}, ...format }: CheckOptions = {}): void {
        this.render(key, undefined, vars, format);
    }

    render(key: string, locale: string | undefined, vars: TemplateVars, format: MessageFormat = {}): string {
        const place = locale === undefined ? { key } : { key, locale };
        const text: unknown = this.renderer(key, locale, vars);
        if (typeof text !== "string") {
            throw new TemplateError("TEMPLATE_INVALID", `the custom renderer returned ${describeValue(text)} instead of a string`, place);
        }
        return assertSendable(text, format, place);
    }
}
