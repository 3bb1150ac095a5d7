import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { partitionOf, placePartitions } from "../src/cluster/partitioning.js";

/** `count` node ids as a deployment makes them: a host, a pid, a random tail. */
function nodeIds(count: number, seed: number): string[] {
    return Array.from({ length: count }, (_, i) => `host-${(seed * 7919 + i * 104_729) % 100_000}-${seed}-${i.toString(16)}`);
}

function shares(owners: readonly string[]): Map<string, number> {
    const counts = new Map<string, number>();
    for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    return counts;
}

describe("partition placement", () => {
    it("places every partition, none of the nodes over 10% above an even share", () => {
        for (const [partitions, nodes] of [
            [64, 3],
            [256, 3],
            [64, 7],
            [4, 9],
            [1, 1],
        ] as const) {
            for (let seed = 0; seed < 50; seed++) {
                const ids = nodeIds(nodes, seed);
                const owners = placePartitions(partitions, ids);
                assert.equal(owners.length, partitions);
                assert.ok(owners.every((owner) => ids.includes(owner)));
                const busiest = Math.max(...shares(owners).values());
                assert.ok(busiest <= Math.ceil((partitions / nodes) * 1.1), `${partitions}/${nodes}: busiest holds ${busiest}`);
            }
        }
        assert.deepEqual(placePartitions(8, []), []);
    });

    it("gives every node the same answer, whatever order it lists the live nodes in", () => {
        const ids = nodeIds(5, 1);
        const placed = placePartitions(64, ids);
        assert.deepEqual(placePartitions(64, [...ids].reverse()), placed);
        assert.deepEqual(placePartitions(64, [ids[2]!, ids[0]!, ids[4]!, ids[1]!, ids[3]!]), placed);
    });

    it("moves about 1/N of the partitions on a join, nearly all of them to the new node", () => {
        const moved: number[] = [];
        const betweenOld: number[] = [];
        for (let seed = 0; seed < 300; seed++) {
            const four = nodeIds(4, seed);
            const before = placePartitions(64, four.slice(0, 3));
            const after = placePartitions(64, four);
            const changed = before.flatMap((owner, partition) => (after[partition] === owner ? [] : [partition]));
            moved.push(changed.length);
            betweenOld.push(changed.filter((partition) => after[partition] !== four[3]).length);
        }
        const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
        // The new node's even share is 16 of 64; plain rendezvous moves exactly its (random) share.
        assert.ok(mean(moved) <= 16 * 1.1, `${mean(moved)} moved on average`);
        assert.ok(mean(betweenOld) <= 2, `${mean(betweenOld)} moved between old nodes on average`);
    });

    it("spreads chats evenly over the partitions", () => {
        const counts = new Array<number>(64).fill(0);
        for (let chat = 0; chat < 64_000; chat++) counts[partitionOf(String(100_000 + chat), 64)]!++;
        assert.ok(
            Math.max(...counts) < 1_000 * 1.15 && Math.min(...counts) > 1_000 * 0.85,
            `${Math.min(...counts)}..${Math.max(...counts)}`,
        );
    });
});
