/**
 * A constraint names what an update must not run concurrently with: updates
 * that share a key are handled one after another, in the order they arrived.
 * This is the shape `sequentialize` has always taken, reused by the sink.
 */
export type Constraint<T> = (value: T) => string | string[] | undefined;

/**
 * Normalizes what a constraint returned into a list of distinct, non-empty
 * keys. Duplicates matter: an update listed twice in one lane would wait for
 * itself.
 */
export function keysFrom(result: string | string[] | undefined): string[] {
    if (result === undefined || result === "") return [];
    if (typeof result === "string") return [result];
    // The common shapes, already distinct and non-empty, are used as they are.
    if (result.length === 1 && result[0]) return result;
    if (result.length === 2 && result[0] && result[1] && result[0] !== result[1]) return result;
    const keys: string[] = [];
    for (const key of result) if (key && !keys.includes(key)) keys.push(key);
    return keys;
}
