import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { OutboxQueue } from "../src/outbox/queue.js";
import { openStore, sqliteOf } from "../src/store/store.js";
import { tempDir } from "./helpers/temp-dir.js";

const dir = tempDir("outbox-queue");

describe("outbox queue", () => {
    it("finds every row it reads or writes through an index: no table scan, no sort, however many chats wait", () => {
        const store = openStore(join(dir, "plans.db"));
        try {
            const db = sqliteOf(store);
            const queue = new OutboxQueue(store, 1, { headWritten: () => {}, ended: () => {} });
            const plans = new Map<string, string[]>();
            for (const [name, statement] of Object.entries(queue.statements)) {
                // The planner ignores bound values (without STAT4), so nulls stand in for every parameter.
                const parameters = Array.from({ length: statement.source.split("?").length - 1 }, () => null);
                const rows = db.prepare(`EXPLAIN QUERY PLAN ${statement.source}`).all(...parameters) as { detail: string }[];
                plans.set(
                    name,
                    rows.map((row) => row.detail),
                );
            }
            for (const [name, details] of plans) {
                for (const detail of details) {
                    assert.doesNotMatch(detail, /^SCAN /, `${name} scans a whole table: ${detail}`);
                    assert.doesNotMatch(detail, /TEMP B-TREE/, `${name} sorts its rows: ${detail}`);
                }
            }
            // What the dispatcher runs on every send, by the index each must use.
            const uses = (name: string, pattern: RegExp) =>
                assert.ok(
                    plans.get(name)?.some((detail) => pattern.test(detail)),
                    `${name}: ${plans.get(name)?.join("; ")}`,
                );
            uses("ready", /^SEARCH outbox_heads USING COVERING INDEX outbox_heads_by_ready \(bot_id=\? AND priority=\? AND ready_at<\?\)/);
            uses(
                "nextReady",
                /^SEARCH outbox_heads USING COVERING INDEX outbox_heads_by_ready \(bot_id=\? AND priority=\? AND ready_at>\?\)/,
            );
            uses("firstQueued", /^SEARCH outbox_messages USING INDEX outbox_queued_by_chat \(bot_id=\? AND chat_key=\?\)/);
            uses("head", /^SEARCH h USING PRIMARY KEY \(bot_id=\? AND chat_key=\?\)/);
            uses("head", /^SEARCH m USING INTEGER PRIMARY KEY/);
        } finally {
            store.close();
        }
    });
});
