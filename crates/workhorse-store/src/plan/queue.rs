//! A queue's controls as a store read them: how many more jobs may start (`max_running`
//! and the rate limit), and the rate-limit window to store after a fetch started some.

use workhorse_core::{QueueConfig, RateLimit, Timestamp, clock};

/// A queue's controls and its current rate-limit window.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueControls {
    pub config: QueueConfig,
    /// When the current fixed window began (its first start).
    pub window_start: Option<Timestamp>,
    /// Starts within that window.
    pub window_count: u32,
}

/// A fixed rate-limit window: when it began, and the starts counted in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub start: Timestamp,
    pub count: u32,
}

impl QueueControls {
    /// The controls of a queue with no settings.
    pub fn defaults(name: &str) -> QueueControls {
        QueueControls {
            config: QueueConfig {
                name: name.to_owned(),
                ..QueueConfig::default()
            },
            window_start: None,
            window_count: 0,
        }
    }

    /// Whether fetches from the queue must take turns (a limit spans all fetchers).
    pub fn is_limited(&self) -> bool {
        self.config.max_running.is_some() || self.config.rate_limit.is_some()
    }

    /// How many more jobs may start at `now` with `running` jobs of the queue running (a
    /// store need only count them when `max_running` is set); `None` without a limit.
    pub fn room(&self, now: Timestamp, running: u32) -> Option<u32> {
        let running_room = self
            .config
            .max_running
            .map(|max| max.saturating_sub(running));
        match (running_room, self.rate_room(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many more jobs the rate limit lets start at `now`; `None` without a limit.
    pub fn rate_room(&self, now: Timestamp) -> Option<u32> {
        let rate = self.config.rate_limit?;
        Some(rate.limit.saturating_sub(self.window_at(now, rate).count))
    }

    /// The window to store once `started` more jobs started at `now`; `None` when there is
    /// nothing to store (no rate limit, or nothing started).
    pub fn window_after(&self, started: u32, now: Timestamp) -> Option<RateWindow> {
        let rate = self.config.rate_limit?;
        if started == 0 {
            return None;
        }
        let window = self.window_at(now, rate);
        Some(RateWindow {
            start: window.start,
            count: window.count + started,
        })
    }

    /// The window in force at `now`: the current one, or a new one starting now.
    fn window_at(&self, now: Timestamp, rate: RateLimit) -> RateWindow {
        match self.window_start {
            Some(start) if now < clock::add(start, rate.period) => RateWindow {
                start,
                count: self.window_count,
            },
            _ => RateWindow {
                start: now,
                count: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> Timestamp {
        clock::add(Timestamp::UNIX_EPOCH, Duration::from_secs(secs))
    }

    fn limited(max_running: Option<u32>, rate: Option<(u32, u64)>) -> QueueControls {
        let mut controls = QueueControls::defaults("q");
        controls.config.max_running = max_running;
        controls.config.rate_limit = rate.map(|(limit, secs)| RateLimit {
            limit,
            period: Duration::from_secs(secs),
        });
        controls
    }

    #[test]
    fn a_queue_without_limits_has_no_bound() {
        let controls = QueueControls::defaults("q");
        assert!(!controls.is_limited());
        assert_eq!(controls.room(at(0), 1_000), None);
        assert_eq!(controls.window_after(5, at(0)), None);
    }

    #[test]
    fn room_is_the_tighter_limit() {
        assert_eq!(limited(Some(3), None).room(at(0), 1), Some(2));
        assert_eq!(limited(Some(3), None).room(at(0), 5), Some(0));
        assert_eq!(limited(None, Some((4, 60))).room(at(0), 99), Some(4));
        assert_eq!(limited(Some(3), Some((4, 60))).room(at(0), 0), Some(3));
        assert_eq!(limited(Some(9), Some((4, 60))).room(at(0), 0), Some(4));
        assert!(limited(Some(1), None).is_limited());
        assert!(limited(None, Some((1, 1))).is_limited());
    }

    #[test]
    fn starts_count_within_the_window_until_it_ends() {
        let mut controls = limited(None, Some((5, 60)));
        assert_eq!(controls.window_after(0, at(10)), None);
        let first = controls.window_after(2, at(10)).expect("a window");
        assert_eq!(
            first,
            RateWindow {
                start: at(10),
                count: 2
            }
        );
        controls.window_start = Some(first.start);
        controls.window_count = first.count;
        assert_eq!(controls.rate_room(at(69)), Some(3));
        assert_eq!(
            controls.window_after(3, at(69)),
            Some(RateWindow {
                start: at(10),
                count: 5
            })
        );
        // The window ends 60 s after its first start: a new one begins.
        assert_eq!(controls.rate_room(at(70)), Some(5));
        assert_eq!(
            controls.window_after(1, at(70)),
            Some(RateWindow {
                start: at(70),
                count: 1
            })
        );
    }

    #[test]
    fn a_full_window_leaves_no_room() {
        let mut controls = limited(None, Some((2, 60)));
        controls.window_start = Some(at(0));
        controls.window_count = 3;
        assert_eq!(controls.rate_room(at(1)), Some(0));
    }
}
