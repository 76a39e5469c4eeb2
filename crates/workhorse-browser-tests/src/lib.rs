//! Browser tests of the dashboard. [`Browser`] runs Debian's `chromedriver` on a free port
//! and drives a fresh headless Chromium through it; [`TestServer`] runs the real server
//! in-process over a `SQLite` store in a temp dir, with HTTP helpers that play producer and
//! worker. Every wait polls a condition until a deadline: no test sleeps and hopes.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them).

mod browser;
mod server;

pub use browser::Browser;
pub use server::{SocketWorker, TestServer};

use std::time::Duration;

/// How long a test waits for the page to show what it expects. Generous: two cores are
/// shared with the compiler and with Chromium, and waits end as soon as the page is right.
pub const DEADLINE: Duration = Duration::from_secs(30);
