/**
 * `npm run bench`: sluice against @grammyjs/runner, measured in the same run
 * against the same simulator (in a child process), reported as ratios.
 * Each throughput figure is the median of ROUNDS runs, interleaved so that
 * neither side profits from a warmer machine.
 */
import { forkSimulator } from "../src/simulator/index.js";
import { importRate, replyLatencyDuringCampaign } from "./campaigns.js";
import { clusterThroughput, needRedis, singleNodeThroughput } from "./cluster.js";
import { BURN_MS, DISTRIBUTE_CHATS, DISTRIBUTE_UPDATES, distributedThroughput, removeDistributeFiles } from "./distribute.js";
import { quietP99 } from "./fairness.js";
import { journaledThroughput, removeJournalFiles, resumeTime } from "./journal.js";
import { heapAfterChats } from "./memory.js";
import { type BroadcastResult, broadcast, type DeliveryResult, delivery, enqueueRate, replyLatency, TELEGRAM_LIMITS } from "./outbox.js";
import { poolProbe } from "./pool.js";
import { median } from "./stats.js";
import { addRate, completionRate } from "./tasks.js";
import { bareLoop, runnerThroughput, UPDATES } from "./throughput.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_TRIP_MS = 5;
/** Messages queued by the outbox's broadcast at 30/s, and by its paid broadcast at 1000/s; smaller for a quick run. */
const BROADCAST_SIZE = Number(process.env.BENCH_BROADCAST_SIZE ?? 1_000_000);
const PAID_BROADCAST_SIZE = Number(process.env.BENCH_PAID_BROADCAST_SIZE ?? 100_000);
/** Recipients imported, and in the campaign replies are timed against; smaller for a quick run. */
const CAMPAIGN_SIZE = Number(process.env.BENCH_CAMPAIGN_SIZE ?? 1_000_000);
/** Seconds each broadcast is measured for, after its warm-up. */
const BROADCAST_SECONDS = Number(process.env.BENCH_BROADCAST_SECONDS ?? 60);
/** `BENCH_ONLY=throughput,journal,outbox,campaigns,tasks,fairness,memory,pool,distribute,cluster` (any subset) runs only those comparisons. */
const only = new Set(
    (process.env.BENCH_ONLY ?? "throughput,journal,outbox,campaigns,tasks,fairness,memory,pool,distribute,cluster").split(","),
);
/** Rounds of the distribute comparison (each takes about a minute: 40 s of it the main-thread run). */
const DISTRIBUTE_ROUNDS = Number(process.env.BENCH_DISTRIBUTE_ROUNDS ?? 1);
/** Polling bots in the pool benchmark; smaller for a quick run. */
const POOL_BOTS = Number(process.env.BENCH_POOL_BOTS ?? 1_000);
/** Updates of the cluster's single-node comparison, and rounds of each cluster comparison; smaller for a quick run. */
const CLUSTER_UPDATES = Number(process.env.BENCH_CLUSTER_UPDATES ?? 30_000);
const CLUSTER_ROUNDS = Number(process.env.BENCH_CLUSTER_ROUNDS ?? 3);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const rate = (perSecond: number) => `${Math.round(perSecond).toLocaleString("en-US")} updates/s`;

const sim = await forkSimulator();
try {
    if (only.has("throughput")) await compareThroughput();
    if (only.has("journal")) await compareJournal();
    if (only.has("fairness")) await compareFairness();
    if (only.has("distribute")) await compareDistribute();
    if (only.has("cluster")) await compareCluster();
} finally {
    await sim.close();
    removeJournalFiles();
    removeDistributeFiles();
}
if (only.has("outbox")) {
    await compareOutbox();
    await compareBroadcasts();
}
if (only.has("campaigns")) await compareCampaigns();
if (only.has("tasks")) await measureTasks();
if (only.has("memory")) await compareMemory();
if (only.has("pool")) await measurePool();
// The reference's distribute keeps its worker threads for the life of the process: they would hold it open.
if (only.has("distribute")) process.exit(0);

async function compareThroughput(): Promise<void> {
    await throughputAt(0, "the simulator answers at once (CPU-bound: handling competes with fetching)");
    await throughputAt(
        ROUND_TRIP_MS,
        `getUpdates answers after ${ROUND_TRIP_MS} ms, a short round trip to Telegram (fetching overlaps handling)`,
    );
}

/**
 * Runs the measurements in turn, ROUNDS times after one warm-up round (the
 * JIT needs it), and returns the median of each.
 */
type Measure = () => Promise<number>;
async function interleavedMedians(measurements: [Measure, Measure, Measure]): Promise<[number, number, number]> {
    const results = measurements.map((): number[] => []);
    for (let round = 0; round <= ROUNDS; round++) {
        for (const [index, measure] of measurements.entries()) {
            const value = await measure();
            if (round > 0) results[index]!.push(value);
        }
    }
    return results.map(median) as [number, number, number];
}

/** Median updates/s of the bare loop and both runners. */
async function throughputAt(latencyMs: number, setting: string): Promise<void> {
    await sim.setFaults(latencyMs > 0 ? { latencyMs, methods: ["getUpdates"] } : {});
    console.log(`Throughput: ${UPDATES.toLocaleString("en-US")} updates over 1,000 chats, zero-work handler with sequentialize;`);
    console.log(`  ${setting}`);
    const [b, r, s] = await interleavedMedians([
        () => bareLoop(sim),
        () => runnerThroughput(sim, "reference"),
        () => runnerThroughput(sim, "sluice"),
    ]);
    console.log(`  bare getUpdates loop   ${rate(b)}`);
    console.log(`  @grammyjs/runner       ${rate(r)}  (${((100 * r) / b).toFixed(1)}% of bare)`);
    console.log(`  sluice                 ${rate(s)}  (${((100 * s) / b).toFixed(1)}% of bare)`);
    console.log(`  ratio sluice / reference: ${(s / r).toFixed(2)}x  (target >= 1.00x; >= 95% of bare)\n`);
    await sim.setFaults({});
}

async function compareJournal(): Promise<void> {
    for (const latencyMs of [0, ROUND_TRIP_MS]) await journalAt(latencyMs);
    const resume = await resumeTime(sim);
    console.log(
        `  resume with 10,000 unfinished updates: journal read in ${resume.recovered.toFixed(0)} ms, ` +
            `all handled ${resume.handled.toFixed(0)} ms after run() (target < 1 s)\n`,
    );
}

/** The throughput run with and without a journal, at the given getUpdates latency. */
async function journalAt(latencyMs: number): Promise<void> {
    await sim.setFaults(latencyMs > 0 ? { latencyMs, methods: ["getUpdates"] } : {});
    console.log(
        `Journal: the throughput run with every batch written to SQLite before it is confirmed; getUpdates answers ${
            latencyMs > 0 ? `after ${latencyMs} ms` : "at once"
        }`,
    );
    const [p, j, r] = await interleavedMedians([
        () => runnerThroughput(sim, "sluice"),
        () => journaledThroughput(sim),
        () => runnerThroughput(sim, "reference"),
    ]);
    console.log(`  sluice without journal  ${rate(p)}`);
    console.log(`  sluice with journal     ${rate(j)}  (${(j / p).toFixed(2)}x of without; target >= 0.90x)`);
    console.log(`  @grammyjs/runner        ${rate(r)}  (journaled sluice / reference: ${(j / r).toFixed(2)}x; target >= 1.00x)`);
    console.log(`  cost per update: ${((1 / j - 1 / p) * 1e6).toFixed(1)} µs\n`);
    await sim.setFaults({});
}

/** The outbox on its own simulator, with Telegram's flood limits. */
async function compareOutbox(): Promise<void> {
    const limited = await forkSimulator({ limits: TELEGRAM_LIMITS });
    try {
        console.log("Outbox vs transformer-throttler + auto-retry, simulator at 30/s, 1/s per chat, 20/min per group");
        const show = (name: string, r: DeliveryResult) =>
            `${name} ${r.shareOfAllowed.toFixed(3)} of the allowed rate, ${r.floodRejections} x 429 (${r.seconds.toFixed(1)} s)`;
        const broadcast = Array.from({ length: 600 }, (_, n) => 1 + n);
        console.log(`  600 messages to 600 chats (allowed 30/s)`);
        console.log(`    ${show("throttler + auto-retry:", await delivery(limited, "throttler", broadcast, 30))}`);
        console.log(`    ${show("sluice outbox:         ", await delivery(limited, "sluice", broadcast, 30))}`);
        const burst = Array.from({ length: 60 }, (_, n) => 5_001 + (n % 3));
        console.log(`  60 messages to 3 chats (allowed 3/s)`);
        console.log(`    ${show("throttler + auto-retry:", await delivery(limited, "throttler", burst, 3))}`);
        console.log(`    ${show("sluice outbox:         ", await delivery(limited, "sluice", burst, 3))}`);
        console.log("  target: >= 0.97 of the allowed rate with zero 429s");
    } finally {
        await limited.close();
    }
    const open = await forkSimulator();
    try {
        console.log("  enqueue into a store file (target >= 50,000 messages/s):");
        for (const mode of ["1,000 per call", "grouped per turn", "one by one"] as const) {
            console.log(`    ${mode.padEnd(17)} ${rate(await enqueueRate(open, mode)).replace("updates", "messages")}`);
        }
        const latency = await replyLatency(open);
        console.log(
            `  sendMessage latency with no limit near: direct ${latency.directMs.toFixed(2)} ms, ` +
                `through the outbox ${latency.outboxMs.toFixed(2)} ms (+${(latency.outboxMs - latency.directMs).toFixed(2)} ms)\n`,
        );
    } finally {
        await open.close();
    }
}

/** Broadcasts with the whole audience queued at once: the cost of a send must not grow with the queue. */
async function compareBroadcasts(): Promise<void> {
    const limited = await forkSimulator({ limits: TELEGRAM_LIMITS, recordCalls: false });
    const count = (n: number) => n.toLocaleString("en-US");
    const show = (r: BroadcastResult, shareTarget: number) => {
        console.log(`    enqueueMany, 10,000 per call: ${rate(r.enqueuePerSecond).replace("updates", "messages")}`);
        console.log(
            `    over ${r.seconds.toFixed(0)} s after a warm-up: ${r.shareOfAllowed.toFixed(3)} of the allowed rate, ` +
                `${r.floodRejections} x 429 (target >= ${shareTarget} with zero 429s; ${r.floodRejectionsBefore} x 429 before)`,
        );
        console.log(
            `    this process: CPU ${(100 * r.cpuShare).toFixed(1)}% of one core, resident memory ${mb(r.rssAfter)} ` +
                `(${mb(r.rssBefore)} before enqueuing)`,
        );
    };
    try {
        console.log("Outbox broadcasts: one message per chat, all queued into a store file first; simulator at Telegram's limits");
        console.log(`  ${count(BROADCAST_SIZE)} messages at 30/s (target: CPU < 5% of one core)`);
        show(await broadcast(limited, { count: BROADCAST_SIZE, paid: false, allowedPerSecond: 30, seconds: BROADCAST_SECONDS }), 0.97);
        console.log(`  ${count(PAID_BROADCAST_SIZE)} messages with allow_paid_broadcast at 1000/s`);
        show(
            await broadcast(limited, { count: PAID_BROADCAST_SIZE, paid: true, allowedPerSecond: 1000, seconds: BROADCAST_SECONDS }),
            0.95,
        );
        console.log();
    } finally {
        await limited.close();
    }
}

async function compareCampaigns(): Promise<void> {
    const limited = await forkSimulator({ limits: TELEGRAM_LIMITS, recordCalls: false });
    const count = CAMPAIGN_SIZE.toLocaleString("en-US");
    try {
        console.log("Campaigns");
        const imported = await importRate(limited, CAMPAIGN_SIZE);
        console.log(
            `  addRecipients of ${count} from an async generator, with locales and values: ` +
                `${rate(imported.perSecond).replace("updates", "recipients")}, resident memory +${mb(imported.rssGrowth)} ` +
                "(target >= 100,000/s, < 150 MB)",
        );
        const latency = await replyLatencyDuringCampaign(limited, CAMPAIGN_SIZE, BROADCAST_SECONDS / 2);
        console.log(
            `  ctx.reply to new updates (5/s) while a ${count}-recipient campaign runs at 30/s: ` +
                `p50 ${latency.p50.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms over ${latency.replies} replies (target p99 <= 250 ms); ` +
                `the campaign kept ${latency.campaignShare.toFixed(2)} of 30/s, ${latency.floodRejections} x 429\n`,
        );
    } finally {
        await limited.close();
    }
}

/** The cluster on Redis: one node against plain `run`, three nodes against one. */
async function compareCluster(): Promise<void> {
    await needRedis();
    await sim.setFaults({ latencyMs: ROUND_TRIP_MS, methods: ["getUpdates"] });
    const updates = CLUSTER_UPDATES.toLocaleString("en-US");
    console.log(
        `Cluster on Redis: ${updates} updates over 1,000 chats, zero-work handler with sequentialize, getUpdates after ${ROUND_TRIP_MS} ms`,
    );
    const plain: number[] = [];
    const single: number[] = [];
    for (let round = 0; round <= CLUSTER_ROUNDS; round++) {
        const [p, c] = [
            await singleNodeThroughput(sim, "plain", CLUSTER_UPDATES),
            await singleNodeThroughput(sim, "cluster", CLUSTER_UPDATES),
        ];
        if (round === 0) continue; // warm-up
        plain.push(p);
        single.push(c);
    }
    console.log(`  plain run          ${rate(median(plain))}`);
    console.log(
        `  one-node cluster   ${rate(median(single))}  (${(median(single) / median(plain)).toFixed(2)}x of plain; target >= 0.70x)`,
    );
    await sim.setFaults({});
    // The default 64 partitions: the busiest node sets the pace, and the placement gives none more than 24 of them.
    const work = { count: 6_000, handlerMs: 20, concurrency: 10, partitions: 64 };
    console.log(
        `  ${work.count.toLocaleString("en-US")} updates over 1,000 chats, a ${work.handlerMs} ms I/O-bound handler, ` +
            `${work.concurrency} at a time per node (a pool of ${work.concurrency} connections each), ${work.partitions} partitions; nodes are processes:`,
    );
    const one: number[] = [];
    const three: number[] = [];
    const busiest: number[] = [];
    for (let round = 0; round < CLUSTER_ROUNDS; round++) {
        one.push((await clusterThroughput(sim, 1, work)).perSecond);
        const { perSecond, shares } = await clusterThroughput(sim, 3, work);
        three.push(perSecond);
        busiest.push(Math.max(...shares));
    }
    console.log(`  one node           ${rate(median(one))}`);
    console.log(
        `  three nodes        ${rate(median(three))}  (${(median(three) / median(one)).toFixed(2)}x of one; target >= 2.50x; ` +
            `the busiest node held ${busiest.map((share) => `${Math.round(100 * share)}%`).join(", ")} of the partitions)\n`,
    );
}

async function measureTasks(): Promise<void> {
    const tasks = (perSecond: number) => rate(perSecond).replace("updates", "tasks");
    console.log("Durable tasks on a store file");
    console.log("  stored (target >= 50,000 tasks/s):");
    for (const mode of ["add, 1,000 per turn", "addMany, 1,000 per call"] as const) {
        console.log(`    ${mode.padEnd(24)} ${tasks(await addRate(mode))}`);
    }
    console.log(`  10,000 no-op tasks at concurrency 8: ${tasks(await completionRate())} completed (target >= 5,000 tasks/s)\n`);
}

async function compareFairness(): Promise<void> {
    console.log("Flood fairness: one chat sends 1,000 updates, 100 others 10 each, 20 ms handler");
    const referenceP99 = await quietP99(sim, "reference");
    const sluiceP99 = await quietP99(sim, "sluice");
    console.log(`  quiet chats p99 latency  @grammyjs/runner ${referenceP99.toFixed(0)} ms, sluice ${sluiceP99.toFixed(0)} ms`);
    console.log(`  ratio reference / sluice: ${(referenceP99 / sluiceP99).toFixed(1)}x better  (target <= 500 ms, >= 20x)`);
}

async function compareMemory(): Promise<void> {
    console.log("\nMemory: 1,000,000 distinct chats through the sink and sequentialize");
    const referenceHeap = await heapAfterChats("reference");
    const sluiceHeap = await heapAfterChats("sluice");
    for (const [name, heap] of [
        ["@grammyjs/runner", referenceHeap],
        ["sluice", sluiceHeap],
    ] as const) {
        console.log(
            `  ${name.padEnd(17)} baseline ${mb(heap.baseline)}, peak +${mb(heap.peak - heap.baseline)}, after +${mb(heap.after - heap.baseline)}`,
        );
    }
    console.log(
        `  sluice's heap after the run is ${mb(sluiceHeap.after - sluiceHeap.baseline)} above its baseline (target: back to baseline)`,
    );
}

async function measurePool(): Promise<void> {
    const bots = POOL_BOTS.toLocaleString("en-US");
    console.log(`\nBot pool: ${bots} polling bots in one process, each handling 3 updates; the simulator in another process`);
    const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;
    const [pool, bare, reference] = [
        await poolProbe("pool", POOL_BOTS),
        await poolProbe("pool-bare", POOL_BOTS),
        await poolProbe("reference", POOL_BOTS),
    ];
    for (const [name, result] of [
        ["sluice pool, journal + outbox in one store", pool],
        ["sluice pool, no store, no outbox", bare],
        ["@grammyjs/runner, one run() per bot", reference],
    ] as const) {
        console.log(
            `  ${name.padEnd(42)} started in ${(result.startMs / 1000).toFixed(1)} s, ${kb(result.rssPerBot)} resident per bot ` +
                `(${kb(result.heapPerBot)} heap), closed in ${(result.closeMs / 1000).toFixed(1)} s`,
        );
    }
    console.log(`  resident memory per polling bot with journal and outbox: ${kb(pool.rssPerBot)} (target <= 500 KB)`);
    const ms = (value: number) => `${value.toFixed(3)} ms`;
    const added = (p99: { without: number; hanging: number }) => `${p99.hanging >= p99.without ? "+" : ""}${ms(p99.hanging - p99.without)}`;
    const { running, cold } = pool.doP99;
    console.log(
        `  do() p99 on running bots: ${ms(running.without)}, ${ms(running.hanging)} while another token's getMe hangs ` +
            `(${added(running)}; target <= +5 ms)`,
    );
    console.log(
        `  do() p99 on cold tokens (starts the bot): ${ms(cold.without)}, ${ms(cold.hanging)} while another token's getMe hangs ` +
            `(${added(cold)})`,
    );
}

async function compareDistribute(): Promise<void> {
    console.log(
        `\nMany cores: ${DISTRIBUTE_UPDATES.toLocaleString("en-US")} updates over ${DISTRIBUTE_CHATS} chats, ` +
            `each handler doing ${BURN_MS} ms of CPU work; distribute on 2 worker threads (median of ${DISTRIBUTE_ROUNDS})`,
    );
    const main: number[] = [];
    const sluiceRates: number[] = [];
    const referenceRates: number[] = [];
    let sluiceViolations = 0;
    let referenceViolations = 0;
    for (let round = 0; round < DISTRIBUTE_ROUNDS; round++) {
        main.push((await distributedThroughput(sim, "main")).perSecond);
        const ours = await distributedThroughput(sim, "sluice");
        sluiceRates.push(ours.perSecond);
        sluiceViolations += ours.orderViolations;
        const theirs = await distributedThroughput(sim, "reference");
        referenceRates.push(theirs.perSecond);
        referenceViolations += theirs.orderViolations;
    }
    const [m, s, r] = [median(main), median(sluiceRates), median(referenceRates)];
    console.log(`  sluice, main thread alone     ${rate(m)}`);
    const perRun = (violations: number) => Math.round(violations / DISTRIBUTE_ROUNDS).toLocaleString("en-US");
    console.log(`  @grammyjs/runner distribute   ${rate(r)}  (${perRun(referenceViolations)} per-chat order violations per run)`);
    console.log(`  sluice distribute             ${rate(s)}  (${perRun(sluiceViolations)} per-chat order violations per run; target 0)`);
    console.log(`  ratio sluice distribute / main thread: ${(s / m).toFixed(2)}x`);
    console.log(`  ratio sluice / reference distribute:   ${(s / r).toFixed(2)}x  (target >= 1.00x)`);
}
