import { InvalidOptionError } from "./errors.js";

/**
 * The one way sluice checks a numeric option: each helper returns the value
 * (or its default when it was left out) and otherwise throws
 * `InvalidOptionError` naming the option, what it needs and what it got:
 * "Invalid option `outbox.maxInFlight`: expected a whole number >= 1, got 0".
 */

/** What a numeric option must be. */
interface NumberRule {
    /** A whole number. */
    whole: boolean;
    /** The smallest value allowed (`above`: values must exceed it). */
    min: number;
    above?: boolean;
    /** `Infinity` is allowed (no limit). */
    unbounded?: boolean;
}

function numberOption(option: string, value: number | undefined, fallback: number, rule: NumberRule): number {
    const checked = value ?? fallback;
    const inRange = rule.above ? checked > rule.min : checked >= rule.min;
    const finiteOrAllowed = Number.isFinite(checked) || (rule.unbounded === true && checked === Infinity);
    const wholeOrAllowed = !rule.whole || Number.isInteger(checked) || checked === Infinity;
    if (typeof checked !== "number" || !inRange || !finiteOrAllowed || !wholeOrAllowed) {
        const expected = `${rule.whole ? "a whole number" : "a number"} ${rule.above ? ">" : ">="} ${rule.min}${rule.unbounded ? " (or Infinity)" : ""}`;
        throw new InvalidOptionError(
            option,
            `expected ${expected}, got ${typeof checked === "number" ? checked : JSON.stringify(checked)}`,
        );
    }
    return checked;
}

/** A whole number of at least `min` (counts, attempts, concurrency); `unbounded` also allows `Infinity`. */
export function wholeNumber(
    option: string,
    value: number | undefined,
    fallback: number,
    { min = 1, unbounded = false }: { min?: number; unbounded?: boolean } = {},
): number {
    return numberOption(option, value, fallback, { whole: true, min, unbounded });
}

/** A finite number above 0 (rates). */
export function positiveNumber(option: string, value: number | undefined, fallback: number): number {
    return numberOption(option, value, fallback, { whole: false, min: 0, above: true });
}

/** A number from 0 to 1. */
export function fraction(option: string, value: number | undefined, fallback: number): number {
    const checked = numberOption(option, value, fallback, { whole: false, min: 0 });
    if (checked > 1) throw new InvalidOptionError(option, `expected a number from 0 to 1, got ${checked}`);
    return checked;
}

/** Milliseconds: 0 or more, or (`positive`) more than 0; `unbounded` also allows `Infinity` (never). */
export function milliseconds(
    option: string,
    value: number | undefined,
    fallback: number,
    { unbounded = false, positive = false }: { unbounded?: boolean; positive?: boolean } = {},
): number {
    return numberOption(option, value, fallback, { whole: false, min: 0, above: positive, unbounded });
}
