import { randomBytes, randomInt } from "node:crypto";

/** A source of numbers in `[0, 1)`, like `Math.random`, but reproducible when seeded. */
export type Random = () => number;

/**
 * mulberry32: a tiny 32-bit PRNG. Statistically weak, but faults and dice
 * only need "spread out and reproducible": a test that saw a 502 on the third
 * call sees it there again with the same seed.
 */
export function seededRandom(seed: number = randomInt(0, 2 ** 32)): Random {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** A whole number in `[min, max]` drawn from `random`. */
export function randomIntBetween(random: Random, min: number, max: number): number {
    return min + Math.floor(random() * (max - min + 1));
}

/**
 * The secret half of a bot token: 35 URL-safe characters, like BotFather's.
 * Drawn from `crypto` rather than the seeded generator, so two simulators in
 * one test run never hand out the same token.
 */
export function tokenSecret(): string {
    return randomBytes(27).toString("base64url").slice(0, 35);
}

/** A bot id in the range real bots have today (ten digits). */
export function botIdCandidate(): number {
    return randomInt(5_000_000_000, 8_000_000_000);
}
