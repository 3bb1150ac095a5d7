/** Signals on which `run` stops the bot gracefully. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Calls `stop` on the first SIGINT or SIGTERM. A second signal while the
 * stop is still in progress means "now": the listeners are removed and the
 * signal is raised again, so the process ends with Node's default behaviour.
 * Returns a function that removes the listeners.
 */
export function stopOnSignals(stop: () => Promise<void>): () => void {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
        if (!stopping) {
            stopping = true;
            void stop().finally(remove);
            return;
        }
        remove();
        process.kill(process.pid, signal);
    };
    function remove() {
        for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    }
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    return remove;
}
