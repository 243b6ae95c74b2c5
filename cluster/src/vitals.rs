//! The loops a node cannot work without (accepting players, following the
//! placement table, membership, autosave): each is watched, and one that
//! ends while the node runs is logged and reported, so `/readyz` stops
//! saying ready instead of the node looking alive with a part of it dead.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{error, Instrument};

#[derive(Debug, Clone, Default)]
pub struct Vitals {
    loops: Arc<Mutex<Vec<VitalLoop>>>,
}

#[derive(Debug)]
struct VitalLoop {
    name: &'static str,
    stopped: Option<String>,
}

/// A loop that ended, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedLoop {
    pub name: &'static str,
    pub why: String,
}

impl Vitals {
    /// Spawns `work`, which should run as long as the node does.
    pub fn spawn<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = tokio::spawn(work.in_current_span());
        let index = {
            let mut loops = lock(&self.loops);
            loops.push(VitalLoop {
                name,
                stopped: None,
            });
            loops.len() - 1
        };
        let loops = self.loops.clone();
        tokio::spawn(async move {
            let why = match task.await {
                Ok(()) => "returned".to_owned(),
                Err(e) if e.is_panic() => format!("panicked: {}", panic_text(e.into_panic())),
                Err(_) => "was cancelled".to_owned(),
            };
            let mut loops = lock(&loops);
            if let Some(vital) = loops.get_mut(index) {
                error!(task = vital.name, "an essential loop stopped: it {why}");
                vital.stopped = Some(why);
            }
        });
    }

    /// The loops that ended, in the order they were started.
    pub fn stopped(&self) -> Vec<StoppedLoop> {
        lock(&self.loops)
            .iter()
            .filter_map(|vital| {
                vital.stopped.as_ref().map(|why| StoppedLoop {
                    name: vital.name,
                    why: why.clone(),
                })
            })
            .collect()
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn settled(vitals: &Vitals, count: usize) -> Vec<StoppedLoop> {
        for _ in 0..100 {
            let stopped = vitals.stopped();
            if stopped.len() >= count {
                return stopped;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        vitals.stopped()
    }

    #[tokio::test]
    async fn a_loop_that_returns_or_panics_is_reported_and_a_running_one_is_not() {
        let vitals = Vitals::default();
        vitals.spawn("forever", std::future::pending());
        vitals.spawn("quitter", async {});
        vitals.spawn("crasher", async { panic!("lost the table") });
        let stopped = settled(&vitals, 2).await;
        assert_eq!(stopped.len(), 2, "{stopped:?}");
        assert!(stopped.contains(&StoppedLoop {
            name: "quitter",
            why: "returned".into()
        }));
        assert!(stopped.contains(&StoppedLoop {
            name: "crasher",
            why: "panicked: lost the table".into()
        }));
    }

    #[tokio::test]
    async fn a_formatted_panic_message_is_reported() {
        let vitals = Vitals::default();
        vitals.spawn("service", async { panic!("{}", 7) });
        let stopped = settled(&vitals, 1).await;
        assert_eq!(stopped[0].why, "panicked: 7");
    }
}
