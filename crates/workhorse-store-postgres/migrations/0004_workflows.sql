-- Workhorse PostgreSQL schema, version 4: workflows (version 3 is the queue counts').

-- A job of a workflow may wait for parent jobs: the state check gains 'waiting'.
ALTER TABLE workhorse_jobs DROP CONSTRAINT workhorse_jobs_state_check;
ALTER TABLE workhorse_jobs ADD CONSTRAINT workhorse_jobs_state_check
    CHECK (state IN ('scheduled', 'ready', 'running', 'succeeded', 'dead', 'cancelled', 'expired', 'waiting'));

-- The workflow a job belongs to; how many of its parents have not finished yet; and how it
-- receives their results once they have ('one': the single parent's result, 'list': the list
-- of them, NULL: not at all). See `workhorse_core::workflow`.
ALTER TABLE workhorse_jobs
    ADD COLUMN workflow_id uuid,
    ADD COLUMN pending_parents integer NOT NULL DEFAULT 0 CHECK (pending_parents >= 0),
    ADD COLUMN pass_results text CHECK (pass_results IN ('one', 'list'));

-- A workflow's jobs, for reading it back and cancelling it.
CREATE INDEX workhorse_jobs_workflow ON workhorse_jobs (workflow_id) WHERE workflow_id IS NOT NULL;

CREATE TABLE workhorse_workflows (
    id                 uuid PRIMARY KEY,
    created_at         timestamptz NOT NULL,
    on_parent_failure  text NOT NULL CHECK (on_parent_failure IN ('cancel', 'run_anyway')),
    -- The jobs whose results are the workflow's result, and whether that result is one of
    -- them ('one') or the list ('list').
    outputs            uuid[] NOT NULL,
    output             text NOT NULL CHECK (output IN ('one', 'list')),
    -- The tree the workflow was built from, as sent (for display).
    shape              text NOT NULL
);

-- `job` waits for `parent`; `position` orders the results passed to `job`. `settled` is set
-- once the parent's finish was counted, so a parent that finishes twice (redriven after a
-- failure under `run_anyway`) is never counted twice.
CREATE TABLE workhorse_job_dependencies (
    job       uuid NOT NULL,
    parent    uuid NOT NULL,
    position  integer NOT NULL CHECK (position >= 0),
    settled   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job, parent)
);

-- Fan-in: the dependants of a job that just finished.
CREATE INDEX workhorse_job_dependencies_parent ON workhorse_job_dependencies (parent);

-- Retention deletes finished jobs; their edges go with them, and a workflow goes with its
-- last job. Only jobs of workflows pay for this.
CREATE FUNCTION workhorse_delete_workflow_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM workhorse_job_dependencies WHERE job = OLD.id;
    DELETE FROM workhorse_workflows WHERE id = OLD.workflow_id
        AND NOT EXISTS (SELECT 1 FROM workhorse_jobs WHERE workflow_id = OLD.workflow_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER workhorse_jobs_delete_workflow_job AFTER DELETE ON workhorse_jobs
    FOR EACH ROW WHEN (OLD.workflow_id IS NOT NULL)
    EXECUTE FUNCTION workhorse_delete_workflow_job();
