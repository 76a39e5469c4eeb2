//! The embedded Workhorse store: SQLite in WAL mode, one writer thread that group-commits.
