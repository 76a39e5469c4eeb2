-- Workhorse PostgreSQL schema, version 5: the dashboard's reads cost a few rows or one page
-- of index with millions of jobs (issue #7). First, exact job counts per (queue, state) that
-- the overview reads in a few rows instead of counting every job.
--
-- Many nodes write jobs at once, so one counter row per (queue, state) would be a row every
-- writer of a queue waits for. Instead, each statement that inserts, moves or deletes jobs
-- appends its net change per (queue, state) to a log no one updates, and the counts are
-- the folded totals plus the log's sum. Folding (src/ops/counts.rs) moves the log into the
-- totals in one transaction, so a reader sees every change exactly once.

-- Totals up to the last fold. A row may hold 0 once its jobs have moved on.
CREATE TABLE workhorse_queue_counts (
    queue  text NOT NULL,
    state  text NOT NULL,
    jobs   bigint NOT NULL,
    PRIMARY KEY (queue, state)
);

-- Changes not folded yet. Append-only between folds; no index, so an append is a heap
-- write alone.
CREATE TABLE workhorse_queue_count_changes (
    queue  text NOT NULL,
    state  text NOT NULL,
    delta  bigint NOT NULL
);

-- Statement-level triggers see all the rows a statement changed at once (transition
-- tables): a batch of a thousand jobs appends a row or two, not a thousand. PostgreSQL
-- allows transition tables only on single-event triggers without column lists, hence one
-- function per event, each also fired by statements that change no state (heartbeats):
-- those append nothing.
CREATE FUNCTION workhorse_count_inserted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO workhorse_queue_count_changes (queue, state, delta)
        SELECT queue, state, count(*) FROM new_jobs GROUP BY queue, state;
    RETURN NULL;
END $$;

CREATE FUNCTION workhorse_count_updated() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO workhorse_queue_count_changes (queue, state, delta)
        SELECT queue, state, sum(delta) FROM (
            SELECT queue, state, -1 AS delta FROM old_jobs
            UNION ALL
            SELECT queue, state, 1 FROM new_jobs
        ) moved
        GROUP BY queue, state HAVING sum(delta) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION workhorse_count_deleted() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO workhorse_queue_count_changes (queue, state, delta)
        SELECT queue, state, -count(*) FROM old_jobs GROUP BY queue, state;
    RETURN NULL;
END $$;

-- Creating a trigger locks out writers of workhorse_jobs until this migration commits, so
-- the totals counted below miss no change and count none twice.
CREATE TRIGGER workhorse_jobs_count_inserted AFTER INSERT ON workhorse_jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION workhorse_count_inserted();
CREATE TRIGGER workhorse_jobs_count_updated AFTER UPDATE ON workhorse_jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION workhorse_count_updated();
CREATE TRIGGER workhorse_jobs_count_deleted AFTER DELETE ON workhorse_jobs
    REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION workhorse_count_deleted();

INSERT INTO workhorse_queue_counts (queue, state, jobs)
    SELECT queue, state, count(*) FROM workhorse_jobs GROUP BY queue, state;

-- The overview's oldest wait per queue: the earliest `run_at` among its ready jobs, one
-- index entry instead of a read of every ready job.
CREATE INDEX workhorse_jobs_ready_since ON workhorse_jobs (queue, run_at) WHERE state = 'ready';

-- A task's jobs, newest first: a rare task is found without walking every newer job. Not
-- free here as in SQLite: a state change writes a new row version into every index.
CREATE INDEX workhorse_jobs_task ON workhorse_jobs (task, id);
