/**
 * A process that ends with an error that cannot even be printed, for the exit witness's test.
 * Argument: "app-handler" installs an uncaughtException listener of the application that exits with 1.
 * Prints "later listener <code>" from an exit listener registered after sluice's.
 */
import { writeSync } from "node:fs";
import { witnessExit } from "../../src/shared/exit-witness.js";
import { runInUpdateScope } from "../../src/shared/update-scope.js";

witnessExit((exit) => writeSync(1, `witnessed ${exit.culprit?.updateId} ${exit.description}\n`));
process.on("exit", (code) => writeSync(1, `later listener ${code}\n`));
if (process.argv[2] === "app-handler") process.on("uncaughtException", () => process.exit(1));
runInUpdateScope(1, 42, () =>
    setTimeout(() => {
        throw Object.create(null); // no toString: String() of it throws
    }, 1),
);
