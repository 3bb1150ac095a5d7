import { LONGEST_TIMER_MS } from "./timing.js";
import { outsideUpdateScope } from "./update-scope.js";

/** How long a turn that threw waits before the next try. */
const RETRY_AFTER_THROW_MS = 1_000;

/**
 * Runs a work loop's `turn` when there may be work: soon after a `nudge`
 * (once per event-loop turn, however many nudges came), and at the time the
 * last turn said the next work is due. The outbox's dispatcher and the task
 * runner both sleep and wake with it, so neither polls.
 */
export class Wakeup {
    private timer: NodeJS.Timeout | undefined;
    /** When the planned turn runs (`Infinity`: none planned). */
    private at = Infinity;
    private nudged = false;
    private running = false;

    /**
     * @param turn Does what is due at `now`; returns when to run again (`Infinity`: only when nudged)
     * @param clock The time `turn` is given and the timer is set from
     * @param onError Told when `turn` throws (a store that failed); the next try is a second later
     */
    constructor(
        private readonly turn: (now: number) => number,
        private readonly clock: () => number,
        private readonly onError: (error: unknown) => void,
    ) {}

    /** Starts: runs a turn now. */
    start(): void {
        this.running = true;
        this.run();
    }

    /** Stops: no turn runs until `start`. */
    stop(): void {
        this.running = false;
        clearTimeout(this.timer);
        this.timer = undefined;
        this.at = Infinity;
    }

    /** Runs a turn on the next turn of the event loop (a burst of changes costs one turn). */
    nudge(): void {
        if (this.nudged || !this.running) return;
        this.nudged = true;
        outsideUpdateScope(() =>
            setImmediate(() => {
                this.nudged = false;
                this.run();
            }),
        );
    }

    /** Something is due at `time`: a turn runs then, unless one is planned earlier. */
    dueAt(time: number): void {
        if (time < this.at) this.nudge();
    }

    private run(): void {
        if (!this.running) return;
        clearTimeout(this.timer);
        const now = this.clock();
        let next: number;
        try {
            next = this.turn(now);
        } catch (error) {
            // From a timer, a throw would end the process.
            this.onError(error);
            next = now + RETRY_AFTER_THROW_MS;
        }
        this.at = next;
        // Not unref'd: work that is due keeps the process alive until it is done or the loop stops.
        this.timer =
            next === Infinity
                ? undefined
                : outsideUpdateScope(() => setTimeout(() => this.run(), Math.min(Math.max(1, next - now), LONGEST_TIMER_MS)));
    }
}
