import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { sequentialize } from "../src/index.js";

type Ctx = { id: number; keys: string[] };

describe("sequentialize", () => {
    it("runs calls sharing a key in arrival order and others concurrently", async () => {
        const mw = sequentialize<Ctx>((ctx) => ctx.keys);
        const log: string[] = [];
        const call = (id: number, keys: string[], ms: number) =>
            mw({ id, keys }, async () => {
                log.push(`start ${id}`);
                await delay(ms);
                log.push(`end ${id}`);
            });
        await Promise.all([call(1, ["a"], 20), call(2, ["a", "b"], 5), call(3, ["b"], 1), call(4, ["c"], 1)]);
        // 2 waits for 1 (key a); 3 waits for 2 (key b); 4 shares nothing and runs at once.
        assert.ok(log.indexOf("start 4") < log.indexOf("end 1"));
        assert.ok(log.indexOf("end 1") < log.indexOf("start 2"));
        assert.ok(log.indexOf("end 2") < log.indexOf("start 3"));
    });

    it("keeps the chain going after a failing call and rethrows its error to its caller", async () => {
        const mw = sequentialize<Ctx>((ctx) => ctx.keys);
        const order: number[] = [];
        const failing = mw({ id: 1, keys: ["k"] }, async () => {
            await delay(5);
            order.push(1);
            throw new Error("handler failed");
        });
        const after = mw({ id: 2, keys: ["k"] }, async () => {
            order.push(2);
        });
        await assert.rejects(failing, /handler failed/);
        await after;
        assert.deepEqual(order, [1, 2]);
    });

    it("defaults to the chat id and user id of ctx.update", async () => {
        const mw = sequentialize<{ update: unknown }>();
        const log: string[] = [];
        const ctx = (chat: number, user: number) => ({ update: { update_id: 1, message: { chat: { id: chat }, from: { id: user } } } });
        await Promise.all([
            mw(ctx(-1, 7), async () => {
                await delay(10);
                log.push("group by 7");
            }),
            mw(ctx(7, 7), async () => {
                log.push("private of 7");
            }),
            mw(ctx(-2, 8), async () => {
                log.push("other group by 8");
            }),
        ]);
        assert.deepEqual(log, ["other group by 8", "group by 7", "private of 7"]);
    });
});
