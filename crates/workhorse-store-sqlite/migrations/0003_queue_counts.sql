-- Workhorse SQLite schema, version 3: what the dashboard reads stays fast with millions of
-- jobs, for no more work per job than before (instructions counted with callgrind on
-- store_bench: -9% per start, +7% per ack, +1% per insert; -0.1% per job over all three).

-- Exact job counts per (queue, state): the overview and the queue gauges read a few rows
-- instead of counting every job, and max_running reads its queue's running count here. The
-- writer keeps them in the transaction of the change they count (src/counts.rs explains how,
-- and why not with triggers). A row may hold 0 once its jobs have moved on or been deleted.
CREATE TABLE queue_counts (
    queue  TEXT NOT NULL,
    state  TEXT NOT NULL,
    jobs   INTEGER NOT NULL,
    PRIMARY KEY (queue, state)
) STRICT, WITHOUT ROWID;

INSERT INTO queue_counts (queue, state, jobs)
    SELECT queue, state, count(*) FROM jobs GROUP BY queue, state;

-- The running count max_running checks is in queue_counts now: one index less to write at
-- every start and every finish.
DROP INDEX jobs_running_queue;

-- Fetch order as before, with `run_at` carried in the index: the oldest ready job of a queue
-- (`min(run_at)`) is read from the index alone, never from the table.
DROP INDEX jobs_fetch;
CREATE INDEX jobs_fetch ON jobs (queue, priority DESC, seq, run_at) WHERE state = 'ready';

-- Finished jobs by queue and state, newest first: a page of succeeded jobs or of dead letters
-- (of one queue, or merged over the queues that have some) reads a page of this index,
-- however many newer jobs are in other queues or states. Written once per job, when it
-- finishes (its predicate is that of jobs_finished: a job has `finished_at` exactly while it
-- is in a terminal state).
CREATE INDEX jobs_terminal ON jobs (queue, state, id) WHERE finished_at IS NOT NULL;
