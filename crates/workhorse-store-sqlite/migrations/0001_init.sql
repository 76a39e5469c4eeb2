-- Workhorse SQLite schema, version 1.
--
-- Timestamps are INTEGER microseconds since the Unix epoch; durations are INTEGER
-- microseconds. JSON payloads (args, kwargs, metadata, result) are TEXT stored verbatim as the
-- producer sent them. `errors` is a JSON array of every failed attempt's error.

CREATE TABLE jobs (
    -- Insertion order: FIFO among jobs of equal priority.
    seq               INTEGER PRIMARY KEY,
    id                BLOB NOT NULL UNIQUE,
    task              TEXT NOT NULL,
    queue             TEXT NOT NULL,
    -- Exactly the names of `workhorse_core::JobState::ALL` (a unit test checks this list).
    -- Written with OR rather than IN: SQLite builds a temporary table for a long IN list on
    -- every insert and update, which doubles their cost.
    state             TEXT NOT NULL
                      CHECK (state = 'scheduled' OR state = 'ready' OR state = 'running'
                             OR state = 'succeeded' OR state = 'dead' OR state = 'cancelled'
                             OR state = 'expired'),
    priority          INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
    args              TEXT NOT NULL,
    kwargs            TEXT NOT NULL,
    metadata          TEXT,
    attempt           INTEGER NOT NULL CHECK (attempt >= 0),
    max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
    backoff_base_ms   INTEGER NOT NULL,
    backoff_max_ms    INTEGER NOT NULL,
    timeout_us        INTEGER,
    key               TEXT,
    key_window_us     INTEGER,
    concurrency_key   TEXT,
    concurrency_limit INTEGER NOT NULL CHECK (concurrency_limit >= 1),
    progress          TEXT,
    result            TEXT,
    errors            TEXT NOT NULL,
    cancel_requested  INTEGER NOT NULL CHECK (cancel_requested IN (0, 1)),
    lease_id          BLOB,
    lease_worker      TEXT,
    lease_expires_at  INTEGER,
    created_at        INTEGER NOT NULL,
    run_at            INTEGER NOT NULL,
    expires_at        INTEGER,
    started_at        INTEGER,
    finished_at       INTEGER,
    -- A job holds a lease exactly while it runs.
    CHECK ((state = 'running') = (lease_id IS NOT NULL AND lease_worker IS NOT NULL AND lease_expires_at IS NOT NULL))
) STRICT;

-- Fetch: the head of each queue, highest priority first, FIFO among equals.
CREATE INDEX jobs_fetch ON jobs (queue, priority DESC, seq) WHERE state = 'ready';
-- Promote: scheduled jobs by due time.
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
-- Expire: waiting jobs by expiry. The predicate is Transition::Expire's source states in the
-- form the store's queries write them (sql.rs), or SQLite would not use the index.
CREATE INDEX jobs_expiring ON jobs (expires_at)
    WHERE expires_at IS NOT NULL AND (state = 'scheduled' OR state = 'ready');
-- Rescue: running jobs by lease deadline (also walked to find one worker's jobs when its
-- session closes: running jobs are few, and a worker index would cost every start).
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
-- max_running counts a queue's running jobs.
CREATE INDEX jobs_running_queue ON jobs (queue) WHERE state = 'running';
-- Unique keys.
CREATE INDEX jobs_key ON jobs (key) WHERE key IS NOT NULL;
-- Concurrency-key limits count running jobs per key.
CREATE INDEX jobs_concurrency ON jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
-- Retention: finished jobs by finish time.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- No index on (queue, state): it would cost two text-keyed B-tree seeks at every state
-- change. Queue counts are a read (a scan on a reader connection), never a write cost.

-- Queue controls, and the current fixed rate-limit window.
CREATE TABLE queues (
    name            TEXT PRIMARY KEY,
    paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    max_running     INTEGER CHECK (max_running >= 0),
    rate_limit      INTEGER CHECK (rate_limit >= 1),
    rate_period_us  INTEGER CHECK (rate_period_us >= 1),
    window_start    INTEGER,
    window_count    INTEGER NOT NULL DEFAULT 0,
    CHECK ((rate_limit IS NULL) = (rate_period_us IS NULL))
) STRICT, WITHOUT ROWID;
