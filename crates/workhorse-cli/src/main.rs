//! The `workhorse` command line.
fn main() {}
