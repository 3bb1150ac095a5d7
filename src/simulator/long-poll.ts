import type { ServerResponse } from "node:http";

/** A `getUpdates` request held open until updates arrive or its timeout passes. */
export interface HeldPoll {
    readonly res: ServerResponse;
    /** The `limit` it asked for. */
    readonly limit: number;
}

interface Slot extends HeldPoll {
    timer: NodeJS.Timeout;
    onClose: () => void;
}

/**
 * The one long poll a bot may have open. Telegram allows a single
 * `getUpdates` per token at a time: a newer request ends the older one with
 * 409. A client that hangs up is forgotten at once, so its successor is not
 * refused because of a request nobody waits for any more.
 */
export class PollSlot {
    private slot: Slot | undefined;

    /** The held request, if any. */
    get held(): HeldPoll | undefined {
        return this.slot;
    }

    /**
     * Holds `res` for up to `timeoutMs`; when the time is up, `onTimeout` is
     * called with it (to answer `[]`). Any request already held must have
     * been taken out with `take()` first.
     */
    hold(res: ServerResponse, limit: number, timeoutMs: number, onTimeout: (poll: HeldPoll) => void): void {
        const timer = setTimeout(() => {
            const poll = this.take();
            if (poll !== undefined) onTimeout(poll);
        }, timeoutMs);
        const onClose = () => {
            if (this.slot?.res === res) this.take();
        };
        this.slot = { res, limit, timer, onClose };
        // `close` on the response fires when the connection goes away before an answer was written.
        res.once("close", onClose);
    }

    /** Removes the held request (to answer it) and stops its timer. */
    take(): HeldPoll | undefined {
        const slot = this.slot;
        if (slot === undefined) return undefined;
        this.slot = undefined;
        clearTimeout(slot.timer);
        slot.res.off("close", slot.onClose);
        return slot;
    }
}
