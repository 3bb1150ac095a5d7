/**
 * The example bot: what `npm start` runs, for real with BOT_TOKEN or against
 * the built-in simulator without. Its handlers are ordinary grammY code; the
 * only sluice-specific lines are `sequentialize` and `run` (in start.ts).
 */
import type { Bot, Context } from "grammy";
import { sequentialize } from "../src/index.js";

/** Installs the example's middleware on a bot. */
export function installHandlers(bot: Bot<Context>, options: { workMs?: number } = {}): void {
    const workMs = options.workMs ?? 0;
    bot.use(sequentialize()); // one chat (and one user) at a time, in order
    bot.command("start", (ctx) => ctx.reply("Hi! Send me anything and I will count it."));
    let counted = 0;
    bot.on("message", async (ctx) => {
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs)); // stands in for real work
        counted++;
        await ctx.reply(`got it (#${counted})`);
    });
    bot.catch((error) => {
        console.error(`handler failed for update ${error.ctx.update.update_id}:`, error.error);
    });
}
