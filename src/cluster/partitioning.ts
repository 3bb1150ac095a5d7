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
 * The node that should hold a bot's poller lease (`resource`): rendezvous
 * (highest random weight) hashing, so a node joining or leaving moves only
 * its own share of the pollers. Partitions are placed by `placePartitions`.
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

/**
 * How many partitions a node may hold, in tenths of an even share: 11, 10%
 * above it, so the busiest node of a cluster (which sets its pace) has at
 * most about 1.1/N of the work, while a join still moves not much more than
 * 1/N of the partitions.
 */
const PARTITION_SLACK_TENTHS = 11;

/**
 * The node for each partition (index = partition), balanced: each partition
 * goes to the node ranked highest for it by rendezvous weight that has room,
 * at most `ceil(partitions / nodes × 1.1)` per node.
 *
 * Plain rendezvous gives each node a random share (the busiest of three often
 * holds 40% or more of 64). This is the partition-proposing stable matching
 * over the same weights (deferred acceptance): a partition asks its
 * best-ranked nodes in turn; a full node keeps the partitions it weighs
 * highest and turns away the lowest. The result does not depend on the order
 * of asking, so every node computes the same placement from the same live list,
 * and a join or leave still moves about 1/N of the partitions.
 */
export function placePartitions(partitions: number, nodes: readonly string[]): string[] {
    if (nodes.length === 0) return [];
    const sorted = [...nodes].sort();
    // In whole numbers: 1.1 as a float would make ceil(100 × 1.1) 111.
    const capacity = Math.ceil((partitions * PARTITION_SLACK_TENTHS) / (sorted.length * 10));
    const weight = (node: number, partition: number) => hash32(`${sorted[node]}/p:${partition}`);
    // Each partition's nodes, best first (ties go to the node sorted first).
    const rankings = Array.from({ length: partitions }, (_, partition) =>
        sorted
            .map((_, node) => ({ node, weight: weight(node, partition) }))
            .sort((a, b) => b.weight - a.weight || a.node - b.node)
            .map(({ node }) => node),
    );
    const asked = new Array<number>(partitions).fill(0);
    const held = sorted.map(() => [] as { partition: number; weight: number }[]);
    const waiting = Array.from({ length: partitions }, (_, partition) => partition);
    for (let partition = waiting.pop(); partition !== undefined; partition = waiting.pop()) {
        const node = rankings[partition]![asked[partition]!++]!;
        const kept = held[node]!;
        kept.push({ partition, weight: weight(node, partition) });
        if (kept.length <= capacity) continue;
        // Full: turn away the partition this node weighs lowest (ties: the higher index).
        let lowest = 0;
        for (let i = 1; i < kept.length; i++) {
            const a = kept[i]!;
            const b = kept[lowest]!;
            if (a.weight < b.weight || (a.weight === b.weight && a.partition > b.partition)) lowest = i;
        }
        waiting.push(kept[lowest]!.partition);
        kept.splice(lowest, 1);
    }
    const owners = new Array<string>(partitions);
    held.forEach((kept, node) => {
        for (const { partition } of kept) owners[partition] = sorted[node]!;
    });
    return owners;
}
