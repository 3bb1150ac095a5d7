import { SingleBar } from "cli-progress";
import { Command } from "commander";
import { callAdmin, type RemoteOptions } from "./admin-client.js";
import { type CampaignCounts, campaignLine } from "./campaign-line.js";
import { recipientsStream } from "./recipients-file.js";

/** Adds `--url`, `--token` and `--json` to a command that talks to a running bot. */
function remote(command: Command): Command {
    return command
        .option("--url <url>", "the bot's admin API, e.g. http://127.0.0.1:8080")
        .option("--token <token>", "the admin token (default: SLUICE_ADMIN_TOKEN)")
        .option("--json", "print JSON instead of text");
}

/** Prints an answer: JSON for scripts, otherwise the summary `describe` makes of it. */
function print(options: { json?: boolean }, answer: unknown, describe: (answer: never) => string): void {
    process.stdout.write(options.json ? `${JSON.stringify(answer)}\n` : `${describe(answer as never)}\n`);
}

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

/** `sluice send`, `sluice campaign …`, `sluice dlq …`, `sluice quarantine …`: operate a running bot through its admin API. */
export function remoteCommands(): Command[] {
    const send = remote(new Command("send").description("Send a message through the bot's outbox"))
        .requiredOption("--chat <id>", "the chat to send to")
        .requiredOption("--text <text>", "the message text")
        .action(async (options: RemoteOptions & { chat: string; text: string; json?: boolean }) => {
            const chat_id = /^-?\d+$/.test(options.chat) ? Number(options.chat) : options.chat;
            const answer = await callAdmin(options, "POST", "/v1/messages", {
                method: "sendMessage",
                payload: { chat_id, text: options.text },
            });
            print(options, answer, (queued: { id: number }) => `queued as message ${queued.id}`);
        });

    const campaign = new Command("campaign").description("Campaigns of a running bot");
    campaign.addCommand(
        remote(new Command("create").description("Create a campaign (a draft: add recipients, then start it)"))
            .requiredOption("--name <name>", "a name for people")
            .option("--template <key>", "a template of the bot's templates")
            .option("--text <text>", "the same text for everyone (instead of --template)")
            .option("--vars <json>", "values every recipient's template gets, as JSON")
            .option("--parse-mode <mode>", "HTML, MarkdownV2 or Markdown")
            .option("--priority <priority>", "high, normal or low", "low")
            .option("--start-at <date>", "not before this time (ISO 8601)")
            .action(async (options: RemoteOptions & Record<string, string | undefined> & { json?: boolean }) => {
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
                    await callAdmin(options, "POST", "/v1/campaigns", body),
                    (created: { id: number }) => `created campaign ${created.id}`,
                );
            }),
    );
    campaign.addCommand(
        remote(new Command("add").description("Add recipients from a CSV (header: chat_id[,locale][,vars…]) or JSONL file"))
            .argument("<id>", "the campaign's id")
            .argument("<file>", "recipients.csv or recipients.jsonl")
            .action(async (id: string, file: string, options: RemoteOptions & { json?: boolean }) => {
                const upload = await recipientsStream(file, { progress: !options.json && process.stderr.isTTY === true });
                try {
                    const answer = await callAdmin(options, "POST", `/v1/campaigns/${id}/recipients`, { ndjson: upload.ndjson });
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
            remote(new Command(action).description(`${action[0]!.toUpperCase()}${action.slice(1)} a campaign`))
                .argument("<id>", "the campaign's id")
                .action(async (id: string, options: RemoteOptions & { json?: boolean }) => {
                    print(options, await callAdmin(options, "POST", `/v1/campaigns/${id}/${action}`), campaignLine);
                }),
        );
    }
    campaign.addCommand(
        remote(new Command("stats").description("A campaign's numbers"))
            .argument("<id>", "the campaign's id")
            .option("--watch", "follow it until it ends: a progress bar with rate and ETA (a JSON line a second with --json)")
            .action(async (id: string, options: RemoteOptions & { json?: boolean; watch?: boolean }) => {
                if (!options.watch) return print(options, await callAdmin(options, "GET", `/v1/campaigns/${id}`), campaignLine);
                await watchCampaign(() => callAdmin(options, "GET", `/v1/campaigns/${id}`) as Promise<Stats>, options.json === true);
            }),
    );
    campaign.addCommand(
        remote(new Command("list").description("Every campaign with its numbers")).action(
            async (options: RemoteOptions & { json?: boolean }) => {
                print(
                    options,
                    await callAdmin(options, "GET", "/v1/campaigns"),
                    (list: Stats[]) => list.map(campaignLine).join("\n") || "no campaigns",
                );
            },
        ),
    );

    const dlq = new Command("dlq").description("Dead letters of a running bot");
    dlq.addCommand(
        remote(new Command("list").description("Messages given up, with why")).action(
            async (options: RemoteOptions & { json?: boolean }) => {
                const describe = (letters: { id: number; chat: string; error?: { errorClass: string; description: string } }[]) =>
                    letters.map((l) => `${l.id}  chat ${l.chat}  ${l.error?.errorClass}: ${l.error?.description}`).join("\n") ||
                    "no dead letters";
                print(options, await callAdmin(options, "GET", "/v1/dead-letters"), describe);
            },
        ),
    );
    dlq.addCommand(
        remote(new Command("requeue").description("Send a dead letter again"))
            .argument("<id>", "the message's id")
            .action(async (id: string, options: RemoteOptions & { json?: boolean }) => {
                print(options, await callAdmin(options, "POST", `/v1/dead-letters/${id}/requeue`), () => `message ${id} requeued`);
            }),
    );
    dlq.addCommand(
        remote(new Command("purge").description("Delete every dead letter")).action(async (options: RemoteOptions & { json?: boolean }) => {
            print(options, await callAdmin(options, "DELETE", "/v1/dead-letters"), (a: { purged: number }) => `${a.purged} purged`);
        }),
    );

    const quarantine = new Command("quarantine").description("The journal's quarantine of a running bot");
    quarantine.addCommand(
        remote(new Command("list").description("Quarantined updates")).action(async (options: RemoteOptions & { json?: boolean }) => {
            const describe = (list: { updateId: number; judgement?: string }[]) =>
                list.map((q) => `${q.updateId}  ${q.judgement ?? ""}`).join("\n") || "the quarantine is empty";
            print(options, await callAdmin(options, "GET", "/v1/quarantine"), describe);
        }),
    );
    for (const [name, method, verb] of [
        ["retry", "POST", "retried"],
        ["drop", "DELETE", "dropped"],
    ] as const) {
        quarantine.addCommand(
            remote(
                new Command(name).description(
                    name === "retry" ? "Hand a quarantined update to the bot again" : "Delete a quarantined update",
                ),
            )
                .argument("<updateId>", "the update's id")
                .action(async (updateId: string, options: RemoteOptions & { json?: boolean }) => {
                    const path = name === "retry" ? `/v1/quarantine/${updateId}/retry` : `/v1/quarantine/${updateId}`;
                    print(options, await callAdmin(options, method, path), () => `update ${updateId} ${verb}`);
                }),
        );
    }
    return [send, campaign, dlq, quarantine];
}
