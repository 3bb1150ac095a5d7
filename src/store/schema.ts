/**
 * The one schema of a sluice store, as numbered migrations. `PRAGMA
 * user_version` records how many have run; a store opened by an older sluice
 * than the one that wrote it is refused rather than misread.
 */
export const MIGRATIONS: readonly string[] = [
    // 1: the journal
    `
    CREATE TABLE journal_batches (
        id      INTEGER PRIMARY KEY,
        bot_id  INTEGER NOT NULL,
        updates TEXT    NOT NULL,  -- the batch in update_id order: MessagePack (a BLOB, see journal/batch-encoding.ts), JSON text before 0.2
        done    BLOB    NOT NULL   -- one bit per update of the batch: its handler has ended
    );
    CREATE INDEX journal_batches_by_bot ON journal_batches (bot_id, id);
    CREATE TABLE journal_replays (
        bot_id    INTEGER NOT NULL,
        update_id INTEGER NOT NULL,
        replays   INTEGER NOT NULL,  -- times it was started again after a restart without finishing
        PRIMARY KEY (bot_id, update_id)
    ) WITHOUT ROWID;
    CREATE TABLE journal_offsets (
        bot_id      INTEGER PRIMARY KEY,
        next_offset INTEGER NOT NULL   -- what the next getUpdates sends; confirms everything below
    );
    CREATE TABLE journal_quarantine (
        bot_id         INTEGER NOT NULL,
        update_id      INTEGER NOT NULL,
        payload        TEXT    NOT NULL,
        chat_id        INTEGER,
        attempts       INTEGER NOT NULL,
        quarantined_at INTEGER NOT NULL,  -- unix milliseconds
        PRIMARY KEY (bot_id, update_id)
    ) WITHOUT ROWID;
    CREATE TABLE owners (
        bot_id       INTEGER NOT NULL,
        role         TEXT    NOT NULL,    -- what the owner does for the bot: journal, outbox
        pid          INTEGER NOT NULL,
        host         TEXT    NOT NULL,
        heartbeat_at INTEGER NOT NULL,    -- unix milliseconds, refreshed while the owner runs
        PRIMARY KEY (bot_id, role)
    );
    `,
    // 2: the outbox
    `
    CREATE TABLE outbox_messages (
        id              INTEGER PRIMARY KEY,
        bot_id          INTEGER NOT NULL,
        chat_key        TEXT    NOT NULL,  -- chat_id as text: calls to one chat leave in id order
        method          TEXT    NOT NULL,
        payload         TEXT    NOT NULL,  -- JSON
        priority        INTEGER NOT NULL,  -- 0 high, 1 normal, 2 low
        not_before      INTEGER NOT NULL,  -- unix milliseconds
        idempotency_key TEXT,
        state           TEXT    NOT NULL,  -- queued | sent | dead | cancelled
        attempts        INTEGER NOT NULL DEFAULT 0,
        result          TEXT,              -- Telegram's result (JSON), once sent
        error           TEXT,              -- Telegram's description, once dead
        error_class     TEXT,              -- e.g. blocked_by_user, chat_not_found
        created_at      INTEGER NOT NULL,
        finished_at     INTEGER
    );
    CREATE UNIQUE INDEX outbox_by_idempotency_key ON outbox_messages (bot_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX outbox_by_state ON outbox_messages (bot_id, state, id);
    `,
    // 3: cheaper journal writes. A batch row carries the offset it confirms, so an
    // append is one INSERT, and journal_offsets keeps the offset of batches already
    // deleted (the stored offset is the larger of the two). Done bits move to their
    // own small rows, so marking an update done no longer rewrites the whole batch.
    `
    ALTER TABLE journal_batches ADD COLUMN next_offset INTEGER;  -- what getUpdates sends after this batch; NULL for a retried quarantined update
    CREATE TABLE journal_done (
        batch_id INTEGER PRIMARY KEY,  -- journal_batches.id; no row: none of the batch is done yet
        done     BLOB    NOT NULL      -- one bit per update of the batch: its handler has ended
    );
    INSERT INTO journal_done (batch_id, done) SELECT id, done FROM journal_batches;
    ALTER TABLE journal_batches DROP COLUMN done;
    `,
    // 4: evidence instead of suspicion (see journal/attempts.ts). Each run of a bot's journal is a
    // numbered life; a life that ended without explaining itself is a death with no record. Per
    // unfinished update: deaths it was running at, deaths while it ran alone in a trial, and observed
    // exits its own handler caused. Replay counts of schema 3 become deaths.
    `
    CREATE TABLE journal_lives (
        bot_id  INTEGER PRIMARY KEY,
        life    INTEGER NOT NULL,            -- the current (or last) life of the bot's journal
        settled INTEGER NOT NULL,            -- the last life whose end is explained: closed, or an exit charged to an update
        logged  INTEGER NOT NULL DEFAULT 1,  -- 0: this life's start log could not be written, so it is not trusted
        trial   INTEGER NOT NULL DEFAULT 0   -- 1: suspects are running alone right now; 2: with others still running
    );
    CREATE TABLE journal_attempts (
        bot_id     INTEGER NOT NULL,
        update_id  INTEGER NOT NULL,
        deaths     INTEGER NOT NULL DEFAULT 0,  -- unexplained deaths of the process while it was running
        alone      INTEGER NOT NULL DEFAULT 0,  -- of those, deaths while it ran alone in a trial
        exits      INTEGER NOT NULL DEFAULT 0,  -- observed exits its own handler caused
        last_exit  TEXT,                        -- how the last of those exits happened
        tried_life INTEGER,                     -- the life in which it last started in a trial
        PRIMARY KEY (bot_id, update_id)
    ) WITHOUT ROWID;
    INSERT INTO journal_attempts (bot_id, update_id, deaths) SELECT bot_id, update_id, replays FROM journal_replays;
    DROP TABLE journal_replays;
    ALTER TABLE journal_quarantine ADD COLUMN judgement TEXT;  -- observed-exit | repeated-hard-deaths; NULL before schema 4
    ALTER TABLE journal_quarantine ADD COLUMN last_exit TEXT;
    `,
    // 5: a dead letter keeps Telegram's own answer, not only its description.
    `
    ALTER TABLE outbox_messages ADD COLUMN error_code INTEGER;  -- Telegram's error_code; NULL after network errors or when cancelled
    ALTER TABLE outbox_messages ADD COLUMN error_parameters TEXT;  -- Telegram's parameters (JSON), if any
    `,
    // 6: a queue that scales to a million chats, and campaigns (see docs/ARCHITECTURE.md, "The
    // outbox's queue"). Each chat with queued messages has one head row: its oldest queued message
    // and the earliest time that message may leave; the dispatcher reads only ready heads, by
    // priority and time, from an index. Indexes over all messages by state give way to partial
    // ones, so a queued message is written to three B-trees, not four.
    `
    CREATE TABLE outbox_heads (
        bot_id     INTEGER NOT NULL,
        chat_key   TEXT    NOT NULL,
        message_id INTEGER NOT NULL,  -- the chat's oldest queued message
        priority   INTEGER NOT NULL,  -- that message's
        ready_at   INTEGER NOT NULL,  -- unix ms: not before the message's not_before, nor before the chat's limit admits it
        PRIMARY KEY (bot_id, chat_key)
    ) WITHOUT ROWID;
    CREATE INDEX outbox_heads_by_ready ON outbox_heads (bot_id, priority, ready_at, message_id);
    ALTER TABLE outbox_messages ADD COLUMN campaign_id INTEGER;  -- the campaign it belongs to, if any
    ALTER TABLE outbox_messages ADD COLUMN recipient INTEGER;    -- a campaign message's recipient (kept when its group migrates)
    CREATE INDEX outbox_queued_by_chat ON outbox_messages (bot_id, chat_key, id) WHERE state = 'queued';
    CREATE INDEX outbox_queued_by_campaign ON outbox_messages (campaign_id) WHERE state = 'queued' AND campaign_id IS NOT NULL;
    CREATE INDEX outbox_dead ON outbox_messages (bot_id, id) WHERE state = 'dead';
    CREATE INDEX outbox_finished ON outbox_messages (bot_id, finished_at) WHERE state IN ('sent', 'cancelled');
    DROP INDEX outbox_by_state;
    INSERT INTO outbox_heads (bot_id, chat_key, message_id, priority, ready_at)
        SELECT bot_id, chat_key, id, priority, not_before FROM outbox_messages AS m
        WHERE state = 'queued' AND id = (SELECT MIN(id) FROM outbox_messages
                                         WHERE bot_id = m.bot_id AND chat_key = m.chat_key AND state = 'queued');
    CREATE TABLE outbox_unreachable (
        bot_id   INTEGER NOT NULL,
        chat_key TEXT    NOT NULL,
        reason   TEXT    NOT NULL,  -- the error class of the answer: blocked_by_user, user_deactivated, chat_not_found
        since    INTEGER NOT NULL,  -- unix ms
        PRIMARY KEY (bot_id, chat_key)
    ) WITHOUT ROWID;
    CREATE TABLE campaigns (
        id           INTEGER PRIMARY KEY,
        bot_id       INTEGER NOT NULL,
        name         TEXT    NOT NULL,
        message      TEXT    NOT NULL,  -- JSON: what every recipient gets (a template, a text, or a method and payload)
        priority     INTEGER NOT NULL,
        state        TEXT    NOT NULL,  -- draft | scheduled | running | paused | cancelled | finished
        paused_by    TEXT,              -- user | budget
        start_at     INTEGER,           -- unix ms
        total        INTEGER NOT NULL DEFAULT 0,  -- recipients added; pending = total - sent - failed - skipped
        sent         INTEGER NOT NULL DEFAULT 0,
        failed       INTEGER NOT NULL DEFAULT 0,
        skipped      INTEGER NOT NULL DEFAULT 0,
        budget_stars INTEGER,           -- a paid broadcast pauses when it has spent this much
        spent_tenths INTEGER NOT NULL DEFAULT 0,  -- Stars spent, in tenths (a paid message costs 0.1)
        created_at   INTEGER NOT NULL,
        started_at   INTEGER,
        finished_at  INTEGER
    );
    CREATE INDEX campaigns_by_bot ON campaigns (bot_id, id);
    CREATE TABLE campaign_recipients (
        campaign_id INTEGER NOT NULL,
        chat_id     INTEGER NOT NULL,
        locale      TEXT,
        vars        TEXT,               -- JSON, this recipient's own variables
        state       INTEGER NOT NULL DEFAULT 0,  -- 0 pending, 1 queued, 2 sent, 3 failed, 4 skipped
        PRIMARY KEY (campaign_id, chat_id)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_recipients_pending ON campaign_recipients (campaign_id, chat_id) WHERE state = 0;
    CREATE TABLE campaign_outcomes (
        campaign_id INTEGER NOT NULL,
        class       TEXT    NOT NULL,  -- an error class of failed recipients, or why recipients were skipped
        count       INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, class)
    ) WITHOUT ROWID;
    `,
    // 7: durable tasks (src/tasks/): the user's own background work, scheduled like outbox messages by
    // the time they are due, per task name, from a partial index of the queued ones.
    `
    CREATE TABLE tasks (
        id              INTEGER PRIMARY KEY,
        bot_id          INTEGER NOT NULL,  -- 0 for tasks of createTasks without a bot
        name            TEXT    NOT NULL,  -- which handler runs it
        payload         TEXT    NOT NULL,  -- JSON
        state           TEXT    NOT NULL,  -- queued | done | dead (a running task is queued: a kill runs it again)
        attempts        INTEGER NOT NULL DEFAULT 0,  -- runs that ended in a throw or a timeout
        max_attempts    INTEGER,           -- NULL: retried until it succeeds
        timeout_ms      INTEGER,           -- NULL: no timeout
        ready_at        INTEGER NOT NULL,  -- unix ms: due then
        idempotency_key TEXT,
        result          TEXT,              -- the handler's result (JSON), once done
        error           TEXT,              -- the last error, once it failed
        created_at      INTEGER NOT NULL,
        finished_at     INTEGER
    );
    CREATE UNIQUE INDEX tasks_by_key ON tasks (bot_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX tasks_due ON tasks (bot_id, name, ready_at) WHERE state = 'queued';
    CREATE INDEX tasks_dead ON tasks (bot_id, id) WHERE state = 'dead';
    CREATE INDEX tasks_done ON tasks (bot_id, finished_at) WHERE state = 'done';
    `,
    // 8: the \`sluice\` command works on a store while a bot owns it. It cannot hand an update to that
    // bot's handlers, so it asks: the owning journal retries marked updates within a second.
    `
    ALTER TABLE journal_quarantine ADD COLUMN retry_requested_at INTEGER;  -- unix ms; NULL unless asked
    `,
];
