-- Workhorse PostgreSQL schema, version 6: schedules owned by the app that declares them as a
-- set, and the task's options given to the jobs a schedule makes.

-- The app that declared the schedule with its set; NULL: made at run time.
ALTER TABLE workhorse_schedules ADD COLUMN owner text;
-- `workhorse_core::Backoff` as JSON; NULL (rows from before): the default backoff.
ALTER TABLE workhorse_schedules ADD COLUMN backoff text;
ALTER TABLE workhorse_schedules ADD COLUMN expires_us bigint CHECK (expires_us > 0);
ALTER TABLE workhorse_schedules ADD COLUMN concurrency_key text;
ALTER TABLE workhorse_schedules ADD COLUMN concurrency_limit integer NOT NULL DEFAULT 1
    CHECK (concurrency_limit >= 1);
ALTER TABLE workhorse_schedules ADD COLUMN metadata text;

-- A set declaration finds the schedules its owner holds.
CREATE INDEX workhorse_schedules_by_owner ON workhorse_schedules (owner)
    WHERE owner IS NOT NULL;
