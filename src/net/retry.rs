//! The retry budget shared by every network call (attempts, an overall deadline,
//! exponential backoff with full jitter) and the one retry loop, [`run`], whose callers
//! pass in how their errors are classified ([`Policy`]).

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

/// What the caller says about one failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<R, S> {
    /// Transient: worth another attempt while the budget lasts. `R` describes the failure
    /// for the log, and is what the caller gets back if the budget runs out.
    Retry(R),
    /// Permanent (or not worth repeating): stop now with this error.
    Stop(S),
}

/// One attempt, as the loop hands it to the call and to the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Counts from 1.
    pub number: u32,
    /// The budget's attempt limit, for `attempt 2/5` in logs.
    pub of: u32,
    /// How long this attempt may wait for an answer: the time left, at most
    /// [`Budget::attempt_timeout`].
    pub timeout: Duration,
}

/// The caller's half of the loop: which errors are worth another attempt, and what the
/// log says. Every network call that may be repeated (STS, CI token endpoints, the
/// federation endpoint, an identity provider's token refresh) implements it; the loop
/// itself, [`run`], is the same for all.
pub trait Policy {
    /// The error of one attempt.
    type Error;
    /// What a transient failure leaves behind.
    type Transient;
    /// What a permanent failure stops with.
    type Permanent;

    /// Sorts one attempt's error.
    fn classify(&self, error: Self::Error) -> Verdict<Self::Transient, Self::Permanent>;

    /// The error an attempt that outlives [`Attempt::timeout`] counts as; `None` (the
    /// default) when the call bounds itself (a `reqwest` request with `.timeout(..)`), in
    /// which case the loop does not cut it short.
    fn timed_out(&self, _attempt: &Attempt) -> Option<Self::Error> {
        None
    }

    /// Called as an attempt starts.
    fn starting(&self, _attempt: &Attempt) {}

    /// Called after a transient failure, with the pause before the next attempt, or `None`
    /// when this was the last one.
    fn failed(&self, _attempt: &Attempt, _last: &Self::Transient, _next: Option<Duration>) {}
}

/// Why [`run`] returns no value.
#[derive(Debug, PartialEq, Eq)]
pub enum GaveUp<R, S> {
    /// The policy called an error permanent.
    Stopped(S),
    /// Every attempt failed transiently and the budget is spent (attempts or time).
    Exhausted {
        attempts: u32,
        /// Since the loop started.
        elapsed: Duration,
        last: R,
    },
}

/// THE retry loop: calls `call` until it succeeds, `policy` calls its error permanent, or
/// `budget` is spent, pausing between attempts with exponential backoff and full jitter
/// ([`Budget::delay_after`]).
pub async fn run<P, T, F, Fut>(
    budget: &Budget,
    policy: &P,
    mut call: F,
) -> Result<T, GaveUp<P::Transient, P::Permanent>>
where
    P: Policy,
    F: FnMut(Attempt) -> Fut,
    Fut: std::future::Future<Output = Result<T, P::Error>>,
{
    let started = Instant::now();
    let mut number = 0;
    loop {
        number += 1;
        let attempt = Attempt {
            number,
            of: budget.max_attempts,
            timeout: budget.remaining().min(budget.attempt_timeout),
        };
        policy.starting(&attempt);
        let future = call(attempt);
        let result = match policy.timed_out(&attempt) {
            Some(overrun) => tokio::time::timeout(attempt.timeout, future)
                .await
                .unwrap_or(Err(overrun)),
            None => future.await,
        };
        let error = match result {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let last = match policy.classify(error) {
            Verdict::Retry(last) => last,
            Verdict::Stop(error) => return Err(GaveUp::Stopped(error)),
        };
        let delay = budget.delay_after(number);
        policy.failed(&attempt, &last, delay);
        match delay {
            Some(delay) => tokio::time::sleep(delay).await,
            None => {
                return Err(GaveUp::Exhausted {
                    attempts: number,
                    elapsed: started.elapsed(),
                    last,
                });
            }
        }
    }
}

/// An error that knows whether another attempt may help.
pub trait Transient: std::fmt::Display {
    fn is_transient(&self) -> bool;
}

/// The [`Policy`] of calls whose errors say themselves whether they are transient: those are
/// tried again (and logged as `<what> attempt N failed: …`), others stop the loop.
pub struct RetryTransient<E> {
    what: &'static str,
    error: std::marker::PhantomData<fn() -> E>,
}

impl<E> RetryTransient<E> {
    pub fn new(what: &'static str) -> Self {
        RetryTransient {
            what,
            error: std::marker::PhantomData,
        }
    }
}

impl<E: Transient> Policy for RetryTransient<E> {
    type Error = E;
    type Transient = E;
    type Permanent = E;

    fn classify(&self, e: E) -> Verdict<E, E> {
        if e.is_transient() {
            Verdict::Retry(e)
        } else {
            Verdict::Stop(e)
        }
    }

    fn failed(&self, attempt: &Attempt, last: &E, _next: Option<std::time::Duration>) {
        tracing::info!("{} attempt {} failed: {last}", self.what, attempt.number);
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

    /// A policy that records what the loop told it.
    #[derive(Default)]
    struct Recorder {
        timeouts: bool,
        started: std::sync::Mutex<Vec<Attempt>>,
        failed: std::sync::Mutex<Vec<(u32, String, Option<Duration>)>>,
    }

    impl Policy for Recorder {
        type Error = Result<String, String>;
        type Transient = String;
        type Permanent = String;

        fn classify(&self, error: Result<String, String>) -> Verdict<String, String> {
            match error {
                Ok(transient) => Verdict::Retry(transient),
                Err(permanent) => Verdict::Stop(permanent),
            }
        }

        fn timed_out(&self, attempt: &Attempt) -> Option<Result<String, String>> {
            self.timeouts
                .then(|| Ok(format!("no answer within {:?}", attempt.timeout)))
        }

        fn starting(&self, attempt: &Attempt) {
            self.started.lock().unwrap().push(*attempt);
        }

        fn failed(&self, attempt: &Attempt, last: &String, next: Option<Duration>) {
            self.failed
                .lock()
                .unwrap()
                .push((attempt.number, last.clone(), next));
        }
    }

    fn budget(max_attempts: u32, attempt_timeout: Duration) -> Budget {
        Budget {
            max_attempts,
            deadline: Instant::now() + Duration::from_secs(60),
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(5),
            attempt_timeout,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn counts_attempts_and_returns_the_first_success() {
        let policy = Recorder::default();
        let b = budget(5, Duration::from_secs(7));
        let r = run(&b, &policy, |a| async move {
            if a.number < 3 {
                Err(Ok(format!("busy {}", a.number)))
            } else {
                Ok(a.number)
            }
        })
        .await;
        assert_eq!(r, Ok(3));
        let started = policy.started.lock().unwrap();
        assert_eq!(
            started.iter().map(|a| (a.number, a.of)).collect::<Vec<_>>(),
            [(1, 5), (2, 5), (3, 5)]
        );
        // Each attempt may wait the budget's attempt timeout (the deadline is further off).
        assert!(started.iter().all(|a| a.timeout == Duration::from_secs(7)));
        let failed = policy.failed.lock().unwrap();
        assert_eq!(failed.len(), 2);
        assert_eq!((failed[1].0, failed[1].1.as_str()), (2, "busy 2"));
        assert!(failed.iter().all(|f| f.2.is_some()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stops_at_a_permanent_error() {
        let policy = Recorder::default();
        let mut calls = 0;
        let r: Result<(), _> = run(&budget(5, Duration::from_secs(1)), &policy, |_| {
            calls += 1;
            async { Err(Err("denied".to_string())) }
        })
        .await;
        assert_eq!(r, Err(GaveUp::Stopped("denied".into())));
        assert_eq!(calls, 1);
        assert!(policy.failed.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn exhausts_the_attempts_and_keeps_the_last_error() {
        let policy = Recorder::default();
        let r: Result<(), _> = run(
            &budget(3, Duration::from_secs(1)),
            &policy,
            |a| async move { Err(Ok(format!("busy {}", a.number))) },
        )
        .await;
        match r {
            Err(GaveUp::Exhausted { attempts, last, .. }) => {
                assert_eq!((attempts, last.as_str()), (3, "busy 3"))
            }
            other => panic!("{other:?}"),
        }
        let failed = policy.failed.lock().unwrap();
        // The last failure is reported too, with no pause after it.
        assert_eq!(
            failed.iter().map(|f| f.2.is_some()).collect::<Vec<_>>(),
            [true, true, false]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn exhausts_the_time() {
        let policy = Recorder::default();
        let mut b = budget(10, Duration::from_secs(1));
        b.deadline = Instant::now();
        let r: Result<(), _> = run(&b, &policy, |_| async { Err(Ok("busy".to_string())) }).await;
        assert!(
            matches!(r, Err(GaveUp::Exhausted { attempts: 1, .. })),
            "{r:?}"
        );
        // With no time left, the attempt gets none either.
        assert_eq!(policy.started.lock().unwrap()[0].timeout, Duration::ZERO);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cuts_a_hanging_attempt_at_its_timeout_when_asked() {
        let policy = Recorder {
            timeouts: true,
            ..Recorder::default()
        };
        let b = budget(3, Duration::from_millis(30));
        let started = Instant::now();
        let r: Result<(), _> = run(&b, &policy, |a| async move {
            if a.number < 3 {
                std::future::pending().await
            } else {
                Err(Err("denied".to_string()))
            }
        })
        .await;
        assert_eq!(r, Err(GaveUp::Stopped("denied".into())));
        let failed = policy.failed.lock().unwrap();
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0].1, "no answer within 30ms");
        assert!(started.elapsed() >= Duration::from_millis(60));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn leaves_a_self_bounded_attempt_alone() {
        // Without `timed_out`, the call's own bound decides (reqwest's `.timeout`): the loop
        // does not cut it short, so its own error (and message) is what comes back.
        let policy = Recorder::default();
        let b = budget(1, Duration::from_millis(1));
        let r: Result<(), _> = run(&b, &policy, |a| async move {
            tokio::time::sleep(a.timeout * 20).await;
            Err(Err("own timeout".to_string()))
        })
        .await;
        assert_eq!(r, Err(GaveUp::Stopped("own timeout".into())));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn pauses_stay_within_the_jittered_ceiling() {
        let policy = Recorder::default();
        let b = budget(8, Duration::from_secs(1));
        let _: Result<(), _> = run(&b, &policy, |_| async { Err(Ok("busy".to_string())) }).await;
        let failed = policy.failed.lock().unwrap();
        assert_eq!(failed.len(), 8);
        for (number, _, pause) in failed.iter().take(7) {
            let ceiling = (b.base_delay * (1 << (number - 1))).min(b.max_delay);
            assert!(pause.unwrap() <= ceiling, "attempt {number}: {pause:?}");
        }
    }
}
