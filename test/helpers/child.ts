import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after } from "node:test";

/** A TypeScript script running in a child process, read line by line. */
export interface Child {
    process: ChildProcess;
    /** Settles with the exit code and signal once the process has ended and its output was read. */
    exit: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Spawns `node --import tsx <script> [args]` with extra environment and calls `onLine` for each line it prints. */
export function spawnScript(script: string, env: Record<string, string>, onLine: (line: string) => void, args: string[] = []): Child {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "inherit"],
    });
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) if (line !== "") onLine(line);
    });
    const exit = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
    // A test that fails before stopping its child must not leave it running (the test file would never end).
    after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    return { process: child, exit };
}
