/**
 * A binary min-heap of values ordered by a numeric key: `push` and `pop` in
 * O(log n), `peekKey` in O(1). Used where the next thing due must be found
 * without scanning everything waiting.
 */
export class MinHeap<T> {
    private readonly keys: number[] = [];
    private readonly values: T[] = [];

    /** Number of entries. */
    get size(): number {
        return this.keys.length;
    }

    /** The smallest key, or `Infinity` when empty. */
    peekKey(): number {
        return this.keys[0] ?? Infinity;
    }

    /** Adds `value` under `key`. */
    push(key: number, value: T): void {
        let index = this.keys.length;
        this.keys.push(key);
        this.values.push(value);
        while (index > 0) {
            const parent = (index - 1) >> 1;
            if (this.keys[parent]! <= key) break;
            this.swap(index, parent);
            index = parent;
        }
    }

    /** Removes and returns the value with the smallest key. */
    pop(): T | undefined {
        if (this.keys.length === 0) return undefined;
        const top = this.values[0];
        const lastKey = this.keys.pop()!;
        const lastValue = this.values.pop()!;
        if (this.keys.length > 0) {
            this.keys[0] = lastKey;
            this.values[0] = lastValue;
            this.siftDown(0);
        }
        return top;
    }

    private siftDown(start: number): void {
        let index = start;
        for (;;) {
            const left = 2 * index + 1;
            const right = left + 1;
            let smallest = index;
            if (left < this.keys.length && this.keys[left]! < this.keys[smallest]!) smallest = left;
            if (right < this.keys.length && this.keys[right]! < this.keys[smallest]!) smallest = right;
            if (smallest === index) return;
            this.swap(index, smallest);
            index = smallest;
        }
    }

    private swap(a: number, b: number): void {
        [this.keys[a], this.keys[b]] = [this.keys[b]!, this.keys[a]!];
        [this.values[a], this.values[b]] = [this.values[b]!, this.values[a]!];
    }
}
