/**
 * Every `code` a `SluiceError` can carry; stable, so match on these rather
 * than on messages, which are written for people and may change.
 * - `UNAUTHORIZED`: Telegram rejected the token (401).
 * - `CONFLICT_WEBHOOK`, `CONFLICT_POLLER`: Telegram refused `getUpdates` (409).
 * - `GET_UPDATES_REJECTED`: another 4xx answer to `getUpdates`.
 * - `INVALID_OPTION`: an option sluice cannot work with.
 * - `STORE_CORRUPT`, `STORE_UNWRITABLE`, `STORE_FULL`, `STORE_LOCKED`, `STORE_TOO_NEW`: see `StoreError`.
 * - `HANDLE_STOPPED`: a handle whose journal or outbox closed at its stop was started again.
 * - `JOURNAL_NOT_RECOVERED`, `JOURNAL_RECOVERED`: a journal used before `recover()`, or recovered twice.
 * - `DEAD_LETTER`: an outbox message was given up (see `DeadLetterError`).
 * - `OUTBOX_CLOSED`: the outbox stopped while the caller waited for a message (it stays queued).
 * - `SIMULATOR_CLOSED`, `SIMULATOR_EXITED`, `SIMULATOR_TIMEOUT`, `SIMULATOR_UNKNOWN_BOT`, `SIMULATOR_REMOTE`: the Bot API simulator.
 * - `CAMPAIGN_UNKNOWN`, `CAMPAIGN_STATE`: no such campaign, or it cannot do that in its state (resume a cancelled one).
 * - `TASK_PERMANENT`, `TASK_DEAD`, `TASK_HANDLER_MISSING`, `TASKS_CLOSED`: durable tasks (see `PermanentTaskError`, `TaskDeadError`).
 * - `TEMPLATE_UNKNOWN`, `TEMPLATE_INVALID`, `TEMPLATE_VARIABLE_MISSING`, `MESSAGE_TOO_LONG`: see `TemplateError`.
 * - `POOL_CLOSED`: a bot pool was used after `close()`.
 * - `POOL_TOKEN_MISMATCH`: a bot pool holds the bot under another token (another secret for the same bot id).
 * - `POOL_BOT_FAILED`: a pooled bot did not start in time, or failed for a reason without a code of its own.
 * - `CLUSTER_UNREACHABLE`: `joinCluster` could not reach Redis.
 * - `CLUSTER_BOT_TWICE`: a bot was run twice on one cluster node.
 * - `CLUSTER_FENCED`: a handler's update passed to another cluster node meanwhile; its calls are refused.
 * - `POISON_UPDATE`: an update kept killing what handled it (see `PoisonUpdateError`); `run` with a store quarantines it.
 * - `WORKER_HANDLER_FAILED`: a worker thread's handler threw and the worker bot has no `bot.catch` of its own.
 * - `WORKER_FAILED`: the worker file of `distribute` could not be loaded, or its threads die before they handle anything.
 * - `WORKER_CLOSED`: `distribute`'s threads were closed while the update waited for one.
 * - `WORKER_CANNOT_POLL`: a `BotWorker` was asked to poll; it gets its updates from `distribute`.
 */
export type SluiceErrorCode =
    | "UNAUTHORIZED"
    | "CONFLICT_WEBHOOK"
    | "CONFLICT_POLLER"
    | "GET_UPDATES_REJECTED"
    | "INVALID_OPTION"
    | StoreProblem
    | "HANDLE_STOPPED"
    | "JOURNAL_NOT_RECOVERED"
    | "JOURNAL_RECOVERED"
    | "DEAD_LETTER"
    | "OUTBOX_CLOSED"
    | "SIMULATOR_CLOSED"
    | "SIMULATOR_EXITED"
    | "SIMULATOR_TIMEOUT"
    | "SIMULATOR_UNKNOWN_BOT"
    | "SIMULATOR_REMOTE"
    | "CAMPAIGN_UNKNOWN"
    | "CAMPAIGN_STATE"
    | "TASK_PERMANENT"
    | "TASK_DEAD"
    | "TASK_HANDLER_MISSING"
    | "TASKS_CLOSED"
    | TemplateProblem
    | "POOL_CLOSED"
    | "POOL_TOKEN_MISMATCH"
    | "POOL_BOT_FAILED"
    | "CLUSTER_UNREACHABLE"
    | "CLUSTER_BOT_TWICE"
    | "CLUSTER_FENCED"
    | "POISON_UPDATE"
    | "WORKER_HANDLER_FAILED"
    | "WORKER_FAILED"
    | "WORKER_CLOSED"
    | "WORKER_CANNOT_POLL";

/**
 * Every error sluice throws on purpose is a `SluiceError`: match on `code`
 * rather than on the message, which is written for people and may change.
 */
export class SluiceError extends Error {
    /** Stable, machine-readable reason, e.g. `"UNAUTHORIZED"`. */
    readonly code: SluiceErrorCode;

    constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = new.target.name;
        this.code = code;
    }
}

/** Telegram answered 401: the bot token is wrong or was revoked. */
export class UnauthorizedError extends SluiceError {
    constructor(options?: { cause?: unknown }) {
        super(
            "UNAUTHORIZED",
            "Telegram rejected the bot token (401 Unauthorized). Check the token you passed to `new Bot(...)` " +
                "(for example BOT_TOKEN); if it was revoked, get a new one from @BotFather.",
            options,
        );
    }
}

/** Why Telegram refused `getUpdates` with 409. */
export type ConflictReason = "webhook" | "poller";

/**
 * Telegram answered 409 to `getUpdates`: either a webhook is set for this bot,
 * or another process is polling with the same token.
 */
export class ConflictError extends SluiceError {
    /** `"webhook"`: a webhook is set; `"poller"`: another `getUpdates` loop runs with this token. */
    readonly reason: ConflictReason;

    constructor(reason: ConflictReason, options?: { cause?: unknown }) {
        super(
            reason === "webhook" ? "CONFLICT_WEBHOOK" : "CONFLICT_POLLER",
            reason === "webhook"
                ? "Telegram refused getUpdates (409) because a webhook is set for this bot. " +
                      "Call `bot.api.deleteWebhook()` once (or stop using the webhook) before polling."
                : "Telegram refused getUpdates (409) because another process is polling with the same token. " +
                      "Stop the other instance (an old deployment, a second terminal) so only one poller runs per bot.",
            options,
        );
        this.reason = reason;
    }
}

/** An option passed to sluice has a value it cannot work with. */
export class InvalidOptionError extends SluiceError {
    constructor(option: string, problem: string) {
        super("INVALID_OPTION", `Invalid option \`${option}\`: ${problem}`);
    }
}

/** Why a store could not be used. */
export type StoreProblem = "STORE_CORRUPT" | "STORE_UNWRITABLE" | "STORE_FULL" | "STORE_LOCKED" | "STORE_TOO_NEW";

/**
 * The SQLite store (journal, outbox) cannot be used: the message names the
 * file and says what to do. Nothing already in the file is changed.
 */
export class StoreError extends SluiceError {
    /** The store file concerned. */
    readonly path: string;

    constructor(code: StoreProblem, path: string, message: string, options?: { cause?: unknown }) {
        super(code, message, options);
        this.path = path;
    }
}

/**
 * Why the outbox gave a message up, with Telegram's own answer where there
 * was one: a dead letter keeps it, and the caller's `ctx.reply` gets it back.
 */
export interface SendFailure {
    /** A class for dashboards and retries: `blocked_by_user`, `chat_not_found`, `retries_exhausted`, `cancelled`, … */
    errorClass: string;
    /** Telegram's description (or the network error's message). */
    description: string;
    /** Telegram's `error_code` (400, 403, 502, …); none after network errors, or when cancelled. */
    errorCode?: number;
    /** Telegram's `parameters`, if it sent any. */
    parameters?: Record<string, unknown>;
}

/**
 * An outbox message that will not be sent: `code` is `DEAD_LETTER`, and the
 * fields are Telegram's (`errorCode`, `description`, `parameters`) as the
 * last attempt got them, plus the `errorClass` sluice gave it.
 */
export class DeadLetterError extends SluiceError implements SendFailure {
    readonly errorClass: string;
    readonly description: string;
    readonly errorCode?: number;
    readonly parameters?: Record<string, unknown>;

    constructor(
        readonly messageId: number,
        failure: SendFailure,
    ) {
        super(
            "DEAD_LETTER",
            `Outbox message ${messageId} was not sent (${failure.errorClass}${failure.errorCode === undefined ? "" : `, ${failure.errorCode}`}): ${failure.description}`,
        );
        this.errorClass = failure.errorClass;
        this.description = failure.description;
        if (failure.errorCode !== undefined) this.errorCode = failure.errorCode;
        if (failure.parameters !== undefined) this.parameters = failure.parameters;
    }
}

/**
 * Why a message template could not make a message:
 * - `CAMPAIGN_UNKNOWN`, `CAMPAIGN_STATE`: no such campaign, or it cannot do that in its state (resume a cancelled one).
 * - `TASK_PERMANENT`, `TASK_DEAD`, `TASK_HANDLER_MISSING`, `TASKS_CLOSED`: durable tasks (see `PermanentTaskError`, `TaskDeadError`).
 * - `TEMPLATE_UNKNOWN`: no template has this key, or it has no text for the locale, its base language or the default locale.
 * - `TEMPLATE_INVALID`: the templates file cannot be read or has the wrong shape, or a text is not valid markup for the parse mode.
 * - `TEMPLATE_VARIABLE_MISSING`: a variable the text uses was not given (or was null, undefined, or not a string, number, bigint or boolean).
 * - `MESSAGE_TOO_LONG`: the text Telegram would count is over its limit (4096, or 1024 for a caption).
 */
export type TemplateProblem = "TEMPLATE_UNKNOWN" | "TEMPLATE_INVALID" | "TEMPLATE_VARIABLE_MISSING" | "MESSAGE_TOO_LONG";

/** Where a template problem is: each field is set when it applies. */
export interface TemplatePlace {
    /** The templates file. */
    path?: string;
    /** The template's key, e.g. `"news"`. */
    key?: string;
    /** The locale concerned: as the templates write it, or as a caller asked for it when no text matched. */
    locale?: string;
    /** The variable concerned, e.g. `"name"`. */
    variable?: string;
}

/** Where a template problem is, as a message starts: `Template "news" (locale "ru") in templates.yaml`. */
function describePlace({ path, key, locale }: TemplatePlace): string {
    const file = path === undefined ? "" : ` in ${path}`;
    if (key === undefined) return path === undefined ? "Templates" : `Templates file ${path}`;
    return `Template "${key}"${locale === undefined ? "" : ` (locale "${locale}")`}${file}`;
}

/**
 * A message template could not be loaded, checked or rendered: the message
 * names where (file, key, locale), says what is wrong and how to fix it; the
 * fields say where for code.
 */
export class TemplateError extends SluiceError implements TemplatePlace {
    readonly path?: string;
    readonly key?: string;
    readonly locale?: string;
    readonly variable?: string;

    constructor(code: TemplateProblem, problem: string, place: TemplatePlace, options?: { cause?: unknown }) {
        super(code, `${describePlace(place)}: ${problem}`, options);
        if (place.path !== undefined) this.path = place.path;
        if (place.key !== undefined) this.key = place.key;
        if (place.locale !== undefined) this.locale = place.locale;
        if (place.variable !== undefined) this.variable = place.variable;
    }
}

/**
 * Thrown by a task handler to give up at once: the task is dead, with this
 * error, however many attempts it had left (a declined card, an order that
 * no longer exists). Any other throw is retried.
 */
export class PermanentTaskError extends SluiceError {
    constructor(message: string, options?: { cause?: unknown }) {
        super("TASK_PERMANENT", message, options);
    }
}

/** A task was given up: `done(id)` rejects with this; `lastError` says why. */
export class TaskDeadError extends SluiceError {
    /** The task's id. */
    readonly taskId: number;
    /** The message of the last error its handler threw (or the timeout). */
    readonly lastError: string;

    constructor(taskId: number, lastError: string) {
        super("TASK_DEAD", `Task ${taskId} is dead: ${lastError}. tasks.retry(${taskId}) runs it again.`);
        this.taskId = taskId;
        this.lastError = lastError;
    }
}

/**
 * How an update was judged to be poison: `"observed-exit"` (its handler was
 * seen ending the process or thread: `process.exit`, an uncaught exception,
 * an unhandled rejection) or `"repeated-hard-deaths"` (what ran it died
 * without a trace each time it ran alone).
 */
export type Judgement = "observed-exit" | "repeated-hard-deaths";

/**
 * An update that keeps killing what handles it, given up. `distribute`
 * rejects with it after an update ended its worker thread `maxAttempts`
 * times; a handler may throw it too. Under `run(bot, { store })` an update
 * whose handling rejects with it goes to the journal's quarantine (see
 * `handle.journal.quarantined()`) instead of the error handler.
 */
export class PoisonUpdateError extends SluiceError {
    /** The update given up. */
    readonly updateId: number;
    /** How many times it was seen killing (observed exits plus deaths while it ran alone). */
    readonly attempts: number;
    /** Whether any of those deaths was seen to come from its handler (`"observed-exit"`). */
    readonly judgement: Judgement;
    /** How the last death it caused happened, e.g. `"uncaught exception: Error: boom"`. */
    readonly lastExit: string | undefined;

    constructor(updateId: number, verdict: { attempts: number; judgement: Judgement; lastExit: string | undefined }) {
        super(
            "POISON_UPDATE",
            `Update ${updateId} was given up: it ended the thread handling it ${verdict.attempts} times` +
                `${verdict.lastExit === undefined ? "" : ` (last: ${verdict.lastExit})`}. ` +
                "Fix the handler for updates like it; with a store it is in the quarantine (journal.quarantined()) to retry or drop.",
        );
        this.updateId = updateId;
        this.attempts = verdict.attempts;
        this.judgement = verdict.judgement;
        this.lastExit = verdict.lastExit;
    }
}

/** What crosses a thread boundary of an error: enough to read and log it. */
export interface WorkerErrorInfo {
    name: string;
    message: string;
    stack?: string;
}

/**
 * A worker thread's handler threw (or its own `bot.catch` rethrew) while
 * handling an update `distribute` sent it: the central bot's error handler
 * gets this, with the worker's error in `cause` (name, message and stack;
 * an error object itself cannot cross threads intact). Add `bot.catch` to
 * the worker bot to handle errors there instead.
 */
export class WorkerHandlerFailedError extends SluiceError {
    /** The update whose handler failed. */
    readonly updateId: number;

    constructor(updateId: number, error: WorkerErrorInfo) {
        const cause = Object.assign(new Error(error.message), { name: error.name, stack: error.stack });
        super(
            "WORKER_HANDLER_FAILED",
            `The worker thread's handler failed on update ${updateId}: ${error.name}: ${error.message}. ` +
                "Handle errors in the worker with bot.catch(), or here in the central bot's bot.catch().",
            { cause },
        );
        this.updateId = updateId;
    }
}

/**
 * The worker file given to `distribute` cannot run: its threads ended
 * before handling anything, several times in a row (a wrong path, a syntax
 * error, a throw while the file loads). Every update waiting for a thread is
 * rejected with it, and so are later ones: fix the file and start the bot again.
 */
export class WorkerFailedError extends SluiceError {
    constructor(specifier: string, lastExit: string | undefined) {
        super(
            "WORKER_FAILED",
            `The worker file ${specifier} could not be started: its threads ended before handling any update, ` +
                `several times in a row${lastExit === undefined ? "" : ` (last: ${lastExit})`}. ` +
                "Check that the path is right and that the file loads (node <file> shows the error), then restart the bot.",
        );
    }
}

/** `distribute`'s threads were closed while this update waited for (or ran on) one; it was not finished. */
export class WorkerClosedError extends SluiceError {
    constructor(updateId: number) {
        super(
            "WORKER_CLOSED",
            `Update ${updateId} was not finished: distribute's worker threads were closed. ` +
                "Stop the bot (which waits for running updates) before closing the threads.",
        );
    }
}

/** A `BotWorker` cannot poll: it gets its updates from `distribute` in the central bot. */
export class WorkerCannotPollError extends SluiceError {
    constructor(what: string) {
        super(
            "WORKER_CANNOT_POLL",
            `A BotWorker cannot ${what}: it handles the updates the central bot sends it with distribute(). ` +
                "Poll in the central bot (run(bot) with bot.use(distribute(workerFile))), not in the worker file.",
        );
    }
}
