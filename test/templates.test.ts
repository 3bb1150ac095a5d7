import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkMarkup, escapeFor, visibleLength } from "../src/outbox/templates/markup.js";
import { Templates } from "../src/outbox/templates/templates.js";
import { TemplateError } from "../src/shared/errors.js";

const folder = mkdtempSync(join(tmpdir(), "sluice-templates-"));
after(() => rmSync(folder, { recursive: true, force: true }));

function yamlFile(name: string, content: string): string {
    const path = join(folder, name);
    writeFileSync(path, content);
    return path;
}

describe("loading templates", () => {
    it("reads a YAML file of texts by key and locale", () => {
        const path = yamlFile("news.yaml", 'news:\n  en: "Hello, {name}!"\n  ru: "Привет, {name}!"\nbye:\n  en: Bye\n');
        const templates = Templates.load(path);
        assert.equal(templates.render("news", "ru", { name: "Ева" }), "Привет, Ева!");
        assert.equal(templates.render("bye", "en", {}), "Bye");
    });

    it("reads the same texts from an object", () => {
        const templates = Templates.load({ news: { en: "Hello, {name}!" } });
        assert.equal(templates.render("news", "en", { name: "Eve" }), "Hello, Eve!");
    });

    it("refuses a file that does not exist, naming its path", () => {
        const path = join(folder, "missing.yaml");
        assert.throws(() => Templates.load(path), {
            name: "TemplateError",
            code: "TEMPLATE_INVALID",
            path,
            message: /missing\.yaml: cannot be read/,
        });
    });

    it("refuses a file that is not YAML, naming its path and the parser's complaint", () => {
        const path = yamlFile("broken.yaml", 'news:\n  en: "Hello\n  ru: [unclosed\n');
        assert.throws(() => Templates.load(path), { code: "TEMPLATE_INVALID", path, message: /broken\.yaml: not valid YAML: .*line/s });
    });

    it("refuses texts of the wrong shape, naming the key and locale", () => {
        const wrong = (source: unknown) => () => Templates.load(source as Record<string, Record<string, string>>);
        assert.throws(wrong(["news"]), { code: "TEMPLATE_INVALID", message: /must map template keys to texts by locale/ });
        assert.throws(wrong({ news: "Hello" }), { code: "TEMPLATE_INVALID", key: "news", message: /must map locales to texts/ });
        assert.throws(wrong({ news: {} }), { code: "TEMPLATE_INVALID", key: "news" });
        assert.throws(wrong({ news: { en: 42 } }), {
            code: "TEMPLATE_INVALID",
            key: "news",
            locale: "en",
            message: /must be a string; got a number \(42\)/,
        });
        assert.throws(wrong({ news: { "en us": "Hi" } }), { code: "TEMPLATE_INVALID", locale: "en us", message: /not a language tag/ });
        assert.throws(wrong({ news: { "pt-BR": "Oi", pt_br: "Olá" } }), {
            code: "TEMPLATE_INVALID",
            locale: "pt_br",
            message: /same locale as "pt-BR"/,
        });
    });

    it("refuses a YAML number where a text belongs, telling to quote it", () => {
        const path = yamlFile("number.yaml", "count:\n  en: 42\n");
        assert.throws(() => Templates.load(path), { code: "TEMPLATE_INVALID", path, key: "count", locale: "en", message: /quote it/ });
    });

    it("refuses a stray brace, pointing at it", () => {
        assert.throws(() => Templates.load({ news: { en: "Hi {name" } }), {
            code: "TEMPLATE_INVALID",
            key: "news",
            locale: "en",
            message: /"\{" is not part of a \{name\} placeholder.*"\{\{".*character 4/,
        });
    });

    it("refuses a default locale that is no language tag", () => {
        assert.throws(() => Templates.load({}, { defaultLocale: "" }), { code: "INVALID_OPTION", message: /templates\.defaultLocale/ });
    });
});

describe("locale fallback", () => {
    const templates = Templates.load({
        news: { en: "Hello", pt: "Olá", "pt-PT": "Olá, Portugal", ru: "Привет" },
        promo: { ru: "Скидка" },
    });

    it("uses the recipient's exact locale when it has a text, whatever its case or separator", () => {
        assert.equal(templates.resolveLocale("news", "pt-PT"), "pt-PT");
        assert.equal(templates.resolveLocale("news", "pt_pt"), "pt-PT");
        assert.equal(templates.render("news", "PT-pt", {}), "Olá, Portugal");
    });

    it("falls back from pt-BR or pt_BR to the base language pt", () => {
        assert.equal(templates.resolveLocale("news", "pt-BR"), "pt");
        assert.equal(templates.resolveLocale("news", "pt_BR"), "pt");
        assert.equal(templates.render("news", "pt_BR", {}), "Olá");
    });

    it("falls back to the default locale for an unknown or absent locale", () => {
        assert.equal(templates.render("news", "de", {}), "Hello");
        assert.equal(templates.render("news", undefined, {}), "Hello");
        const russianFirst = Templates.load({ news: { en: "Hello", ru: "Привет" } }, { defaultLocale: "ru" });
        assert.equal(russianFirst.render("news", "de", {}), "Привет");
    });

    it("is TEMPLATE_UNKNOWN when the key has no text for the locale nor the default locale", () => {
        assert.equal(templates.render("promo", "ru", {}), "Скидка");
        assert.throws(() => templates.render("promo", "de", {}), {
            code: "TEMPLATE_UNKNOWN",
            key: "promo",
            locale: "de",
            message: /add a "en" text/,
        });
        assert.throws(() => templates.check("promo"), { code: "TEMPLATE_UNKNOWN", key: "promo" });
    });

    it("is TEMPLATE_UNKNOWN for a key no template has", () => {
        assert.throws(
            () => templates.render("nwes", "en", {}),
            (error) => error instanceof TemplateError && error.code === "TEMPLATE_UNKNOWN" && error.key === "nwes",
        );
    });
});

describe("escaping values", () => {
    it("keeps an HTML name literal: tags and entities in it are shown, not parsed", () => {
        const templates = Templates.load({ hi: { en: "Hello, <b>{name}</b>!" } });
        const name = '<b>Eve</b> & "x"';
        const text = templates.render("hi", "en", { name }, { parseMode: "HTML" });
        assert.equal(text, "Hello, <b>&lt;b&gt;Eve&lt;/b&gt; &amp; &quot;x&quot;</b>!");
        assert.equal(checkMarkup("HTML", text), undefined);
        assert.equal(visibleLength("HTML", text), `Hello, ${name}!`.length);
    });

    it("keeps a MarkdownV2 name literal: every reserved character is escaped", () => {
        const templates = Templates.load({ hi: { en: "Hello, *{name}*\\!" } });
        const name = "a_b*c[d](e).!";
        const text = templates.render("hi", "en", { name }, { parseMode: "MarkdownV2" });
        assert.equal(text, "Hello, *a\\_b\\*c\\[d\\]\\(e\\)\\.\\!*\\!");
        assert.equal(checkMarkup("MarkdownV2", text), undefined);
        assert.equal(visibleLength("MarkdownV2", text), `Hello, ${name}!`.length);
    });

    it("escapes each mode's own characters, and nothing without a parse mode", () => {
        assert.equal(escapeFor("MarkdownV2", "\\ # + - = | { } ~ ` >"), "\\\\ \\# \\+ \\- \\= \\| \\{ \\} \\~ \\` \\>");
        assert.equal(escapeFor("Markdown", "_*`[]"), "\\_\\*\\`\\[]");
        assert.equal(escapeFor(undefined, "<b>*x*</b>"), "<b>*x*</b>");
    });

    it("writes numbers, bigints and booleans as String() does", () => {
        const templates = Templates.load({ stats: { en: "{n} {big} {yes}" } });
        assert.equal(templates.render("stats", "en", { n: 1.5, big: 10n ** 20n, yes: false }), "1.5 100000000000000000000 false");
    });
});

describe("markup that Telegram would refuse", () => {
    const refused = (parseMode: "HTML" | "MarkdownV2" | "Markdown", en: string, problem: RegExp) => {
        const templates = Templates.load({ news: { ru: "ок", en } });
        assert.throws(() => templates.check("news", { parseMode }), {
            code: "TEMPLATE_INVALID",
            key: "news",
            locale: "en",
            message: problem,
        });
    };

    it("refuses an unclosed HTML tag", () => refused("HTML", "<b>unclosed", /<b> is never closed.*character 1 /));
    it("refuses an HTML tag Telegram does not support", () =>
        refused("HTML", "<script>x</script>", /<script> is not a tag Telegram supports/));
    it("refuses HTML tags closed out of order", () => refused("HTML", "<b><i>x</b></i>", /<\/b> where <\/i> was expected/));
    it("refuses a bare & in HTML", () => refused("HTML", "Tom & Jerry", /write &amp;.*character 5 /));
    it("refuses an unescaped ! in MarkdownV2", () => refused("MarkdownV2", "Hello!", /"!" is reserved.*character 6 /));
    it("refuses an unbalanced * in MarkdownV2", () => refused("MarkdownV2", "*bold and more", /bold opened with "\*" is never closed/));
    it("refuses an unbalanced _ in legacy Markdown", () => refused("Markdown", "snake_case", /italic opened with "_" is never closed/));

    it("points at the problem in the template, counting placeholders as written", () => {
        refused("MarkdownV2", "Hi {name}, \\{{ok\\}}!", /"!" is reserved.*character 20 of the template/);
    });

    it("accepts what Telegram's documentation shows", () => {
        assert.equal(
            checkMarkup(
                "HTML",
                "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>s</strike><del>d</del>" +
                    '<span class="tg-spoiler">s</span><tg-spoiler>s</tg-spoiler><a href="http://www.example.com/">l</a>' +
                    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><code>c</code><pre>p</pre>' +
                    '<pre><code class="language-python">p</code></pre><blockquote>q</blockquote><blockquote expandable>q</blockquote>' +
                    "&lt;&gt;&amp;&quot;&#123;&#x1F600;",
            ),
            undefined,
        );
        const markdownV2 = [
            "*bold \\*text*",
            "_italic \\*text_",
            "__underline__ ~strikethrough~ ||spoiler||",
            "*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ __underline italic bold___ bold*",
            "[inline URL](http://www.example.com/) ![👍](tg://emoji?id=5368324170671202286) `inline code`",
            "```python\nprint(1)\n```",
            ">Block quotation started",
            ">The last line of the block quotation",
            "**>The expandable block quotation started",
            ">The last line of the expandable block quotation||",
        ].join("\n");
        assert.equal(checkMarkup("MarkdownV2", markdownV2), undefined);
        assert.equal(checkMarkup("Markdown", "*bold* _italic_ [URL](http://x.com/) `code` ```python\ncode``` snake\\_case"), undefined);
    });

    it("counts what Telegram shows: markup removed, entities decoded, a pre block's language and first line break left out", () => {
        assert.equal(visibleLength("HTML", "<b>a</b>&amp;&#x1F600;"), 4);
        assert.equal(visibleLength("MarkdownV2", "*a* [b](http://x.com) \\! ```js\nc```"), 7);
        assert.equal(visibleLength("Markdown", "*a* [b](http://x.com) ```js\nc```"), 5);
        assert.equal(visibleLength(undefined, "<b>a</b>"), 8);
    });
});

describe("variables", () => {
    const templates = Templates.load({ news: { en: "Hello, {name}! {count} new", ru: "Привет, {name}!" } });

    it("check returns the variables each locale needs, and all of them", () => {
        const needs = templates.check("news", { parseMode: "HTML" });
        assert.deepEqual([...needs.all].sort(), ["count", "name"]);
        assert.deepEqual([...needs.byLocale.get("ru")!], ["name"]);
        assert.deepEqual([...needs.byLocale.get(templates.resolveLocale("news", "en-GB"))!].sort(), ["count", "name"]);
    });

    it("a missing variable is named; null and undefined count as missing", () => {
        for (const vars of [{ name: "Eve" }, { name: "Eve", count: null }, { name: "Eve", count: undefined }]) {
            assert.throws(() => templates.render("news", "en", vars), {
                code: "TEMPLATE_VARIABLE_MISSING",
                key: "news",
                locale: "en",
                variable: "count",
                message: /needs the variable "count"/,
            });
        }
    });

    it("a value with no text of its own is refused rather than written as [object Object]", () => {
        assert.throws(() => templates.render("news", "ru", { name: { first: "Eve" } }), {
            code: "TEMPLATE_VARIABLE_MISSING",
            variable: "name",
        });
    });

    it("check with sample values renders every locale with them", () => {
        assert.throws(() => templates.check("news", { vars: { name: "Eve" } }), {
            code: "TEMPLATE_VARIABLE_MISSING",
            locale: "en",
            variable: "count",
        });
        assert.doesNotThrow(() => templates.check("news", { vars: { name: "Eve", count: 3 } }));
    });

    it("{{ and }} write literal braces", () => {
        const braces = Templates.load({ code: { en: "{{name}} is {name}; }}{{" } });
        assert.equal(braces.render("code", "en", { name: "Eve" }), "{name} is Eve; }{");
        assert.deepEqual([...braces.check("code").all], ["name"]);
    });
});

describe("length limits", () => {
    const bold = (n: number) => `<b>${"x".repeat(n)}</b>`;

    it("counts the text after its markup is parsed, so tags do not count against 4096", () => {
        const templates = Templates.load({ long: { en: `${bold(4090)}{tail}` } });
        assert.equal(templates.check("long", { parseMode: "HTML" }).all.size, 1);
        assert.equal(visibleLength("HTML", templates.render("long", "en", { tail: "123456" }, { parseMode: "HTML" })), 4096);
        assert.throws(() => templates.render("long", "en", { tail: "1234567" }, { parseMode: "HTML" }), {
            code: "MESSAGE_TOO_LONG",
            key: "long",
            message: /4097 characters.*limit of 4096 for a message text/,
        });
    });

    it("counts escaped values as what they show", () => {
        const templates = Templates.load({ long: { en: `${bold(4090)}{tail}` } });
        assert.equal(visibleLength("HTML", templates.render("long", "en", { tail: "&&&&&&" }, { parseMode: "HTML" })), 4096);
    });

    it("check refuses a text already over the limit before any value is put in", () => {
        const templates = Templates.load({ long: { en: `${"x".repeat(4097)}{name}` } });
        assert.throws(() => templates.check("long"), {
            code: "MESSAGE_TOO_LONG",
            locale: "en",
            message: /4097 characters.*before any value/,
        });
    });

    it("check counts a text without its placeholders, which may stand for empty values", () => {
        const templates = Templates.load({ full: { en: `${"x".repeat(4096)}{suffix}` } });
        assert.deepEqual([...templates.check("full").all], ["suffix"]);
        assert.equal(templates.render("full", "en", { suffix: "" }).length, 4096);
    });

    it("limits a caption to 1024", () => {
        const templates = Templates.load({ photo: { en: bold(1025) } });
        assert.doesNotThrow(() => templates.check("photo", { parseMode: "HTML" }));
        assert.throws(() => templates.check("photo", { parseMode: "HTML", caption: true }), {
            code: "MESSAGE_TOO_LONG",
            message: /limit of 1024 for a caption/,
        });
        assert.throws(() => templates.render("photo", "en", {}, { parseMode: "HTML", caption: true }), { code: "MESSAGE_TOO_LONG" });
    });
});

describe("a custom renderer", () => {
    const calls: unknown[][] = [];
    const templates = Templates.custom((key, locale, vars) => {
        calls.push([key, locale, vars]);
        return key === "long" ? "x".repeat(1025) : `<i>${key}</i> for ${String(vars.name)}`;
    });

    it("renders in place of the built-in templates, its output used as it is", () => {
        assert.equal(templates.render("news", "de", { name: "<Eve>" }), "<i>news</i> for <Eve>");
        assert.deepEqual(calls.at(-1), ["news", "de", { name: "<Eve>" }]);
    });

    it("has its output checked as Telegram will read it", () => {
        assert.throws(() => templates.render("news", "de", { name: "<Eve>" }, { parseMode: "HTML" }), {
            code: "TEMPLATE_INVALID",
            key: "news",
            locale: "de",
        });
        assert.throws(() => templates.check("long", { caption: true }), { code: "MESSAGE_TOO_LONG", key: "long" });
        assert.doesNotThrow(() => templates.check("news", { parseMode: "HTML", vars: { name: "Eve" } }));
    });
});
