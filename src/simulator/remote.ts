import { type ChildProcess, fork } from "node:child_process";
import type { Update } from "grammy/types";
import { SluiceError } from "../shared/errors.js";
import { siblingModule } from "../shared/sibling-module.js";
import type { ApiCall, BotStats, CreateBotOptions, SentCall, SimulatedBot } from "./bot.js";
import type { ChatState } from "./chats.js";
import type { DelayNextOptions, FailNextOptions, Faults } from "./faults.js";
import type { FloodLimits } from "./flood-limits.js";
import type { RemoteOperation, RemoteRequest, RemoteResponse, RemoteSimulatorOptions } from "./protocol.js";
import type { UpdateInput } from "./update-queue.js";
import type { CallbackQuerySpec, MessageSpec } from "./users.js";
import type { WaitOptions } from "./waiters.js";

/** What a bulk push in another process reports back (instead of every update). */
export interface PushSummary {
    /** Updates pushed. */
    count: number;
    /** `update_id` of the first and last of them (absent when none were pushed). */
    firstUpdateId?: number;
    lastUpdateId?: number;
}

// How long `close()` waits for the child to exit before killing it.
const EXIT_GRACE_MS = 3000;

/**
 * A simulator running in a child process, driven over IPC: the same methods
 * as {@link Simulator}, asynchronous, except that bulk pushes answer with a
 * {@link PushSummary} and `waitFor` (which takes a function) is not
 * available. Benchmarks use it so the simulator's work does not count
 * against the bot being measured.
 *
 * It does not keep the parent process alive while idle; still, always
 * `await remote.close()`.
 */
export class RemoteSimulator {
    private nextId = 1;
    private readonly inFlight = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
    private readonly exited: Promise<void>;
    private closing: Promise<void> | undefined;
    /** Base URL for grammY's `client.apiRoot`. */
    apiRoot = "";

    /** @internal Use {@link forkSimulator}. */
    constructor(private readonly child: ChildProcess) {
        this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
        child.on("message", (response: RemoteResponse) => this.settle(response));
        child.once("exit", (code, signal) => {
            const error = new SluiceError("SIMULATOR_EXITED", `The simulator process exited (code ${code}, signal ${signal}).`);
            for (const waiting of this.inFlight.values()) waiting.reject(error);
            this.inFlight.clear();
        });
        this.idle();
    }

    /** Process id of the simulator. */
    get pid(): number | undefined {
        return this.child.pid;
    }

    /** @internal */
    async start(options: RemoteSimulatorOptions): Promise<void> {
        const { apiRoot } = (await this.request({ id: 0, type: "start", options })) as { apiRoot: string };
        this.apiRoot = apiRoot;
    }

    /** See {@link Simulator.createBot}. */
    createBot(options?: CreateBotOptions): Promise<SimulatedBot> {
        return this.call("createBot", options);
    }
    /** See {@link Simulator.pushUpdate}. */
    pushUpdate(token: string, update: UpdateInput): Promise<Update> {
        return this.call("pushUpdate", token, update);
    }
    /** See {@link Simulator.pushUpdates}; answers with a summary. */
    pushUpdates(token: string, updates: readonly UpdateInput[]): Promise<PushSummary> {
        return this.call("pushUpdates", token, updates);
    }
    /** See {@link Simulator.pushMessage}. */
    pushMessage(token: string, message: MessageSpec): Promise<Update> {
        return this.call("pushMessage", token, message);
    }
    /** See {@link Simulator.pushMessages}; answers with a summary. */
    pushMessages(token: string, messages: readonly MessageSpec[]): Promise<PushSummary> {
        return this.call("pushMessages", token, messages);
    }
    /** See {@link Simulator.pushCallbackQuery}. */
    pushCallbackQuery(token: string, query: CallbackQuerySpec): Promise<Update> {
        return this.call("pushCallbackQuery", token, query);
    }
    /** See {@link Simulator.calls}. */
    calls(token: string, method?: string): Promise<ApiCall[]> {
        return this.call("calls", token, method);
    }
    /** See {@link Simulator.sent}. */
    sent(token: string): Promise<SentCall[]> {
        return this.call("sent", token);
    }
    /** See {@link Simulator.clearCalls}. */
    clearCalls(token: string): Promise<void> {
        return this.call("clearCalls", token);
    }
    /** See {@link Simulator.pending}. */
    pending(token: string): Promise<number> {
        return this.call("pending", token);
    }
    /** See {@link Simulator.confirmedOffset}. */
    confirmedOffset(token: string): Promise<number> {
        return this.call("confirmedOffset", token);
    }
    /** See {@link Simulator.stats}. */
    stats(token: string): Promise<BotStats> {
        return this.call("stats", token);
    }
    /** See {@link Simulator.setWebhook}. */
    setWebhook(token: string, url: string): Promise<void> {
        return this.call("setWebhook", token, url);
    }
    /** See {@link Simulator.deleteWebhook}. */
    deleteWebhook(token: string, options?: { dropPendingUpdates?: boolean }): Promise<void> {
        return this.call("deleteWebhook", token, options);
    }
    /** See {@link Simulator.blockChat}. */
    blockChat(token: string, chatId: number | string): Promise<void> {
        return this.call("blockChat", token, chatId);
    }
    /** See {@link Simulator.setChatState}. */
    setChatState(token: string, chatId: number | string, state: ChatState): Promise<void> {
        return this.call("setChatState", token, chatId, state);
    }
    /** See {@link Simulator.setLimits}. */
    setLimits(limits: FloodLimits): Promise<void> {
        return this.call("setLimits", limits);
    }
    /** See {@link Simulator.setFaults}. */
    setFaults(faults: Faults): Promise<void> {
        return this.call("setFaults", faults);
    }
    /** See {@link Simulator.failNext}. */
    failNext(method: string, options?: FailNextOptions): Promise<void> {
        return this.call("failNext", method, options);
    }
    /** See {@link Simulator.delayNext}. */
    delayNext(method: string, options: DelayNextOptions): Promise<void> {
        return this.call("delayNext", method, options);
    }
    /** See {@link Simulator.revokeToken}. */
    revokeToken(token: string): Promise<void> {
        return this.call("revokeToken", token);
    }
    /** See {@link Simulator.waitForCalls}. */
    waitForCalls(token: string, count: number, options?: WaitOptions & { method?: string }): Promise<ApiCall[]> {
        return this.call("waitForCalls", token, count, options);
    }
    /** See {@link Simulator.waitForDrain}. */
    waitForDrain(token: string, options?: WaitOptions): Promise<void> {
        return this.call("waitForDrain", token, options);
    }

    /** Closes the simulator and waits for its process to exit (killing it if it does not within 3 s). */
    close(): Promise<void> {
        this.closing ??= this.shutDown();
        return this.closing;
    }

    private async shutDown(): Promise<void> {
        if (this.child.exitCode !== null || this.child.signalCode !== null) return;
        if (this.child.connected) await this.request({ id: 0, type: "close" }).catch(() => undefined);
        // Keep the parent alive until the child is really gone.
        this.child.ref();
        const timer = setTimeout(() => this.child.kill("SIGKILL"), EXIT_GRACE_MS);
        await this.exited;
        clearTimeout(timer);
    }

    private call<T>(type: RemoteOperation, ...args: unknown[]): Promise<T> {
        // `undefined` arguments are dropped from the end so defaults apply in the child.
        while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
        return this.request({ id: 0, type, args }) as Promise<T>;
    }

    private request(request: RemoteRequest): Promise<unknown> {
        if (this.closing !== undefined && request.type !== "close") {
            return Promise.reject(new SluiceError("SIMULATOR_CLOSED", "The simulator was closed."));
        }
        if (!this.child.connected) {
            return Promise.reject(new SluiceError("SIMULATOR_EXITED", "The simulator process is gone."));
        }
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            this.inFlight.set(id, { resolve, reject });
            this.busy();
            this.child.send({ ...request, id }, (error) => {
                if (error === null || error === undefined) return;
                this.inFlight.delete(id);
                this.idle();
                reject(error);
            });
        });
    }

    private settle(response: RemoteResponse): void {
        const waiting = this.inFlight.get(response.id);
        if (waiting === undefined) return;
        this.inFlight.delete(response.id);
        this.idle();
        if (response.ok) waiting.resolve(response.value);
        else waiting.reject(new SluiceError(response.error.code ?? "SIMULATOR_REMOTE", response.error.message));
    }

    // The child and its channel hold the parent's event loop only while a
    // request is waiting for its answer; an idle remote simulator, like an
    // idle socket, lets the parent exit.
    private busy(): void {
        this.child.ref();
        this.child.channel?.ref();
    }

    private idle(): void {
        if (this.inFlight.size > 0) return;
        this.child.unref();
        this.child.channel?.unref();
    }
}

/**
 * Starts a simulator in a child process and resolves once it listens.
 * Works from the sources (run through tsx) and from the compiled package.
 *
 * @example
 * ```ts
 * const remote = await forkSimulator({ recordCalls: false });
 * const { token } = await remote.createBot();
 * await remote.pushMessages(token, syntheticTraffic({ messages: 100_000, chats: 1000 }));
 * // … run the bot against remote.apiRoot …
 * await remote.close();
 * ```
 */
export async function forkSimulator(options: RemoteSimulatorOptions = {}): Promise<RemoteSimulator> {
    const entry = siblingModule(import.meta.url, "child");
    const child = fork(entry.path, [], {
        execArgv: entry.execArgv,
        serialization: "advanced",
        stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const remote = new RemoteSimulator(child);
    try {
        await remote.start(options);
    } catch (error) {
        child.kill("SIGKILL");
        throw error;
    }
    return remote;
}
