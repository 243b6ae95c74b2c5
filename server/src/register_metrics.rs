//! How long the user register's reads and writes take and how many fail,
//! as the accounts service sees them: a quorum round trip in a cluster, a
//! store commit on a single node.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tessera_auth::accounts::{RegisterFuture, Registers};
use tessera_auth::register::StoreHealth;
use tessera_world::histogram::Histogram;

use crate::prometheus;

/// Upper bounds (seconds) of one register operation: a local commit takes
/// about a millisecond, a quorum over a slow network or a waiting
/// retransmission up to seconds.
const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

struct Op {
    seconds: Histogram,
    failures: AtomicU64,
}

impl Op {
    fn new() -> Self {
        Self {
            seconds: Histogram::new(&BUCKETS),
            failures: AtomicU64::new(0),
        }
    }

    /// Records one operation that ended now, failed or not.
    fn finished<T, E>(&self, started: Instant, result: &Result<T, E>) {
        self.seconds.record(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct RegisterMetrics {
    read: Op,
    write: Op,
}

impl Default for RegisterMetrics {
    fn default() -> Self {
        Self {
            read: Op::new(),
            write: Op::new(),
        }
    }
}

/// A register whose reads and writes are timed into `metrics`.
pub struct Timed<R> {
    pub inner: R,
    pub metrics: Arc<RegisterMetrics>,
}

impl<R: Registers> Registers for Timed<R> {
    fn read<'a>(&'a self, key: &'a str) -> RegisterFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.read(key).await;
            self.metrics.read.finished(started, &result);
            result
        })
    }

    fn write<'a>(&'a self, key: &'a str, value: Option<Vec<u8>>) -> RegisterFuture<'a, ()> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.write(key, value).await;
            self.metrics.write.finished(started, &result);
            result
        })
    }

    fn keys<'a>(&'a self, prefix: &'a str) -> RegisterFuture<'a, Vec<String>> {
        self.inner.keys(prefix)
    }

    fn store_health(&self) -> Option<StoreHealth> {
        self.inner.store_health()
    }
}

pub fn render(out: &mut String, node: u64, metrics: &RegisterMetrics) {
    let ops = [("read", &metrics.read), ("write", &metrics.write)];
    let name = "tessera_register_operation_seconds";
    prometheus::header(
        out,
        name,
        "Time one read or write of the user register took until it completed or failed (label op).",
        "histogram",
    );
    for (op, m) in ops {
        let labels = format!("node=\"{node}\",op=\"{op}\"");
        prometheus::histogram_series(out, name, &labels, &m.seconds.snapshot());
    }
    let name = "tessera_register_operation_failures_total";
    prometheus::header(
        out,
        name,
        "Reads and writes of the user register that failed: no quorum, a store error or shutdown (label op).",
        "counter",
    );
    for (op, m) in ops {
        let failures = m.failures.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{node=\"{node}\",op=\"{op}\"}} {failures}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_auth::accounts::{MemoryRegisters, RegisterUnavailable};

    /// A register that answers nothing: every operation fails.
    struct Down;

    impl Registers for Down {
        fn read<'a>(&'a self, _: &'a str) -> RegisterFuture<'a, Option<Vec<u8>>> {
            Box::pin(async { Err(RegisterUnavailable("no quorum".into())) })
        }
        fn write<'a>(&'a self, _: &'a str, _: Option<Vec<u8>>) -> RegisterFuture<'a, ()> {
            Box::pin(async { Err(RegisterUnavailable("no quorum".into())) })
        }
        fn keys<'a>(&'a self, _: &'a str) -> RegisterFuture<'a, Vec<String>> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    #[tokio::test]
    async fn reads_writes_and_their_failures_are_counted_apart() {
        let metrics = Arc::new(RegisterMetrics::default());
        let up = Timed {
            inner: MemoryRegisters::default(),
            metrics: metrics.clone(),
        };
        up.write("k", Some(b"v".to_vec())).await.unwrap();
        assert_eq!(up.read("k").await.unwrap(), Some(b"v".to_vec()));
        up.read("other").await.unwrap();
        let down = Timed {
            inner: Down,
            metrics: metrics.clone(),
        };
        assert!(down.write("k", None).await.is_err());

        assert_eq!(metrics.read.seconds.snapshot().count, 2);
        assert_eq!(metrics.write.seconds.snapshot().count, 2);
        assert_eq!(metrics.read.failures.load(Ordering::Relaxed), 0);
        assert_eq!(metrics.write.failures.load(Ordering::Relaxed), 1);

        let mut out = String::new();
        render(&mut out, 3, &metrics);
        assert!(
            out.contains("tessera_register_operation_seconds_count{node=\"3\",op=\"read\"} 2\n")
        );
        assert!(
            out.contains("tessera_register_operation_failures_total{node=\"3\",op=\"write\"} 1\n")
        );
        assert_eq!(out.matches("# TYPE ").count(), 2, "one header per family");
    }
}
