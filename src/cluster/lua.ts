import { readFileSync } from "node:fs";

/**
 * The text of a Lua script of the cluster (`src/cluster/scripts/<name>.lua`,
 * copied beside the compiled modules by the build). Each atomic operation on
 * Redis is one script in a file of its own, so it reads as Lua and can be
 * reviewed as one unit.
 */
export function luaScript(name: string): string {
    return readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), "utf8");
}
