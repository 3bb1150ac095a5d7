/**
 * A bot run in a child process by the tests. Environment:
 *   API_ROOT, BOT_TOKEN  where the simulator is and which bot to be
 *   STOP_AFTER           stop by itself after this many handled updates (else wait for a signal)
 *   WORK_MS              how long each handler works
 * Prints one JSON line per handled update ({"handled":id}) and {"stopped":true} when stop() resolved.
 */
import { Bot } from "grammy";
import { run } from "../../src/index.js";

const { API_ROOT, BOT_TOKEN, STOP_AFTER, WORK_MS } = process.env;
const bot = new Bot(BOT_TOKEN!, { client: { apiRoot: API_ROOT! } });
const stopAfter = STOP_AFTER === undefined ? Infinity : Number(STOP_AFTER);
let handled = 0;
bot.on("message", async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, Number(WORK_MS ?? 0)));
    process.stdout.write(`${JSON.stringify({ handled: ctx.update.update_id })}\n`);
    if (++handled === stopAfter) void handle.stop().then(() => console.log(JSON.stringify({ stopped: true })));
});
const handle = run(bot);
await handle.task();
console.log(JSON.stringify({ stopped: true }));
