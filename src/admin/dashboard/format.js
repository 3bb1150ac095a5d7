const whole = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const tenths = new Intl.NumberFormat("en", { maximumFractionDigits: 1, minimumFractionDigits: 1 });

/**
 * A count with thousands separators: `12,345`; a dash for what the bot cannot tell.
 *
 * @param {number | null | undefined} value
 */
export function count(value) {
    return value === null || value === undefined ? "–" : whole.format(value);
}

/**
 * A rate per second: one decimal below 10 (`2.5`), whole above (`1,250`).
 *
 * @param {number | null | undefined} value
 */
export function perSecond(value) {
    if (value === null || value === undefined) return "–";
    return value < 10 ? tenths.format(value) : whole.format(value);
}

/**
 * A duration in its two largest units: `2h 5m`, `3m 20s`, `45s`.
 *
 * @param {number | null | undefined} ms
 */
export function duration(ms) {
    if (ms === null || ms === undefined) return "–";
    const seconds = Math.round(ms / 1000);
    if (seconds < 60) return `${seconds}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours}h ${minutes % 60}m`;
    return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/**
 * How long ago an ISO time was: `5m 3s ago`.
 *
 * @param {string | null} iso
 * @param {number} now unix ms
 */
export function ago(iso, now) {
    return iso === null ? "–" : `${duration(Math.max(0, now - Date.parse(iso)))} ago`;
}

/**
 * A share as a percentage for a bar's width: `42.5%` (0% of nothing).
 *
 * @param {number} part
 * @param {number} whole
 */
export function percent(part, whole) {
    return whole > 0 ? `${Math.min(100, (part / whole) * 100).toFixed(2)}%` : "0%";
}

/**
 * A count and its noun: `1 attempt`, `3 attempts`.
 *
 * @param {number} value
 * @param {string} noun
 */
export function counted(value, noun) {
    return `${count(value)} ${noun}${value === 1 ? "" : "s"}`;
}
