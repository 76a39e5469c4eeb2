-- Workhorse PostgreSQL schema, version 1.
--
-- Timestamps are timestamptz (microsecond precision, as the Clock keeps them); durations are
-- bigint microseconds. JSON payloads (args, kwargs, metadata, result) are text kept verbatim
-- as the producer sent them: jsonb would re-order keys and drop duplicate ones. `errors` is
-- jsonb, an array of every failed attempt's error, written only by Workhorse.

CREATE TABLE workhorse_jobs (
    -- Insertion order: FIFO among jobs of equal priority. Not indexed on its own: every
    -- index on all rows costs a write at every state change.
    seq               bigserial NOT NULL,
    id                uuid PRIMARY KEY,
    task              text NOT NULL,
    queue             text NOT NULL,
    -- Exactly the names of `workhorse_core::JobState::ALL` (a unit test checks this list).
    state             text NOT NULL
                      CHECK (state IN ('scheduled', 'ready', 'running', 'succeeded', 'dead', 'cancelled', 'expired')),
    priority          smallint NOT NULL CHECK (priority BETWEEN 0 AND 9),
    args              text NOT NULL,
    kwargs            text NOT NULL,
    metadata          text,
    attempt           integer NOT NULL CHECK (attempt >= 0),
    max_attempts      integer NOT NULL CHECK (max_attempts >= 1),
    backoff_base_ms   bigint NOT NULL,
    backoff_max_ms    bigint NOT NULL,
    timeout_us        bigint,
    key               text,
    key_window_us     bigint,
    concurrency_key   text,
    concurrency_limit integer NOT NULL CHECK (concurrency_limit >= 1),
    progress_fraction double precision,
    progress_message  text,
    result            text,
    errors            jsonb NOT NULL DEFAULT '[]',
    cancel_requested  boolean NOT NULL DEFAULT false,
    lease_id          uuid,
    lease_worker      text,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL,
    run_at            timestamptz NOT NULL,
    expires_at        timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz,
    -- A job holds a lease exactly while it runs.
    CHECK ((state = 'running') = (lease_id IS NOT NULL AND lease_worker IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- Fetch: the head of each queue, highest priority first, FIFO among equals.
CREATE INDEX workhorse_jobs_fetch ON workhorse_jobs (queue, priority DESC, seq) WHERE state = 'ready';
-- Promote: scheduled jobs by due time.
CREATE INDEX workhorse_jobs_scheduled ON workhorse_jobs (run_at) WHERE state = 'scheduled';
-- Expire: waiting jobs by expiry (the predicate is Transition::Expire's source states).
CREATE INDEX workhorse_jobs_expiring ON workhorse_jobs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'ready');
-- Rescue: running jobs by lease deadline. Rescuing a worker's jobs when its session closes
-- scans this index too: running jobs are few (bounded by worker concurrency), and one index
-- less is one write less at every start.
CREATE INDEX workhorse_jobs_leases ON workhorse_jobs (lease_expires_at) WHERE state = 'running';
-- Unique keys.
CREATE INDEX workhorse_jobs_key ON workhorse_jobs (key) WHERE key IS NOT NULL;
-- Concurrency-key limits count running jobs per key.
CREATE INDEX workhorse_jobs_concurrency ON workhorse_jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
-- Retention: finished jobs by finish time.
CREATE INDEX workhorse_jobs_finished ON workhorse_jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Listing by queue and state, newest (highest id) first; queue counts, and the running
-- count that max_running checks.
CREATE INDEX workhorse_jobs_queue_state ON workhorse_jobs (queue, state, id);

-- Queue controls, and the current fixed rate-limit window.
CREATE TABLE workhorse_queues (
    name            text PRIMARY KEY,
    paused          boolean NOT NULL DEFAULT false,
    max_running     integer CHECK (max_running >= 0),
    rate_limit      integer CHECK (rate_limit >= 1),
    rate_period_us  bigint CHECK (rate_period_us >= 1),
    window_start    timestamptz,
    window_count    integer NOT NULL DEFAULT 0,
    CHECK ((rate_limit IS NULL) = (rate_period_us IS NULL))
);
