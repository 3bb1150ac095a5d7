import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** A file of the dashboard, ready to serve: read, compressed and fingerprinted once. */
export interface Asset {
    /** Its `content-type`. */
    type: string;
    body: Buffer;
    /** The same, gzipped: uPlot's module is 145 KB as shipped and about 40 KB this way. */
    gzipped: Buffer;
    /** A strong ETag of its content, for `304 Not Modified`. */
    etag: string;
}

const TYPES: Partial<Record<string, string>> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
};

/**
 * The page's own files: beside this module, in `src/admin/dashboard/` when
 * run from the sources and `dist/admin/dashboard/` once built (`npm run
 * build` copies them; they are plain browser modules, nothing to compile).
 */
const DASHBOARD_DIR = new URL("./dashboard/", import.meta.url);

/** uPlot's files the page loads, by the name it asks for, from the installed package. */
const VENDOR_FILES = { "uPlot.esm.js": "uplot/dist/uPlot.esm.js", "uPlot.min.css": "uplot/dist/uPlot.min.css" };

/**
 * Reads the dashboard's files by name: the page's (HTML, modules, styles,
 * icon; nothing else in the folder is served) and uPlot's. A fixed set, so
 * a request names one of them or gets a 404: no path ever reaches the disk.
 */
export async function loadDashboardAssets(): Promise<ReadonlyMap<string, Asset>> {
    const paths = new Map<string, string>();
    for (const entry of await readdir(DASHBOARD_DIR, { withFileTypes: true })) {
        if (entry.isFile() && TYPES[extname(entry.name)] !== undefined) {
            paths.set(entry.name, fileURLToPath(new URL(entry.name, DASHBOARD_DIR)));
        }
    }
    const require = createRequire(import.meta.url);
    for (const [name, specifier] of Object.entries(VENDOR_FILES)) paths.set(name, require.resolve(specifier));
    const assets = new Map<string, Asset>();
    for (const [name, path] of paths) {
        const body = await readFile(path);
        assets.set(name, {
            type: TYPES[extname(name)]!,
            body,
            gzipped: gzipSync(body),
            etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
        });
    }
    return assets;
}
