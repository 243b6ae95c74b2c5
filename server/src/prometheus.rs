//! Prometheus text format: the few shapes `/metrics` writes.

use std::fmt::Write;

use tessera_world::histogram::TickHistogram;

/// A histogram, its series labelled with `labels` (such as `node="1"`, or
/// empty for none).
pub fn histogram(out: &mut String, name: &str, help: &str, labels: &str, h: &TickHistogram) {
    header(out, name, help, "histogram");
    histogram_series(out, name, labels, h);
}

/// The HELP and TYPE lines of a family, written once before its series.
pub fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One labelled histogram of a family whose header is written.
pub fn histogram_series(out: &mut String, name: &str, labels: &str, h: &TickHistogram) {
    let (bucket, plain) = if labels.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("{labels},"), format!("{{{labels}}}"))
    };
    for (bound, count) in &h.cumulative {
        let _ = writeln!(out, "{name}_bucket{{{bucket}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{bucket}le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{plain} {}", h.sum_seconds);
    let _ = writeln!(out, "{name}_count{plain} {}", h.count);
}
