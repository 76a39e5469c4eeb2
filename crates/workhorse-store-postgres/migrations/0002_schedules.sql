-- Workhorse PostgreSQL schema, version 2: schedules, their fire history, and the schedule a
-- job was made by.

-- The schedule that made a job and the fire time it runs for (NULL for other jobs).
ALTER TABLE workhorse_jobs ADD COLUMN schedule text;
ALTER TABLE workhorse_jobs ADD COLUMN scheduled_for timestamptz;

CREATE TABLE workhorse_schedules (
    name          text PRIMARY KEY,
    -- `workhorse_core::ScheduleSpec` as its tagged JSON.
    spec          text NOT NULL,
    task          text NOT NULL,
    queue         text NOT NULL,
    priority      smallint NOT NULL CHECK (priority BETWEEN 0 AND 9),
    args          text NOT NULL,
    kwargs        text NOT NULL,
    max_attempts  integer NOT NULL CHECK (max_attempts >= 1),
    timeout_us    bigint,
    -- `workhorse_core::Misfire` as JSON: "coalesce", "skip" or {"all":{"max":N}}.
    misfire       text NOT NULL,
    grace_us      bigint NOT NULL CHECK (grace_us >= 0),
    overlap       text NOT NULL CHECK (overlap IN ('allow', 'skip')),
    paused        boolean NOT NULL,
    next_fire_at  timestamptz,
    last_fire_at  timestamptz,
    last_job      uuid,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- The firer: unpaused schedules by next fire time.
CREATE INDEX workhorse_schedules_due ON workhorse_schedules (next_fire_at)
    WHERE NOT paused AND next_fire_at IS NOT NULL;

-- Recent fires of each schedule: the job each made, or why it was skipped.
CREATE TABLE workhorse_schedule_fires (
    seq        bigserial PRIMARY KEY,
    schedule   text NOT NULL,
    fire_at    timestamptz NOT NULL,
    job_id     uuid,
    skipped    text,
    triggered  boolean NOT NULL,
    CHECK ((job_id IS NULL) <> (skipped IS NULL))
);

CREATE INDEX workhorse_schedule_fires_by_schedule ON workhorse_schedule_fires (schedule, seq);
