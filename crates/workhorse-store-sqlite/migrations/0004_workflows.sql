-- Workhorse SQLite schema, version 4: workflows (version 3 is the queue counts').
--
-- The workflow a job belongs to; how many of its parents have not finished yet; and how it
-- receives their results once they have ('one': the single parent's result, 'list': the list
-- of them, NULL: not at all). See `workhorse_core::workflow`.
ALTER TABLE jobs ADD COLUMN workflow_id BLOB;
ALTER TABLE jobs ADD COLUMN pending_parents INTEGER NOT NULL DEFAULT 0 CHECK (pending_parents >= 0);
ALTER TABLE jobs ADD COLUMN pass_results TEXT CHECK (pass_results = 'one' OR pass_results = 'list');

-- A workflow's jobs, for reading it back and cancelling it.
CREATE INDEX jobs_workflow ON jobs (workflow_id) WHERE workflow_id IS NOT NULL;

CREATE TABLE workflows (
    id                 BLOB PRIMARY KEY,
    created_at         INTEGER NOT NULL,
    on_parent_failure  TEXT NOT NULL CHECK (on_parent_failure = 'cancel' OR on_parent_failure = 'run_anyway'),
    -- The jobs whose results are the workflow's result (a JSON array of ids), and whether
    -- that result is one of them ('one') or the list ('list').
    outputs            TEXT NOT NULL,
    output             TEXT NOT NULL CHECK (output = 'one' OR output = 'list'),
    -- The tree the workflow was built from, as sent (for display).
    shape              TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- `job` waits for `parent`; `position` orders the results passed to `job`. `settled` is set
-- once the parent's finish was counted, so a parent that finishes twice (redriven after a
-- failure under `run_anyway`) is never counted twice.
CREATE TABLE job_dependencies (
    job       BLOB NOT NULL,
    parent    BLOB NOT NULL,
    position  INTEGER NOT NULL CHECK (position >= 0),
    settled   INTEGER NOT NULL DEFAULT 0 CHECK (settled IN (0, 1)),
    PRIMARY KEY (job, parent)
) STRICT, WITHOUT ROWID;

-- Fan-in: the dependants of a job that just finished.
CREATE INDEX job_dependencies_parent ON job_dependencies (parent);

-- Retention deletes finished jobs; their edges go with them, and a workflow goes with its
-- last job. Only jobs of workflows pay for this.
CREATE TRIGGER jobs_delete_workflow_job AFTER DELETE ON jobs
WHEN old.workflow_id IS NOT NULL
BEGIN
    DELETE FROM job_dependencies WHERE job = old.id;
    DELETE FROM workflows WHERE id = old.workflow_id
        AND NOT EXISTS (SELECT 1 FROM jobs WHERE workflow_id = old.workflow_id);
END;

-- A job of a workflow may wait for parent jobs: the state check gains 'waiting'. SQLite
-- cannot alter a CHECK constraint; allowing one more value, which every existing row
-- satisfies, is a change SQLite's documentation ("ALTER TABLE: making other kinds of table
-- schema changes") allows to be made by editing the stored schema text. The store reopens
-- its connection after migrating, so the new text is parsed before any write. This comes
-- last: ADD COLUMN edits the schema text at offsets taken from the parsed (old) text.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'OR state = ''expired'')', 'OR state = ''expired'' OR state = ''waiting'')')
 WHERE type = 'table' AND name = 'jobs';
PRAGMA writable_schema = OFF;
