/** What a value is, for messages about a value of the wrong kind: `null`, `a list`, `a number (42)`. */
export function describeValue(value: unknown): string {
    if (value === null || value === undefined) return String(value);
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    if (typeof value === "string") return `a string (${JSON.stringify(value)})`;
    if (typeof value === "function" || typeof value === "symbol") return `a ${typeof value}`;
    return `a ${typeof value} (${String(value)})`;
}
