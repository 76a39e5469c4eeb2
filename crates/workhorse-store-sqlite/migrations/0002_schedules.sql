-- Workhorse SQLite schema, version 2: schedules, their fire history, and the schedule a job
-- was made by.

-- The schedule that made a job and the fire time it runs for (NULL for other jobs).
ALTER TABLE jobs ADD COLUMN schedule TEXT;
ALTER TABLE jobs ADD COLUMN scheduled_for INTEGER;

CREATE TABLE schedules (
    name          TEXT PRIMARY KEY,
    -- `workhorse_core::ScheduleSpec` as its tagged JSON.
    spec          TEXT NOT NULL,
    task          TEXT NOT NULL,
    queue         TEXT NOT NULL,
    priority      INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
    args          TEXT NOT NULL,
    kwargs        TEXT NOT NULL,
    max_attempts  INTEGER NOT NULL CHECK (max_attempts >= 1),
    timeout_us    INTEGER,
    -- `workhorse_core::Misfire` as JSON: "coalesce", "skip" or {"all":{"max":N}}.
    misfire       TEXT NOT NULL,
    grace_us      INTEGER NOT NULL CHECK (grace_us >= 0),
    overlap       TEXT NOT NULL CHECK (overlap = 'allow' OR overlap = 'skip'),
    paused        INTEGER NOT NULL CHECK (paused IN (0, 1)),
    next_fire_at  INTEGER,
    last_fire_at  INTEGER,
    last_job      BLOB,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The firer: unpaused schedules by next fire time.
CREATE INDEX schedules_due ON schedules (next_fire_at)
    WHERE paused = 0 AND next_fire_at IS NOT NULL;

-- Recent fires of each schedule: the job each made, or why it was skipped.
CREATE TABLE schedule_fires (
    seq        INTEGER PRIMARY KEY,
    schedule   TEXT NOT NULL,
    fire_at    INTEGER NOT NULL,
    job_id     BLOB,
    skipped    TEXT,
    triggered  INTEGER NOT NULL CHECK (triggered IN (0, 1)),
    CHECK ((job_id IS NULL) <> (skipped IS NULL))
) STRICT;

CREATE INDEX schedule_fires_by_schedule ON schedule_fires (schedule, seq);
