//! Test helpers: temp SQLite stores, spawning the real binary, job factories.
