import Database from "better-sqlite3";
import { StoreError } from "../shared/errors.js";
import { ExternalChanges } from "./external-changes.js";
import { MIGRATIONS } from "./schema.js";

/** better-sqlite3's connection type. */
export type SqliteDatabase = Database.Database;

/** Set by `Store`'s static block: the one way in to a store's private connection. */
let connectionOf: (store: Store) => SqliteDatabase;

/**
 * An opened sluice store: one SQLite file (WAL mode) shared by the journal
 * and the outbox of one or many bots. Open it once per process with
 * `openStore` and pass it to `run(bot, { store })`, or pass a path and let
 * `run` open and close it.
 */
export class Store {
    /** The SQLite connection: internal, reached by sluice's components through `sqliteOf`. */
    readonly #db: SqliteDatabase;
    /** The file this store lives in. */
    readonly path: string;

    /** One transaction wrapper for every call, instead of a new one per `transaction()`. */
    private readonly inTransaction: Database.Transaction<(work: () => unknown) => unknown>;
    private readonly externalChanges: ExternalChanges;
    /** SQLite's count of commits by other connections, as this connection has seen them. */
    private readonly dataVersion: Database.Statement;
    /** Transactions rolled back here (see `changeMark`). */
    private rollbacks = 0;

    static {
        connectionOf = (store) => store.#db;
    }

    /** @internal Use `openStore`. */
    constructor(db: SqliteDatabase, path: string) {
        this.#db = db;
        this.path = path;
        this.inTransaction = db.transaction((work: () => unknown) => work());
        this.externalChanges = new ExternalChanges(db);
        this.dataVersion = db.prepare("PRAGMA data_version").pluck();
    }

    /**
     * Calls `listener` within a quarter of a second after another connection
     * (the `sluice` command, another process) commits to this file; returns
     * how to stop. A store in memory has no other connection and never calls.
     */
    onExternalChange(listener: () => void): () => void {
        if (this.inMemory) return () => {};
        return this.externalChanges.listen(listener);
    }

    /**
     * Runs `work` in one IMMEDIATE transaction. `durable` syncs the commit to
     * disk (survives power loss); otherwise it survives a crash or `kill -9`
     * of the process, which is what WAL mode's NORMAL sync guarantees. When
     * the file cannot be written (disk full, I/O error, damaged), the
     * transaction is rolled back and a `StoreError` naming the file is thrown.
     */
    transaction<T>(work: () => T, options: { durable?: boolean } = {}): T {
        if (options.durable) this.#db.pragma("synchronous = FULL");
        try {
            return this.inTransaction.immediate(work) as T;
        } catch (error) {
            this.rollbacks++;
            throw asStoreError(error, this.path);
        } finally {
            if (options.durable) this.#db.pragma("synchronous = NORMAL");
        }
    }

    /**
     * @internal A mark that changes whenever counts kept in memory beside the
     * store may no longer match it: another connection (another process, such
     * as the `sluice` command) committed, or a transaction here rolled back
     * (what it counted as it went did not happen). Reads no page of the file.
     */
    changeMark(): string {
        return `${this.dataVersion.get() as number}:${this.rollbacks}`;
    }

    /** From now on, a write that finds the file locked by another process fails at once instead of waiting. */
    failFastOnLock(): void {
        this.#db.pragma("busy_timeout = 0");
    }

    /** Whether the store lives in memory (`":memory:"`): private to this connection, with no file beside it. */
    get inMemory(): boolean {
        return this.#db.memory;
    }

    /** Whether the connection is open. */
    get isOpen(): boolean {
        return this.#db.open;
    }

    /** Closes the connection (idempotent). */
    close(): void {
        this.externalChanges.stop();
        if (this.#db.open) this.#db.close();
    }
}

/** The SQLite connection of a store, for sluice's own components (the journal, the outbox, the owner lock); not exported. */
export function sqliteOf(store: Store): SqliteDatabase {
    return connectionOf(store);
}

/** Each open store's prepared statements, by SQL text. */
const statementsOf = new WeakMap<Store, Map<string, Database.Statement>>();

/**
 * The prepared statement for `text` on the store's connection, prepared once
 * and shared by every component that runs the same SQL, for every bot. Each
 * bot's journal, outbox and tasks run the same statements with their own bot
 * id, and SQLite keeps a compiled program per prepared statement: a pool of
 * 1,000 bots preparing their own held about 300 KB of them per bot. Sharing
 * is safe on one thread because sluice runs statements to completion
 * (`run`, `get`, `all`; never an `iterate` left open), and a mode set on one
 * (`pluck`) belongs to its text, which only one place in the code uses.
 */
export function preparedStatement(store: Store, text: string): Database.Statement {
    let statements = statementsOf.get(store);
    if (statements === undefined) statementsOf.set(store, (statements = new Map()));
    let statement = statements.get(text);
    if (statement === undefined) statements.set(text, (statement = connectionOf(store).prepare(text)));
    return statement;
}

/**
 * Opens (creating if needed) a store file and brings its schema up to date.
 * Fails with a `StoreError` naming the file when it is not a SQLite database
 * (`STORE_CORRUPT`), cannot be created or written (`STORE_UNWRITABLE`), or was
 * written by a newer sluice (`STORE_TOO_NEW`).
 */
export function openStore(path: string): Store {
    let db: SqliteDatabase | undefined;
    try {
        db = new Database(path);
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = NORMAL");
        db.pragma("busy_timeout = 5000");
        migrate(db, path);
        return new Store(db, path);
    } catch (error) {
        db?.close();
        throw asStoreError(error, path);
    }
}

function migrate(db: SqliteDatabase, path: string): void {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
        throw new StoreError(
            "STORE_TOO_NEW",
            path,
            `The store ${path} has schema version ${version}, newer than this sluice knows (${MIGRATIONS.length}). ` +
                "Upgrade sluice, or point `store` at another file.",
        );
    }
    db.transaction(() => {
        for (let next = version; next < MIGRATIONS.length; next++) db.exec(MIGRATIONS[next]!);
        db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
}

/** Turns SQLite's errors about the file itself into `StoreError`s; passes others on. */
function asStoreError(error: unknown, path: string): unknown {
    if (error instanceof StoreError) return error;
    const code = (error as { code?: unknown }).code;
    // better-sqlite3 checks the folder itself and throws a plain TypeError without a code.
    const missingFolder = error instanceof TypeError && /directory does not exist/.test(error.message);
    if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
        return new StoreError(
            "STORE_CORRUPT",
            path,
            `The store ${path} is not a valid SQLite database (or is damaged). ` +
                "Move it aside and start with a new file; sluice does not overwrite it.",
            { cause: error },
        );
    }
    if (code === "SQLITE_FULL") {
        return new StoreError(
            "STORE_FULL",
            path,
            `The store ${path} could not be written: the disk is full (or the file reached a size limit). ` +
                "Free space and start again; updates that could not be written were not confirmed to Telegram, " +
                "so they are fetched again.",
            { cause: error },
        );
    }
    if (typeof code === "string" && code.startsWith("SQLITE_IOERR")) {
        return new StoreError(
            "STORE_UNWRITABLE",
            path,
            `The store ${path} could not be written (${code}): the disk or file system reported an error. ` +
                "Check the disk, then start again; what was written before is kept.",
            { cause: error },
        );
    }
    if (
        missingFolder ||
        (typeof code === "string" &&
            (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_PERM")))
    ) {
        return new StoreError(
            "STORE_UNWRITABLE",
            path,
            `The store ${path} cannot be opened for writing. Check that its folder exists and that this user may write ` +
                "the file and the folder (SQLite also creates -wal and -shm files beside it).",
            { cause: error },
        );
    }
    return error;
}

/**
 * Builds a component on the store its `store` option names: an opened store
 * as given, or a path (in memory without one) opened for it, which the
 * component owns and closes. If building fails, a store opened here is
 * closed again rather than left locked.
 */
export function onStore<T>(option: string | Store | undefined, build: (store: Store, ownsStore: boolean) => T): T {
    if (typeof option === "object") return build(option, false);
    const store = openStore(option ?? ":memory:");
    try {
        return build(store, true);
    } catch (error) {
        store.close();
        throw error;
    }
}
