/**
 * A broadcast in a child process, for the outbox's crash test. Environment:
 * API_ROOT, BOT_TOKEN, STORE, COUNT (messages), CHATS. Enqueues message n to
 * chat (n mod CHATS) with idempotency key `b:<n>` (a restarted process enqueues
 * the same keys again and gets the stored messages back), then waits for all.
 * Prints "q" once everything is enqueued and "done" when all were sent.
 */
import { writeSync } from "node:fs";
import { Bot } from "grammy";
import { createOutbox } from "../../src/index.js";

const { API_ROOT, BOT_TOKEN, STORE, COUNT, CHATS } = process.env;
const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
const outbox = createOutbox({
    store: STORE!,
    api: bot.api,
    globalPerSecond: 1000,
    privatePerSecond: 100,
});
const ids: number[] = [];
for (let n = 0; n < Number(COUNT); n++) {
    const chat_id = 1 + (n % Number(CHATS));
    ids.push(outbox.enqueue({ method: "sendMessage", payload: { chat_id, text: `#${n}` }, idempotencyKey: `b:${n}` }).id);
}
writeSync(1, "q\n");
await Promise.all(ids.map((id) => outbox.sent(id)));
writeSync(1, "done\n");
await outbox.close();
