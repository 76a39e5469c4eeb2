-- Workhorse SQLite schema, version 6: schedules owned by the app that declares them as a set,
-- and the task's options given to the jobs a schedule makes.

-- The app that declared the schedule with its set; NULL: made at run time.
ALTER TABLE schedules ADD COLUMN owner TEXT;
-- `workhorse_core::Backoff` as JSON; NULL (rows from before): the default backoff.
ALTER TABLE schedules ADD COLUMN backoff TEXT;
ALTER TABLE schedules ADD COLUMN expires_us INTEGER CHECK (expires_us > 0);
ALTER TABLE schedules ADD COLUMN concurrency_key TEXT;
ALTER TABLE schedules ADD COLUMN concurrency_limit INTEGER NOT NULL DEFAULT 1
    CHECK (concurrency_limit >= 1);
ALTER TABLE schedules ADD COLUMN metadata TEXT;

-- A set declaration finds the schedules its owner holds.
CREATE INDEX schedules_by_owner ON schedules (owner) WHERE owner IS NOT NULL;
