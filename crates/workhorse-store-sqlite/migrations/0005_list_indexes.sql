-- Workhorse SQLite schema, version 5: two more dashboard pages cost one page of index with
-- millions of jobs (issue #7).

-- A queue's ready jobs, newest first. `jobs_fetch` holds the same jobs in run order, so a
-- big backlog could only be listed newest first by sorting all of it or by walking every
-- newer job of every queue. Written when a job becomes ready and when it starts: the
-- write cost is measured in docs/dashboard.md.
CREATE INDEX jobs_ready ON jobs (queue, id) WHERE state = 'ready';

-- A task's jobs, newest first: a rare task is found without walking every newer job. A
-- job's task never changes, so only inserts and retention's deletes write this index.
CREATE INDEX jobs_task ON jobs (task, id);
