/**
 * Callers waiting for something with an id to end (a message sent, a task
 * done, a campaign finished): each gets a promise, settled when it does, or
 * rejected all at once when the component closes.
 */
export class Waiters<T> {
    private readonly byId = new Map<number, { resolve: (value: T) => void; reject: (error: Error) => void }[]>();

    /** A promise settled by the next `resolve` or `reject` of `id` (or `rejectAll`). */
    wait(id: number): Promise<T> {
        return new Promise((resolve, reject) => {
            const list = this.byId.get(id) ?? [];
            list.push({ resolve, reject });
            this.byId.set(id, list);
        });
    }

    /** Resolves everyone waiting for `id`. */
    resolve(id: number, value: T): void {
        for (const waiter of this.take(id)) waiter.resolve(value);
    }

    /** Rejects everyone waiting for `id`. */
    reject(id: number, error: Error): void {
        for (const waiter of this.take(id)) waiter.reject(error);
    }

    /** Rejects everyone waiting, whatever they wait for. */
    rejectAll(error: Error): void {
        for (const list of this.byId.values()) for (const waiter of list) waiter.reject(error);
        this.byId.clear();
    }

    private take(id: number) {
        const list = this.byId.get(id) ?? [];
        this.byId.delete(id);
        return list;
    }
}
