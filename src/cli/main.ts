#!/usr/bin/env node
/**
 * The `sluice` command: operate a sluice store or a local Bot API simulator
 * from a shell. Each command lives in its own file; this one only wires them
 * to the argument parser (commander) and turns errors into exit codes.
 */
import { Command } from "commander";
import { SluiceError } from "../shared/errors.js";
import { redactTokens } from "../shared/redact.js";
import { botCommands } from "./bot-commands.js";
import { sendCommand } from "./send-command.js";
import { serveCommand } from "./serve-command.js";
import { simulatorCommand } from "./simulator-command.js";
import { statusCommand } from "./status-command.js";

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const program = new Command("sluice")
    .description("Operate sluice: a store's journal, outbox, campaigns and tasks, or a local Bot API simulator.")
    .showHelpAfterError()
    .exitOverride();
for (const command of [statusCommand(), sendCommand(), ...botCommands(), serveCommand(), simulatorCommand()])
    program.addCommand(overridesExit(command));

/** Usage errors anywhere in the tree end in our exit codes, not commander's own `process.exit(1)`. */
function overridesExit(command: Command): Command {
    for (const sub of command.commands) overridesExit(sub);
    return command.exitOverride().showHelpAfterError();
}

try {
    await program.parseAsync();
} catch (error) {
    // commander's own exits (help, version, usage errors) carry their code; ours are SluiceErrors.
    const code = (error as { exitCode?: number }).exitCode;
    if (code !== undefined) process.exit(code === 0 ? EXIT.ok : EXIT.usage);
    // Telegram's and the network's errors can quote a request URL, which holds the token.
    process.stderr.write(`sluice: ${redactTokens(error instanceof SluiceError ? error.message : String(error))}\n`);
    process.exit(EXIT.failed);
}
