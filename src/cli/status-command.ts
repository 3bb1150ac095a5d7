import { Command } from "commander";
import { campaignLine } from "./campaign-line.js";
import { type BotSummary, summarizeStore } from "./store-summary.js";

/** `sluice status --store bot.db`: what a store holds, per bot; `--json` for scripts. */
export function statusCommand(): Command {
    return new Command("status")
        .description("Show what a store holds, per bot: journal, outbox, campaigns, tasks, and which process owns it")
        .requiredOption("--store <path>", "the SQLite file a bot (or createOutbox/createTasks) uses")
        .option("--json", "print JSON instead of text")
        .action((options: { store: string; json?: boolean }) => {
            const bots = summarizeStore(options.store);
            process.stdout.write(
                options.json ? `${JSON.stringify(bots)}\n` : bots.map(describe).join("\n") || "The store holds nothing yet.\n",
            );
        });
}

function describe(bot: BotSummary): string {
    const lines = [`bot ${bot.botId}`];
    for (const owner of bot.owners)
        lines.push(`  ${owner.role} owned by pid ${owner.pid} on ${owner.host}, seen ${Math.round(owner.seenMsAgo / 1000)} s ago`);
    lines.push(`  journal   next offset ${bot.journal.nextOffset ?? "-"}, ${bot.journal.quarantined} quarantined`);
    lines.push(
        `  outbox    ${bot.outbox.queued} queued, ${bot.outbox.deadLetters} dead letters, ${bot.outbox.unreachable} unreachable chats`,
    );
    for (const campaign of bot.campaigns) lines.push(`  ${campaignLine(campaign)}`);
    lines.push(`  tasks     ${bot.tasks.queued} queued, ${bot.tasks.done} done, ${bot.tasks.dead} dead`);
    return `${lines.join("\n")}\n`;
}
