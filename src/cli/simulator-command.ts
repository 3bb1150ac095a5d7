import { Command } from "commander";
import { createSimulator } from "../simulator/index.js";

/**
 * `sluice simulator`: the Bot API simulator as a server for manual tests.
 * Prints the apiRoot and a bot token (on stdout, as one JSON line with
 * `--json`), then serves until SIGINT or SIGTERM.
 */
export function simulatorCommand(): Command {
    return new Command("simulator")
        .description("Run the Bot API simulator as a server; prints its apiRoot and a bot token for it")
        .option("--port <port>", "TCP port (0: a free one)", "8081")
        .option("--host <host>", "interface to listen on", "127.0.0.1")
        .option("--json", "print one JSON line instead of text")
        .action(async (options: { port: string; host: string; json?: boolean }) => {
            const sim = await createSimulator({ port: Number(options.port), host: options.host });
            const { token } = sim.createBot();
            const out = options.json
                ? `${JSON.stringify({ apiRoot: sim.apiRoot, token })}\n`
                : `Bot API simulator on ${sim.apiRoot}\n  token:   ${token}\n  grammY:  new Bot(token, { client: { apiRoot: "${sim.apiRoot}" } })\n`;
            process.stdout.write(out);
            await new Promise<void>((resolve) => {
                for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
            });
            await sim.close();
        });
}
