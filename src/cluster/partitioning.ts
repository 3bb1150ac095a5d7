/**
 * Where things go in the cluster: an update to the partition of its chat, a
 * partition to a node. Both are pure functions of their inputs, so every node
 * computes the same answer without asking the others.
 */

/** FNV-1a, 32 bits: fast, well spread over short keys such as chat ids, the same on every node. */
function hash32(text: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
        hash ^= text.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193);
    }
    // A final avalanche, so keys differing in their last digit land far apart.
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x85ebca6b);
    hash ^= hash >>> 13;
    return hash >>> 0;
}

/** The partition of a constraint key (a chat id, by default): `hash(key) mod partitions`. */
export function partitionOf(key: string, partitions: number): number {
    return hash32(key) % partitions;
}

/**
 * The node that should hold a lease (`resource`: a partition, a bot's poller):
 * rendezvous (highest random weight) hashing, so a node joining or leaving
 * moves about 1/N of the leases and no others.
 */
export function ownerOf(resource: string, nodes: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestWeight = -1;
    for (const node of nodes) {
        const weight = hash32(`${node}/${resource}`);
        if (weight > bestWeight || (weight === bestWeight && node < best!)) {
            best = node;
            bestWeight = weight;
        }
    }
    return best;
}
