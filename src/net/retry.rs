//! The retry budget shared by every network call: attempts, an overall
//! deadline, and exponential backoff with full jitter.

use std::time::{Duration, Instant};

/// How many times and for how long a call may be tried.
#[derive(Clone, Debug)]
pub struct Budget {
    pub max_attempts: u32,
    pub deadline: Instant,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// How long one attempt may wait for an answer: a third of the whole budget (1-20 s),
    /// so that a server that hangs once still leaves time to try again.
    pub attempt_timeout: Duration,
}

impl Budget {
    pub fn new(max_attempts: u32, timeout: Duration, base_delay: Duration) -> Budget {
        Budget {
            max_attempts: max_attempts.max(1),
            deadline: Instant::now() + timeout,
            base_delay,
            max_delay: Duration::from_secs(20),
            attempt_timeout: (timeout / 3).clamp(Duration::from_secs(1), Duration::from_secs(20)),
        }
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The pause before attempt `attempt + 1` (attempts count from 1), or `None` when
    /// the budget is spent: no attempts left, or no time left for another try.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let delay = ceiling.mul_f64(rand::random::<f64>());
        let remaining = self.remaining();
        // Leave the next attempt at least a little time to run.
        (remaining > delay + Duration::from_millis(50)).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_max_attempts() {
        let b = Budget::new(3, Duration::from_secs(60), Duration::from_millis(10));
        assert!(b.delay_after(1).is_some());
        assert!(b.delay_after(2).is_some());
        assert!(b.delay_after(3).is_none());
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let b = Budget::new(10, Duration::from_secs(600), Duration::from_millis(100));
        for attempt in 1..9u32 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1))).min(b.max_delay);
            for _ in 0..50 {
                assert!(b.delay_after(attempt).unwrap() <= ceiling);
            }
        }
    }

    #[test]
    fn stops_when_time_runs_out() {
        let b = Budget::new(10, Duration::ZERO, Duration::from_millis(1));
        assert!(b.delay_after(1).is_none());
    }
}
