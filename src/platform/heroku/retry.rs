//! When to retry a request, how long to wait, and when to slow down before the rate limit bites.
//!
//! Heroku's rate limit is a token bucket (4,500 requests, refilled at ~75 a minute). The client
//! retries `429` and `5xx` with capped exponential backoff plus jitter, but only within a bounded
//! total time: unlike a client that retries `429` forever, slugplan gives up with an error that
//! names the last request id. Which failures a call may retry depends on whether repeating it is
//! harmless ([`Repeat`]).

use std::time::Duration;

use rand::Rng;

/// How a request may be repeated after a failure whose outcome is unknown.
///
/// A `429` is always retried: the platform refused it before doing anything. A connection that
/// could not be opened is always retried: nothing was sent. The difference lies in `5xx` answers
/// and connections that broke after the request went out, where the platform may have done the
/// work: repeating a `POST /apps/{app}/releases` then could release twice, so such calls are not
/// retried there and the caller (apply) re-reads the app's current release before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads and `PUT`s: doing them twice is the same as doing them once.
    Idempotent,
    /// Creations whose duplicate is harmless (a second slug nobody releases is an orphan).
    Harmless,
    /// Creations that must not happen twice (releases, rollbacks, promotions, apps).
    Once,
}

impl Repeat {
    /// Whether a `5xx` answer, or a connection broken after sending, may be retried.
    pub fn after_unknown_outcome(self) -> bool {
        !matches!(self, Repeat::Once)
    }
}

/// Retry timing. The defaults suit the real API; tests shrink them to milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff; each retry doubles it.
    pub initial_backoff: Duration,
    /// The longest single wait.
    pub max_backoff: Duration,
    /// The longest total time spent on one call, retries included: past it the call fails with
    /// the last error rather than sleeping again.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first): `initial · 2^retry`, capped at
    /// `max_backoff`, then "equal jitter" (a random point in its upper half) so that parallel
    /// apply steps hitting the limit together do not retry in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }
}

/// Slowing down as `RateLimit-Remaining` falls, so that a long apply spreads its requests out
/// instead of running into `429`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Below this many remaining requests, each request first waits.
    pub low_water: u64,
    /// The wait when nothing remains; it shrinks linearly to zero at `low_water`.
    pub max_delay: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        // 75 requests a minute refill the bucket: at zero remaining, one request every 0.8 s
        // keeps pace with the refill.
        ThrottlePolicy {
            low_water: 200,
            max_delay: Duration::from_millis(800),
        }
    }
}

impl ThrottlePolicy {
    /// The wait before the next request when the last answer said `remaining` were left.
    pub fn delay(&self, remaining: u64) -> Option<Duration> {
        if remaining >= self.low_water || self.low_water == 0 {
            return None;
        }
        let missing = (self.low_water - remaining) as f64 / self.low_water as f64;
        Some(self.max_delay.mul_f64(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_elapsed: Duration::from_secs(10),
        };
        for (retry, base) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (40, 1000),
        ] {
            let wait = policy.backoff(retry);
            let base = Duration::from_millis(base);
            assert!(
                wait >= base / 2 && wait <= base,
                "retry {retry}: {wait:?} vs {base:?}"
            );
        }
    }

    #[test]
    fn throttle_grows_as_remaining_falls() {
        let policy = ThrottlePolicy {
            low_water: 100,
            max_delay: Duration::from_millis(1000),
        };
        assert_eq!(policy.delay(100), None);
        assert_eq!(policy.delay(4500), None);
        assert_eq!(policy.delay(50), Some(Duration::from_millis(500)));
        assert_eq!(policy.delay(0), Some(Duration::from_millis(1000)));
    }

    #[test]
    fn only_once_calls_refuse_unknown_outcomes() {
        assert!(Repeat::Idempotent.after_unknown_outcome());
        assert!(Repeat::Harmless.after_unknown_outcome());
        assert!(!Repeat::Once.after_unknown_outcome());
    }
}
