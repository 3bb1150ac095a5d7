import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

/** A fresh temporary folder for this test file's stores, removed after its tests. */
export function tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
    after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
}
