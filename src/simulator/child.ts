/**
 * Entry point of a simulator in its own process. Forked by `forkSimulator`,
 * it serves requests from the parent over IPC (see `protocol.ts`), so a
 * benchmark measures the bot's process without the simulator's work in it.
 *
 * Run directly (`tsx src/simulator/child.ts`), it starts a simulator with one
 * bot and prints `apiRoot` and token, for trying a bot by hand; Ctrl+C stops it.
 */
import { SluiceError } from "../shared/errors.js";
import { REMOTE_OPERATIONS, type RemoteRequest, type RemoteResponse } from "./protocol.js";
import { createSimulator, type Simulator } from "./simulator.js";

const operations: ReadonlySet<string> = new Set(REMOTE_OPERATIONS);

if (process.send === undefined) await runStandalone();
else serveParent();

function serveParent(): void {
    let sim: Simulator | undefined;
    const answer = (response: RemoteResponse) => {
        if (process.connected) process.send?.(response);
    };
    process.on("message", (request: RemoteRequest) => {
        void handle(request).then(
            (value) => answer({ id: request.id, ok: true, value }),
            (error: unknown) =>
                answer({
                    id: request.id,
                    ok: false,
                    error: {
                        message: error instanceof Error ? error.message : String(error),
                        ...(error instanceof SluiceError ? { code: error.code } : {}),
                    },
                }),
        );
    });
    // The parent went away (exited or closed the channel): nothing is left to serve.
    process.on("disconnect", () => void sim?.close());

    async function handle(request: RemoteRequest): Promise<unknown> {
        if (request.type === "start") {
            if (sim !== undefined) throw new Error("simulator already started");
            sim = await createSimulator(request.options);
            return { apiRoot: sim.apiRoot };
        }
        if (sim === undefined) throw new Error("simulator not started");
        if (request.type === "close") {
            await sim.close();
            // Let the answer go out, then release the channel so the process can end.
            setImmediate(() => process.disconnect());
            return undefined;
        }
        if (!operations.has(request.type)) throw new Error(`unknown operation ${String(request.type)}`);
        const method = sim[request.type] as (...args: unknown[]) => unknown;
        return summarize(request.type, await method.apply(sim, request.args));
    }
}

// Bulk pushes answer with a summary: sending 100k updates back over IPC
// would cost more than pushing them did.
function summarize(type: string, value: unknown): unknown {
    if ((type === "pushMessages" || type === "pushUpdates") && Array.isArray(value)) {
        const updates = value as { update_id: number }[];
        return { count: updates.length, firstUpdateId: updates[0]?.update_id, lastUpdateId: updates.at(-1)?.update_id };
    }
    return value;
}

async function runStandalone(): Promise<void> {
    const port = Number(process.env.SIMULATOR_PORT ?? 0);
    const sim = await createSimulator({ port });
    const bot = sim.createBot();
    process.stdout.write(`Bot API simulator on ${sim.apiRoot}\ntoken: ${bot.token}\n`);
    const stop = () => void sim.close();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
}
