//! When to retry a request, how long to wait, and when to slow down before the rate limit bites.
//!
//! Heroku's rate limit is a token bucket (4,500 requests, refilled at ~75 a minute). The client
//! retries `429`, `5xx` and broken connections with capped exponential backoff plus jitter, and
//! waits at least what a `Retry-After` asks (delay-seconds or an HTTP date), but only within a
//! bounded total time and number of attempts ([`RetryPolicy`]): unlike a client that retries
//! `429` forever, slugplan gives up with an error that names the last request id. Which failures
//! a call may simply repeat depends on whether repeating it is harmless ([`Repeat`]); a write
//! that must happen once is first read back.
//!
//! Every retry is told to a [`RetryReporter`] (the edge prints one line per retry: what, why,
//! attempt n of m, the wait), so a platform that is down is never a silent wait.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// How a request may be repeated after a failure whose outcome is unknown.
///
/// A `429` is always retried: the platform refused it before doing anything. A connection that
/// could not be opened is always retried: nothing was sent. The difference lies in `5xx` answers
/// and connections that broke after the request went out (a reset, a reply cut off halfway),
/// where the platform may have done the work: repeating a `POST /apps/{app}/releases` then could
/// release twice. Such a call is **reconciled** instead: the client reads back whether it took
/// effect (the app exists, the newest release is this one) and repeats it only if it did not;
/// where the client cannot read it back (a pipeline promotion has no list to look in), it returns
/// the error and the caller reads the targets' releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, `PUT`s, `PATCH`es and `DELETE`s: doing them twice is the same as doing them once.
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

/// Retry timing. The defaults suit the real API; `--retry-timeout` (or `SLUGPLAN_RETRY_TIMEOUT`)
/// sets [`max_elapsed`](Self::max_elapsed), and tests shrink the rest to milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff; each retry doubles it.
    pub initial_backoff: Duration,
    /// The longest single backoff (a longer `Retry-After` is still honoured, within
    /// `max_elapsed`).
    pub max_backoff: Duration,
    /// The longest total time spent on one call, retries included: a retry whose wait would end
    /// past it is not made, and the call fails with the last error.
    pub max_elapsed: Duration,
}

/// The default of [`RetryPolicy::max_elapsed`]: a platform blip of a minute is ridden out, a
/// platform that is down fails the command in about that long.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: DEFAULT_RETRY_TIMEOUT,
        }
    }
}

/// No call makes more attempts than this, however generous the policy.
const ATTEMPTS_CAP: u32 = 100;

impl RetryPolicy {
    /// The policy with `max_elapsed` set to `timeout` (the other timings unchanged).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.max_elapsed = timeout;
        self
    }

    /// The longest wait before retry number `retry` (0 for the first): `initial · 2^retry`,
    /// capped at `max_backoff`.
    fn ceiling(&self, retry: u32) -> Duration {
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_backoff)
    }

    /// The wait before retry number `retry` (0 for the first): its [ceiling](Self::ceiling)
    /// with "equal jitter" (a random point in its upper half), so that parallel apply steps
    /// hitting the limit together do not retry in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let half = self.ceiling(retry) / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    /// The most attempts one call makes: the first, then one after each backoff, for as long as
    /// the backoffs (at their longest) add up to no more than `max_elapsed`. Jitter only shortens
    /// a backoff, so a call whose attempts fail fast makes exactly this many; one slowed down by
    /// `Retry-After` or slow answers runs out of time first.
    pub fn max_attempts(&self) -> u32 {
        let mut waited = Duration::ZERO;
        let mut attempts = 1;
        while attempts < ATTEMPTS_CAP {
            waited += self.ceiling(attempts - 1);
            if waited > self.max_elapsed {
                break;
            }
            attempts += 1;
        }
        attempts
    }
}

/// What happens after a failed attempt, as told to a [`RetryReporter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The call is sent again after this wait.
    Retry(Duration),
    /// The call may have taken effect: after this wait, the client reads back whether it did,
    /// and sends it again only if not.
    Reconcile(Duration),
    /// The call may have taken effect and the client cannot read it back: the caller does.
    Unknown,
    /// No attempt is left (or the next wait would pass the retry time): the call fails.
    GiveUp,
}

/// One failed attempt of an API call.
#[derive(Debug, Clone)]
pub struct RetryEvent<'a> {
    /// The call, e.g. `GET https://api.heroku.com/apps/web` (never with credentials).
    pub what: &'a str,
    /// Why it failed, on one line: `503 Service Unavailable`, `connection refused`.
    pub why: String,
    /// The attempt that failed, from 1.
    pub attempt: u32,
    /// The most attempts the call makes ([`RetryPolicy::max_attempts`]).
    pub attempts: u32,
    /// How long the call has taken so far.
    pub elapsed: Duration,
    /// What happens next.
    pub next: NextStep,
}

/// Hears about every failed attempt of an API call that was, or could have been, retried.
/// Implemented at the edge (one line per event on stderr); the library never prints.
pub trait RetryReporter: Send + Sync {
    /// An attempt failed; `event` says what happens next.
    fn failed_attempt(&self, event: &RetryEvent<'_>);
}

impl std::fmt::Debug for dyn RetryReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryReporter")
    }
}

/// A [`RetryReporter`] that says nothing (the library's default; `-v` still logs each retry).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl RetryReporter for Silent {
    fn failed_attempt(&self, _event: &RetryEvent<'_>) {}
}

/// The wait a `Retry-After` header asks for: delay-seconds (`120`) or an HTTP date (`Wed, 21
/// Oct 2015 07:28:00 GMT`). A date is measured against the answer's own `Date` header when it
/// has one (so the two clocks need not agree), else against this machine's clock; a date in the
/// past asks for no wait. None when the value is neither.
pub fn retry_after(value: &str, date: Option<&str>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = http_date(value)?;
    let now = date.and_then(http_date).unwrap_or_else(SystemTime::now);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An HTTP date (RFC 9110's IMF-fixdate, which RFC 2822 parsing accepts, `GMT` included).
fn http_date(value: &str) -> Option<SystemTime> {
    let zoned = jiff::fmt::rfc2822::parse(value.trim()).ok()?;
    Some(SystemTime::from(zoned.timestamp()))
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
    fn attempts_are_those_whose_longest_backoffs_fit_the_retry_time() {
        let policy = |elapsed_ms| RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_elapsed: Duration::from_millis(elapsed_ms),
        };
        // Backoffs of at most 100, 200, 400, 800, 1000, 1000 … ms.
        assert_eq!(policy(0).max_attempts(), 1);
        assert_eq!(policy(99).max_attempts(), 1);
        assert_eq!(policy(100).max_attempts(), 2);
        assert_eq!(policy(700).max_attempts(), 4);
        assert_eq!(policy(2500).max_attempts(), 6);
        assert_eq!(policy(3_600_000).max_attempts(), ATTEMPTS_CAP);
        // The defaults: 0.5, 1, 2, 4, 8, 16 s fit a minute; 30 more do not.
        assert_eq!(RetryPolicy::default().max_attempts(), 7);
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(retry_after(" 7 ", None), Some(Duration::from_secs(7)));
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", Some(date)),
            Some(Duration::from_secs(30)),
            "measured against the answer's own clock"
        );
        assert_eq!(
            retry_after(date, None),
            Some(Duration::ZERO),
            "a date in the past asks for no wait"
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let later = jiff::fmt::rfc2822::to_string(&later.to_zoned(jiff::tz::TimeZone::UTC))
            .unwrap()
            .replace("+0000", "GMT");
        let wait = retry_after(&later, None).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon", None), None);
        assert_eq!(retry_after("-3", None), None);
    }

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
