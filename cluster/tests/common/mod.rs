//! What every test file of the cluster crate sets up the same way.

/// Sends the crate's logs to the test's output, which is shown for failed
/// tests only; RUST_LOG picks the level.
pub fn show_logs_of_failures() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}
