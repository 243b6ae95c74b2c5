//! Tick timings from a server's Prometheus endpoint, when it has one.
//!
//! Metric names differ between servers, so this looks for any family whose
//! name mentions MSPT or tick time: gauges are read as they are at the end of
//! the window, histograms and summaries (`_sum`/`_count`) are averaged over
//! it, and histogram buckets give percentiles over it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A scrape is a few KiB; a slow or silent endpoint must not stall the run.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(3);

/// Values of the samples of one scrape, keyed by name with labels.
pub type Samples = BTreeMap<String, f64>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mspt {
    /// Mean over series of tick-time gauges at the end of the window (ms).
    pub gauge_mean_ms: Option<f64>,
    /// Largest tick-time gauge at the end of the window (ms).
    pub gauge_max_ms: Option<f64>,
    /// Mean tick time over the window from histogram or summary sums (ms).
    pub window_mean_ms: Option<f64>,
    /// Ticks recorded during the window (all regions together).
    pub window_ticks: Option<f64>,
    /// Upper bounds of the histogram buckets holding the 50th, 95th and
    /// 99th percentile tick of the window (ms); `None` past the last bound.
    pub window_p50_ms: Option<f64>,
    pub window_p95_ms: Option<f64>,
    pub window_p99_ms: Option<f64>,
    /// The metrics these were taken from.
    pub metrics: Vec<String>,
}

/// GETs `url` (plain `http://host:port/path`) and parses the samples.
pub async fn scrape(url: &str) -> anyhow::Result<Samples> {
    let text = tokio::time::timeout(SCRAPE_TIMEOUT, get(url))
        .await
        .with_context(|| format!("no answer from {url} in {SCRAPE_TIMEOUT:?}"))??;
    Ok(parse(&text))
}

async fn get(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// metrics URLs are supported")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    // HTTP/1.0: the server closes the connection after the body, so the
    // body is everything up to end of stream, with no chunked encoding.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status = head.lines().next().unwrap_or_default();
    ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "{url} answered `{status}`"
    );
    Ok(body.to_owned())
}

/// Prometheus text format: `name{labels} value [timestamp]`, `#` comments.
pub fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Label values may contain spaces, so split after the closing brace.
        let split = line
            .rfind('}')
            .map_or_else(|| line.find(' '), |b| Some(b + 1));
        let Some(split) = split else { continue };
        let (series, rest) = line.split_at(split);
        if let Some(Ok(value)) = rest.split_whitespace().next().map(str::parse::<f64>) {
            samples.insert(series.trim().to_owned(), value);
        }
    }
    samples
}

fn metric_name(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

fn about_ticks(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("mspt") || name.contains("tick_time") || name.contains("tick_duration")
}

/// Milliseconds per unit, from the Prometheus unit suffix.
fn to_ms(name: &str) -> f64 {
    if name.contains("seconds") {
        1000.0
    } else {
        1.0
    }
}

/// MSPT figures from scrapes at the start and end of the window.
pub fn mspt(start: &Samples, end: &Samples) -> anyhow::Result<Mspt> {
    let mut gauges = Vec::new();
    let mut series = Vec::new();
    let mut buckets = Vec::new();
    let (mut sum_delta, mut count_delta) = (0.0, 0.0);
    for (key, &value) in end {
        let name = metric_name(key);
        if !about_ticks(name) {
            continue;
        }
        if !series.iter().any(|s| s == name) {
            series.push(name.to_owned());
        }
        if let Some(base) = name.strip_suffix("_bucket") {
            if let Some(le) = bucket_bound(key) {
                let before = start.get(key).copied().unwrap_or(0.0);
                buckets.push((le * to_ms(base), value - before));
            }
        } else if let Some(base) = name.strip_suffix("_sum") {
            let count_key = key.replacen("_sum", "_count", 1);
            if let Some(count) = end.get(&count_key) {
                let before = |k: &str| start.get(k).copied().unwrap_or(0.0);
                sum_delta += (value - before(key)) * to_ms(base);
                count_delta += count - before(&count_key);
            }
        } else if !name.ends_with("_count") && !name.ends_with("_bucket") {
            gauges.push(value * to_ms(name));
        }
    }
    if series.is_empty() {
        bail!("no MSPT or tick-time metric");
    }
    let gauge_mean_ms =
        (!gauges.is_empty()).then(|| gauges.iter().sum::<f64>() / gauges.len() as f64);
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let quantile = |q: f64| bucket_quantile(&buckets, q);
    Ok(Mspt {
        gauge_mean_ms,
        gauge_max_ms: gauges.iter().copied().reduce(f64::max),
        window_mean_ms: (count_delta > 0.0).then(|| sum_delta / count_delta),
        window_ticks: (count_delta > 0.0).then_some(count_delta),
        window_p50_ms: quantile(0.50),
        window_p95_ms: quantile(0.95),
        window_p99_ms: quantile(0.99),
        metrics: series,
    })
}

/// The `le` label of a histogram bucket, `+Inf` included.
fn bucket_bound(series: &str) -> Option<f64> {
    let rest = &series[series.find("le=\"")? + 4..];
    let value = &rest[..rest.find('"')?];
    match value {
        "+Inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

/// The upper bound of the first bucket whose cumulative count reaches the
/// `q` quantile; `buckets` are (bound, cumulative count), sorted by bound.
fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    buckets
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(bound, _)| *bound)
        .filter(|bound| bound.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_samples_with_labels_containing_spaces() {
        let text = "# HELP x y\n# TYPE a gauge\na 1\nb{region=\"0 0\"} 2.5 1700000000\n\nbad\n";
        let s = parse(text);
        assert_eq!(s["a"], 1.0);
        assert_eq!(s["b{region=\"0 0\"}"], 2.5);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn percentiles_from_histogram_buckets_over_the_window() {
        let start = parse(
            "t_tick_duration_seconds_bucket{le=\"0.001\"} 100\n\
             t_tick_duration_seconds_bucket{le=\"0.01\"} 100\n\
             t_tick_duration_seconds_bucket{le=\"+Inf\"} 100\n",
        );
        let end = parse(
            "t_tick_duration_seconds_bucket{le=\"0.001\"} 190\n\
             t_tick_duration_seconds_bucket{le=\"0.01\"} 199\n\
             t_tick_duration_seconds_bucket{le=\"+Inf\"} 200\n",
        );
        let m = mspt(&start, &end).unwrap();
        assert_eq!(m.window_p50_ms, Some(1.0));
        assert_eq!(m.window_p95_ms, Some(10.0));
        assert_eq!(m.window_p99_ms, Some(10.0));
        assert_eq!(
            bucket_quantile(&[(1.0, 0.0), (f64::INFINITY, 10.0)], 0.5),
            None
        );
    }

    #[test]
    fn mspt_from_gauges_and_from_summaries() {
        let start = parse("tick_time_seconds_sum 1.0\ntick_time_seconds_count 100\n");
        let end = parse(
            "region_mspt{r=\"0\"} 2\nregion_mspt{r=\"1\"} 4\n\
             tick_time_seconds_sum 1.5\ntick_time_seconds_count 200\nplayers 9\n",
        );
        let m = mspt(&start, &end).unwrap();
        assert_eq!(m.gauge_mean_ms, Some(3.0));
        assert_eq!(m.gauge_max_ms, Some(4.0));
        assert_eq!(m.window_mean_ms, Some(5.0));
        assert_eq!(
            m.metrics,
            [
                "region_mspt",
                "tick_time_seconds_count",
                "tick_time_seconds_sum"
            ]
        );
        assert!(mspt(&start, &parse("players 9\n")).is_err());
    }
}
