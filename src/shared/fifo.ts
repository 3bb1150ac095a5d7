/**
 * First-in-first-out queue on an array with a moving head index, so that
 * `shift` is O(1) instead of `Array.prototype.shift`'s O(n). The array is
 * compacted once the consumed prefix dominates it, which keeps memory
 * proportional to what is still queued.
 */
export class Fifo<T> {
    private items: (T | undefined)[] = [];
    private head = 0;

    /** Number of queued items. */
    get length(): number {
        return this.items.length - this.head;
    }

    /** Appends an item at the tail. */
    push(item: T): void {
        this.items.push(item);
    }

    /** The item at the head, without removing it. */
    peek(): T | undefined {
        return this.items[this.head];
    }

    /** Removes and returns the item at the head. */
    shift(): T | undefined {
        if (this.head >= this.items.length) return undefined;
        const item = this.items[this.head];
        this.items[this.head++] = undefined;
        if (this.head === this.items.length) {
            this.items = [];
            this.head = 0;
        } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
            this.items = this.items.slice(this.head);
            this.head = 0;
        }
        return item;
    }

    /** Removes one queued item wherever it is (O(n); for rare cancellations). */
    remove(item: T): boolean {
        const index = this.items.indexOf(item, this.head);
        if (index === -1) return false;
        if (index === this.head) {
            this.shift();
            return true;
        }
        this.items.splice(index, 1);
        return true;
    }

    /** The queued items, head first. */
    toArray(): T[] {
        return this.items.slice(this.head) as T[];
    }
}
