use std::future::Future;
use std::time::Duration;

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

/// Runs the actor produced by `start` and starts it again each time it
/// panics, so one actor's failure is contained to that actor. `start` is given
/// the number of restarts so far, so the actor can recover its state
/// (re-read what it persisted, re-attach its players) instead of starting blank.
pub fn supervise<F, Fut>(name: String, mut start: F) -> JoinHandle<()>
where
    F: FnMut(u32) -> Fut + Send + 'static,
    Fut: Future<Output = Restart> + Send + 'static,
{
    tokio::spawn(async move {
        let mut restarts = 0u32;
        loop {
            let outcome = tokio::spawn(start(restarts)).await;
            match outcome {
                Ok(Restart::Done) => return,
                Ok(Restart::Again) => info!(actor = %name, "actor asked to be restarted"),
                Err(e) if e.is_panic() => {
                    error!(actor = %name, restarts, "actor panicked; restarting")
                }
                Err(_) => return,
            }
            restarts += 1;
            let backoff = Duration::from_millis(50 * u64::from(restarts.min(20)));
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
        supervise("flaky".into(), move |restarts| {
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
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
