import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnScript } from "./helpers/child.js";

describe("exit witness", () => {
    it("sees the update that ended the process and never changes how it ends, even for an error that cannot be printed", async () => {
        for (const mode of ["no handler", "app-handler"]) {
            const lines: string[] = [];
            const child = spawnScript("test/helpers/hostile-exit.ts", {}, (line) => void lines.push(line), [mode]);
            const [code] = await child.exit;
            const seen = `${mode}: ${lines.join(" / ")}`;
            assert.equal(code, 1, seen);
            assert.ok(lines.includes("later listener 1"), `exit listeners after sluice's still ran (${seen})`);
            assert.ok(
                lines.some((line) => line.startsWith("witnessed 42 uncaught exception")),
                `the culprit was seen (${seen})`,
            );
        }
    });
});
