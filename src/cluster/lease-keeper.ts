import type { Logger } from "../shared/logger.js";
import type { ClusterScripts } from "./scripts.js";

/** What a holder of a lease does when it changes hands. */
export interface LeaseListener {
    /** The lease is this node's, under `token` (a new epoch each time). */
    acquired(token: string): void;
    /** The lease is to be handed over: finish its work (fenced by `token`) before it is released. */
    handOver(): Promise<void>;
    /** The lease lapsed (not renewed in time): stop its work at once; nothing it does is accepted any more. */
    lost(): void;
}

/** How leases are timed. */
export interface LeaseTiming {
    /** A lease's time to live in Redis; a holder renews it three times per period. @default 4000 */
    ttlMs: number;
}

/**
 * The share of a lease's time to live its holder keeps for itself: it counts
 * the lease as lost this much earlier than Redis lets it lapse, so work begun
 * just before (a blocking read of up to 200 ms, a script on its way) is over
 * before another node can take the lease.
 */
const SAFETY_SHARE = 0.2;

interface Held {
    token: string;
    /** On this process' monotonic clock: past this, the lease may have lapsed in Redis, so it counts as lost. */
    validUntil: number;
    handingOver: boolean;
}

/**
 * The fenced leases this node holds (partitions, pollers): takes those it is
 * placed to hold when they are free, renews them well inside their time to
 * live, hands over those placed elsewhere after their work finished, and
 * gives up any whose renewal lapsed on its own monotonic clock, so a paused
 * or partitioned node stands down by itself before another may take over
 * (the Redis TTL starts when Redis runs the command, after the holder's clock
 * started counting, so the holder's deadline comes first).
 */
export class LeaseKeeper {
    private readonly held = new Map<string, Held>();
    /** Leases that lapsed or were taken by another tenure while held here (a graceful hand-over is not a loss). */
    lostCount = 0;
    private readonly listeners = new Map<string, Set<LeaseListener>>();
    /** Hand-overs under way, releases included: a leave waits for them before the connection closes. */
    private readonly handOvers = new Set<Promise<void>>();
    private wanted = new Set<string>();
    private timer: NodeJS.Timeout | undefined;
    private ticking: Promise<void> | undefined;
    private closed = false;

    constructor(
        private readonly scripts: ClusterScripts,
        private readonly node: string,
        private readonly timing: LeaseTiming,
        private readonly leaseKey: (resource: string) => string,
        private readonly epochKey: (lease: string) => string,
        private readonly log: Logger,
        /** Called when this node gave a lease up, so the next holder takes it at once. */
        private readonly released: () => void,
    ) {
        this.timer = setInterval(() => {
            // Apart from the round: while Redis is unreachable a round waits for its commands, and the deadlines must not.
            this.expire();
            void this.tick();
        }, timing.ttlMs / 6);
        this.timer.unref();
    }

    /** The token of `resource`'s lease while this node holds it and may still act on it. */
    tokenOf(resource: string): string | undefined {
        const held = this.held.get(resource);
        return held !== undefined && performance.now() < held.validUntil ? held.token : undefined;
    }

    /** The resources whose leases this node holds. */
    holding(): string[] {
        return [...this.held.keys()];
    }

    /** Adds a listener to a resource's lease (and tells it at once if the lease is held). */
    listen(resource: string, listener: LeaseListener): () => void {
        let set = this.listeners.get(resource);
        if (set === undefined) this.listeners.set(resource, (set = new Set()));
        set.add(listener);
        const token = this.tokenOf(resource);
        if (token !== undefined) listener.acquired(token);
        return () => set.delete(listener);
    }

    /** Sets the resources this node is placed to hold; takes, keeps and hands over accordingly. */
    place(wanted: Iterable<string>): void {
        this.wanted = new Set(wanted);
        void this.tick();
    }

    /** One round: renew what is held, hand over what is placed elsewhere, try to take what is placed here. */
    tick(): Promise<void> {
        this.ticking ??= this.round().finally(() => (this.ticking = undefined));
        return this.ticking;
    }

    private async round(): Promise<void> {
        if (this.closed) return;
        this.expire();
        for (const [resource, held] of this.held) {
            // A hand-over waits for work to finish; renewals of every lease go on meanwhile.
            if (!this.wanted.has(resource) && !held.handingOver) {
                const handingOver = this.handOver(resource, held).finally(() => this.handOvers.delete(handingOver));
                this.handOvers.add(handingOver);
            }
        }
        await Promise.all([
            ...[...this.held].map(([resource, held]) => this.renew(resource, held)),
            ...[...this.wanted].filter((resource) => !this.held.has(resource)).map((resource) => this.take(resource)),
        ]);
    }

    /** Leases whose deadline passed on this node's clock are lost, whatever Redis would say. */
    private expire(): void {
        const now = performance.now();
        for (const [resource, held] of this.held) if (now >= held.validUntil) this.lose(resource, "its renewal lapsed");
    }

    private async take(resource: string): Promise<void> {
        const sentAt = performance.now();
        const lease = this.leaseKey(resource);
        try {
            const token = await this.scripts.leaseAcquire(lease, this.epochKey(lease), this.node, this.timing.ttlMs);
            if (token === null || this.closed || this.held.has(resource)) return;
            this.held.set(resource, { token, validUntil: sentAt + this.timing.ttlMs * (1 - SAFETY_SHARE), handingOver: false });
            this.log.debug({ resource, token }, "lease taken");
            for (const listener of this.listeners.get(resource) ?? []) listener.acquired(token);
        } catch (error) {
            this.log.warn({ err: error, resource }, "could not take a lease; trying again");
        }
    }

    private async renew(resource: string, held: Held): Promise<void> {
        const sentAt = performance.now();
        try {
            const renewed = await this.scripts.leaseRenew(this.leaseKey(resource), held.token, this.timing.ttlMs);
            if (this.held.get(resource) !== held) return;
            if (renewed === 1) held.validUntil = sentAt + this.timing.ttlMs * (1 - SAFETY_SHARE);
            else this.lose(resource, "another tenure holds it");
        } catch (error) {
            // Redis unreachable: keep trying; the deadline on this node's clock decides when the lease is gone.
            this.log.warn({ err: error, resource }, "could not renew a lease; the work it fences stops if this lasts");
        }
    }

    private async handOver(resource: string, held: Held): Promise<void> {
        held.handingOver = true;
        await Promise.all([...(this.listeners.get(resource) ?? [])].map((listener) => listener.handOver().catch(() => {})));
        if (this.held.get(resource) !== held) return;
        this.held.delete(resource);
        try {
            await this.scripts.leaseRelease(this.leaseKey(resource), held.token);
            this.released();
        } catch (error) {
            this.log.warn({ err: error, resource }, "could not release a lease; it lapses by itself");
        }
    }

    private lose(resource: string, why: string): void {
        this.held.delete(resource);
        this.lostCount++;
        this.log.warn({ resource }, `lease lost: ${why}; its work stops here and another node takes it over`);
        for (const listener of this.listeners.get(resource) ?? []) listener.lost();
    }

    /** Stops at once, handing nothing over (Redis does not answer): the leases lapse by themselves. */
    abandon(): void {
        this.closed = true;
        clearInterval(this.timer);
        for (const resource of [...this.held.keys()]) this.lose(resource, "Redis did not answer");
    }

    /** Hands every lease over (a graceful leave), then stops. */
    async close(): Promise<void> {
        this.wanted.clear();
        await this.tick();
        while (this.held.size > 0 && !this.closed) await new Promise((resolve) => setTimeout(resolve, 10));
        await Promise.all(this.handOvers);
        this.closed = true;
        clearInterval(this.timer);
    }
}
