use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tracing::{error, info};

/// What a supervisor does after its actor's task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// The actor finished on purpose: do not restart it.
    Done,
    /// The actor should run again (it panicked or asked to be restarted).
    Again,
}

/// How often an actor may fail before its supervisor stops restarting it,
/// as Erlang's restart intensity: more than `max_restarts` within `window`
/// means the failure is not a passing one, and restarting it again would
/// only spin.
#[derive(Debug, Clone, Copy)]
pub struct RestartBudget {
    pub max_restarts: u32,
    pub window: Duration,
    /// The wait before the first restart; it doubles with each failure that
    /// follows within the window, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RestartBudget {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(60),
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// How a supervised actor ended for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervised {
    /// It finished on purpose (or was cancelled at shutdown).
    Done,
    /// It failed more often than its budget allows; it is not running.
    GaveUp,
}

/// Runs the actor produced by `start` and starts it again each time it
/// panics, so one actor's failure is contained to that actor. `start` is given
/// the number of restarts so far, so the actor can recover its state
/// (re-read what it persisted, re-attach its players) instead of starting blank.
/// Restarts wait with exponential backoff and stop once `budget` is spent.
pub fn supervise<F, Fut>(
    name: String,
    budget: RestartBudget,
    mut start: F,
) -> JoinHandle<Supervised>
where
    F: FnMut(u32) -> Fut + Send + 'static,
    Fut: Future<Output = Restart> + Send + 'static,
{
    tokio::spawn(async move {
        let mut restarts = 0u32;
        let mut recent: VecDeque<Instant> = VecDeque::new();
        loop {
            let outcome = tokio::spawn(start(restarts)).await;
            match outcome {
                Ok(Restart::Done) => return Supervised::Done,
                Ok(Restart::Again) => info!(actor = %name, "actor asked to be restarted"),
                Err(e) if e.is_panic() => {
                    error!(actor = %name, restarts, "actor panicked; restarting")
                }
                Err(_) => return Supervised::Done,
            }
            let now = Instant::now();
            while recent
                .front()
                .is_some_and(|at| now.duration_since(*at) > budget.window)
            {
                recent.pop_front();
            }
            if recent.len() >= budget.max_restarts as usize {
                error!(
                    actor = %name,
                    failures = recent.len() + 1,
                    window = ?budget.window,
                    "actor keeps failing; no more restarts"
                );
                return Supervised::GaveUp;
            }
            let backoff = budget
                .first_backoff
                .saturating_mul(1 << recent.len().min(16))
                .min(budget.max_backoff);
            recent.push_back(now);
            restarts += 1;
            tokio::time::sleep(backoff).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_panicking_actor_is_restarted_until_it_finishes() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let outcome = supervise("flaky".into(), RestartBudget::default(), move |restarts| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if restarts < 2 {
                    panic!("boom");
                }
                Restart::Done
            }
        })
        .await
        .unwrap();
        assert_eq!(outcome, Supervised::Done);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_actor_that_keeps_failing_is_given_up_on_after_its_budget() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let budget = RestartBudget {
            max_restarts: 3,
            window: Duration::from_secs(60),
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        };
        let started = Instant::now();
        let outcome = supervise("broken".into(), budget, move |_| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                panic!("always");
            }
        })
        .await
        .unwrap();
        assert_eq!(outcome, Supervised::GaveUp);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            4,
            "the first run and three restarts"
        );
        // Backoff doubled: 1 + 2 + 4 ms at least.
        assert!(started.elapsed() >= Duration::from_millis(7));
    }

    #[tokio::test]
    async fn failures_spread_wider_than_the_window_never_spend_the_budget() {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let budget = RestartBudget {
            max_restarts: 1,
            window: Duration::from_millis(5),
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        };
        let outcome = supervise("rarely".into(), budget, move |restarts| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if restarts < 4 {
                    panic!("now and then");
                }
                Restart::Done
            }
        })
        .await
        .unwrap();
        assert_eq!(outcome, Supervised::Done);
        assert_eq!(runs.load(Ordering::SeqCst), 5);
    }
}
