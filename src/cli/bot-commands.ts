import { SingleBar } from "cli-progress";
import { Command } from "commander";
import { type CampaignCounts, campaignLine } from "./campaign-line.js";
import { call, type Options, operating, print } from "./command-options.js";
import { withConnection } from "./connection.js";
import { recipientsStream } from "./recipients-file.js";

type Stats = CampaignCounts & { perSecond: number; etaMs?: number };

/** How often `stats --watch` asks. */
const WATCH_EVERY_MS = 1_000;

/** Follows a campaign until it is finished or cancelled: a progress bar on stderr, or a JSON line per look. */
async function watchCampaign(read: () => Promise<Stats>, json: boolean): Promise<void> {
    const bar = json
        ? undefined
        : new SingleBar({
              format: "{name} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_left} | {state}",
              stream: process.stderr,
          });
    for (let first = true; ; first = false) {
        const stats = await read();
        const done = stats.sent + stats.failed + stats.skipped;
        const values = { name: stats.name, rate: stats.perSecond.toFixed(1), eta_left: etaText(stats.etaMs), state: stats.state };
        if (json) process.stdout.write(`${JSON.stringify(stats)}\n`);
        else if (first) bar!.start(stats.total, done, values);
        else bar!.update(done, { ...values, total: stats.total });
        if (stats.state === "finished" || stats.state === "cancelled") break;
        await new Promise((resolve) => setTimeout(resolve, WATCH_EVERY_MS));
    }
    bar?.stop();
}

function etaText(ms: number | undefined): string {
    if (ms === undefined) return "-";
    const seconds = Math.round(ms / 1000);
    return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
}

/**
 * `sluice campaign …`, `sluice dlq …`, `sluice quarantine …`, `sluice tasks …`:
 * operate a bot through its store file or its admin API.
 */
export function botCommands(): Command[] {
    const campaign = new Command("campaign").description("Campaigns of a bot");
    campaign.addCommand(
        operating(new Command("create").description("Create a campaign (a draft: add recipients, then start it)"))
            .requiredOption("--name <name>", "a name for people")
            .option("--template <key>", "a template of the bot's templates")
            .option("--text <text>", "the same text for everyone (instead of --template)")
            .option("--vars <json>", "values every recipient's template gets, as JSON")
            .option("--parse-mode <mode>", "HTML, MarkdownV2 or Markdown")
            .option("--priority <priority>", "high, normal or low", "low")
            .option("--start-at <date>", "not before this time (ISO 8601)")
            .option("--templates <file>", "with --store: the bot's templates (YAML), to check the campaign's message against")
            .action(async (options: Options & Record<string, string | undefined>) => {
                const format = options.parseMode === undefined ? {} : { parse_mode: options.parseMode };
                const message =
                    options.template !== undefined
                        ? {
                              template: options.template,
                              ...(options.vars === undefined ? {} : { vars: JSON.parse(options.vars) }),
                              ...format,
                          }
                        : { text: options.text, ...format };
                const body = {
                    name: options.name,
                    message,
                    priority: options.priority,
                    ...(options.startAt ? { startAt: options.startAt } : {}),
                };
                print(
                    options,
                    await call(options, "POST", "/v1/campaigns", body),
                    (created: { id: number }) => `created campaign ${created.id}`,
                );
            }),
    );
    campaign.addCommand(
        operating(new Command("add").description("Add recipients from a CSV (header: chat_id[,locale][,vars…]) or JSONL file"))
            .argument("<id>", "the campaign's id")
            .argument("<file>", "recipients.csv or recipients.jsonl")
            .action(async (id: string, file: string, options: Options) => {
                const upload = await recipientsStream(file, { progress: !options.json && process.stderr.isTTY === true });
                try {
                    const answer = await call(options, "POST", `/v1/campaigns/${id}/recipients`, { ndjson: upload.ndjson });
                    const describe = (a: {
                        added: number;
                        duplicates: number;
                        rejected: number;
                        firstErrors: { index: number; error: string }[];
                    }) =>
                        [
                            `added ${a.added}, duplicates ${a.duplicates}, rejected ${a.rejected}`,
                            ...a.firstErrors.map((e) => `  line ${e.index + 1}: ${e.error}`),
                        ].join("\n");
                    print(options, answer, describe);
                } finally {
                    upload.done();
                }
            }),
    );
    for (const action of ["start", "pause", "resume", "cancel"] as const) {
        campaign.addCommand(
            operating(new Command(action).description(`${action[0]!.toUpperCase()}${action.slice(1)} a campaign`))
                .argument("<id>", "the campaign's id")
                .action(async (id: string, options: Options) => {
                    print(options, await call(options, "POST", `/v1/campaigns/${id}/${action}`), campaignLine);
                }),
        );
    }
    campaign.addCommand(
        operating(new Command("stats").description("A campaign's numbers"))
            .argument("<id>", "the campaign's id")
            .option("--watch", "follow it until it ends: a progress bar with rate and ETA (a JSON line a second with --json)")
            .action(async (id: string, options: Options & { watch?: boolean }) => {
                if (!options.watch) return print(options, await call(options, "GET", `/v1/campaigns/${id}`), campaignLine);
                await withConnection(options, (admin) =>
                    watchCampaign(() => admin.call("GET", `/v1/campaigns/${id}`) as Promise<Stats>, options.json === true),
                );
            }),
    );
    campaign.addCommand(
        operating(new Command("list").description("Every campaign with its numbers")).action(async (options: Options) => {
            print(
                options,
                await call(options, "GET", "/v1/campaigns"),
                (list: Stats[]) => list.map(campaignLine).join("\n") || "no campaigns",
            );
        }),
    );

    const dlq = new Command("dlq").description("Dead letters of a bot's outbox");
    dlq.addCommand(
        operating(new Command("list").description("Messages given up, with why")).action(async (options: Options) => {
            const describe = (letters: { id: number; chat: string; error?: { errorClass: string; description: string } }[]) =>
                letters.map((l) => `${l.id}  chat ${l.chat}  ${l.error?.errorClass}: ${l.error?.description}`).join("\n") ||
                "no dead letters";
            print(options, await call(options, "GET", "/v1/dead-letters"), describe);
        }),
    );
    dlq.addCommand(
        operating(new Command("requeue").description("Send a dead letter again"))
            .argument("<id>", "the message's id")
            .action(async (id: string, options: Options) => {
                print(options, await call(options, "POST", `/v1/dead-letters/${id}/requeue`), () => `message ${id} requeued`);
            }),
    );
    dlq.addCommand(
        operating(new Command("purge").description("Delete every dead letter")).action(async (options: Options) => {
            print(options, await call(options, "DELETE", "/v1/dead-letters"), (a: { purged: number }) => `${a.purged} purged`);
        }),
    );

    const quarantine = new Command("quarantine").description("The journal's quarantine of a bot");
    quarantine.addCommand(
        operating(new Command("list").description("Quarantined updates")).action(async (options: Options) => {
            const describe = (list: { updateId: number; judgement?: string }[]) =>
                list.map((q) => `${q.updateId}  ${q.judgement ?? ""}`).join("\n") || "the quarantine is empty";
            print(options, await call(options, "GET", "/v1/quarantine"), describe);
        }),
    );
    for (const [name, method, verb] of [
        ["retry", "POST", "retried"],
        ["drop", "DELETE", "dropped"],
    ] as const) {
        quarantine.addCommand(
            operating(
                new Command(name).description(
                    name === "retry" ? "Hand a quarantined update to the bot again" : "Delete a quarantined update",
                ),
            )
                .argument("<updateId>", "the update's id")
                .action(async (updateId: string, options: Options) => {
                    const path = name === "retry" ? `/v1/quarantine/${updateId}/retry` : `/v1/quarantine/${updateId}`;
                    print(options, await call(options, method, path), () => `update ${updateId} ${verb}`);
                }),
        );
    }
    const tasks = new Command("tasks").description("Durable tasks of a bot");
    tasks.addCommand(
        operating(new Command("dead").description("Tasks given up, with their last error")).action(async (options: Options) => {
            const describe = (dead: { id: number; name: string; attempts: number; error?: string }[]) =>
                dead.map((t) => `${t.id}  ${t.name}  after ${t.attempts} attempts: ${t.error ?? ""}`).join("\n") || "no dead tasks";
            print(options, await call(options, "GET", "/v1/tasks/dead"), describe);
        }),
    );
    tasks.addCommand(
        operating(new Command("retry").description("Run a dead task again"))
            .argument("<id>", "the task's id")
            .action(async (id: string, options: Options) => {
                print(options, await call(options, "POST", `/v1/tasks/${id}/retry`), () => `task ${id} queued again`);
            }),
    );
    return [campaign, dlq, quarantine, tasks];
}
