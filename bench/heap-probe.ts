/**
 * Pushes N updates from N distinct chats through a sink (lanes on) whose
 * consumer runs `sequentialize`, then reports the heap before, at the peak and
 * after. Run it with `--expose-gc` in a process of its own:
 *
 *   node --expose-gc --import tsx bench/heap-probe.ts [count] [sluice|reference]
 *
 * Prints one JSON line: { count, baseline, peak, after } in bytes.
 */
import * as reference from "@grammyjs/runner";
import * as sluice from "../src/index.js";

const count = Number(process.argv[2] ?? 1_000_000);
const flavour = process.argv[3] === "reference" ? "reference" : "sluice";
const lib = flavour === "reference" ? reference : sluice;
const gc = globalThis.gc;
if (gc === undefined) throw new Error("run with --expose-gc");

type Ctx = { update: { update_id: number; message: { chat: { id: number }; from: { id: number } } } };
const middleware = lib.sequentialize<Ctx>((ctx) => [String(ctx.update.message.chat.id), String(ctx.update.message.from.id)]);
const next = async () => {};

function heap(): number {
    gc!();
    gc!();
    return process.memoryUsage().heapUsed;
}

const sink = lib.createConcurrentSink<Ctx["update"]>({ consume: (update) => middleware({ update }, next) }, async (error) => {
    throw error;
});

const baseline = heap();
let peak = baseline;
for (let id = 1; id <= count; id += 100) {
    const batch: Ctx["update"][] = [];
    for (let i = id; i < id + 100 && i <= count; i++) {
        batch.push({ update_id: i, message: { chat: { id: i }, from: { id: -i } } });
    }
    await sink.handle(batch);
    if ((id - 1) % 100_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
}
while (sink.size() > 0) await new Promise((resolve) => setImmediate(resolve));
const after = heap();
console.log(JSON.stringify({ flavour, count, baseline, peak, after }));
