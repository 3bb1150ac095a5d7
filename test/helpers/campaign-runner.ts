/**
 * A campaign in a child process, for the campaigns' crash test. Environment:
 * API_ROOT, BOT_TOKEN, STORE, COUNT (recipients: chats 1..COUNT). The first
 * life creates the campaign; any life finds it, (re)adds every recipient while
 * it is a draft (duplicates are ignored, so an import cut by a kill is simply
 * done again) and starts it. Prints "sending" once it is running and
 * "done <stats as JSON>" when it finished.
 */
import { writeSync } from "node:fs";
import { Bot } from "grammy";
import { createOutbox, type Recipient } from "../../src/index.js";

const { API_ROOT, BOT_TOKEN, STORE, COUNT } = process.env;
const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
const outbox = createOutbox({
    store: STORE!,
    api: bot.api,
    templates: { hello: { en: "Hello, #{n}!" } },
    globalPerSecond: 400,
    privatePerSecond: 100,
    maxInFlight: 8,
});
const { campaigns } = outbox;
const id = campaigns.list()[0]?.id ?? campaigns.create({ name: "crash", message: { template: "hello", vars: {} } }).id;

function* recipients(): Generator<Recipient> {
    for (let chatId = 1; chatId <= Number(COUNT); chatId++) yield { chatId, vars: { n: chatId } };
}
if (campaigns.stats(id).state === "draft") {
    await campaigns.addRecipients(id, recipients());
    campaigns.start(id);
}
writeSync(1, "sending\n");
const stats = await campaigns.finished(id);
writeSync(1, `done ${JSON.stringify(stats)}\n`);
await outbox.close();
