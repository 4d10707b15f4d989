//! Counters shared by bench tasks, the once-a-second live line, HDR latency histograms and
//! percentile summaries.
//!
//! Each task records latencies into its own histogram (no lock on the hot path); the
//! histograms are merged once at the end. Per-second figures come from atomic counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_client::CancellationToken;
use hdrhistogram::Histogram;

/// Highest latency a histogram records (longer ones are clamped): 10 minutes, in ns.
pub const MAX_RECORDED_NS: u64 = 600_000_000_000;

/// A latency histogram in nanoseconds with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (low >= 1, high >= 2 * low, sigfig <= 5).
    Histogram::new_with_bounds(1, MAX_RECORDED_NS, 3).expect("constant histogram bounds are valid")
}

/// Records `ns` into `histogram`, clamped to the recordable range.
pub fn record(histogram: &mut Histogram<u64>, ns: u64) {
    histogram.saturating_record(ns.clamp(1, MAX_RECORDED_NS));
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Percentiles {
    /// Percentiles of a nanosecond histogram.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: histogram.len(),
            mean_us: histogram.mean() / 1000.0,
            p50_us: us(histogram.value_at_quantile(0.50)),
            p90_us: us(histogram.value_at_quantile(0.90)),
            p99_us: us(histogram.value_at_quantile(0.99)),
            p999_us: us(histogram.value_at_quantile(0.999)),
            max_us: us(histogram.max()),
        }
    }

    /// `p50 .. max` on one line.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.1} us | p90 {:.1} us | p99 {:.1} us | p999 {:.1} us | max {:.1} us (mean {:.1} us, {} samples)",
            self.p50_us, self.p90_us, self.p99_us, self.p999_us, self.max_us, self.mean_us, self.count
        )
    }

    /// As a JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "mean": round(self.mean_us),
            "p50": round(self.p50_us),
            "p90": round(self.p90_us),
            "p99": round(self.p99_us),
            "p999": round(self.p999_us),
            "max": round(self.max_us),
        })
    }
}

/// Rounds to 0.1 for printing.
pub fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Counters updated by every task, read by the live line and the summary.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages acknowledged (produce) or received (consume).
    pub messages: AtomicU64,
    /// Requests that succeeded (sends, or pulls that found messages).
    pub requests: AtomicU64,
    /// Body bytes of `messages`.
    pub bytes: AtomicU64,
    /// Requests with no response: connect errors, timeouts, closed connections.
    pub send_failed: AtomicU64,
    /// Requests the server answered with an error code.
    pub response_failed: AtomicU64,
    /// Sum of latencies of this second's samples (ns); swapped out by the live line.
    pub rt_sum_ns: AtomicU64,
    /// Samples in `rt_sum_ns`.
    pub rt_count: AtomicU64,
    /// Largest latency of this second (ns); swapped out by the live line.
    pub rt_max_ns: AtomicU64,
}

impl Counters {
    /// Adds one latency sample to the per-second figures.
    pub fn sample(&self, ns: u64) {
        self.rt_sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.rt_count.fetch_add(1, Ordering::Relaxed);
        self.rt_max_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

/// Which live line to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// RocketMQ producer benchmark style.
    Producer,
    /// RocketMQ consumer benchmark style (latency = born-to-consume).
    Consumer,
}

/// Prints one line per second until `stop` is cancelled; to stderr when `to_stderr` (so
/// `--json` keeps stdout for the summary).
pub fn spawn_live_line(
    counters: Arc<Counters>,
    kind: LineKind,
    to_stderr: bool,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut ticker = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut last_messages, mut last_bytes, mut last_at) = (0u64, 0u64, start);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let now = tokio::time::Instant::now();
            let secs = now.duration_since(last_at).as_secs_f64().max(1e-9);
            let messages = counters.messages.load(Ordering::Relaxed);
            let bytes = counters.bytes.load(Ordering::Relaxed);
            let rt_sum = counters.rt_sum_ns.swap(0, Ordering::Relaxed);
            let rt_count = counters.rt_count.swap(0, Ordering::Relaxed);
            let rt_max = counters.rt_max_ns.swap(0, Ordering::Relaxed);
            let tps = (messages - last_messages) as f64 / secs;
            let mb = (bytes - last_bytes) as f64 / secs / 1e6;
            let avg_ms = if rt_count == 0 {
                0.0
            } else {
                rt_sum as f64 / rt_count as f64 / 1e6
            };
            let max_ms = rt_max as f64 / 1e6;
            let elapsed = now.duration_since(start).as_secs();
            let line = match kind {
                LineKind::Producer => format!(
                    "[{elapsed:>4}s] Send TPS: {tps:.0} | MB/s: {mb:.1} | Max RT(ms): {max_ms:.3} | Average RT(ms): {avg_ms:7.3} | Send Failed: {} | Response Failed: {}",
                    counters.send_failed.load(Ordering::Relaxed),
                    counters.response_failed.load(Ordering::Relaxed),
                ),
                LineKind::Consumer => format!(
                    "[{elapsed:>4}s] Consume TPS: {tps:.0} | MB/s: {mb:.1} | AVG(B2C) RT(ms): {avg_ms:7.3} | MAX(B2C) RT(ms): {max_ms:.3} | Pull Failed: {}",
                    counters.send_failed.load(Ordering::Relaxed) + counters.response_failed.load(Ordering::Relaxed),
                ),
            };
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            (last_messages, last_bytes, last_at) = (messages, bytes, now);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram_in_microseconds() {
        // Goal: p50/p99/max read the recorded distribution, converted ns -> us.
        // Method: 1..=1000 us recorded once each.
        let mut histogram = new_histogram();
        for us in 1..=1000u64 {
            record(&mut histogram, us * 1000);
        }
        let p = Percentiles::of(&histogram);
        assert_eq!(p.count, 1000);
        assert!((p.p50_us - 500.0).abs() <= 1.0, "{p:?}");
        assert!((p.p99_us - 990.0).abs() <= 1.0, "{p:?}");
        assert!((p.max_us - 1000.0).abs() <= 1.0, "{p:?}");
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }
}
