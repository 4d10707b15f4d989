//! `BrokerMetrics`: counters by request and response code, put / get totals and the put latency
//! distribution (Java's `putMessageDistributeTime` buckets), reported by
//! GET_BROKER_RUNTIME_INFO.
//!
//! Invariant: recording never blocks on I/O; the per-code map is bounded by the codes the
//! dispatcher routes (unknown codes are answered before reaching it) times the response codes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::group_tps::GroupTps;

/// Upper bounds (ms, inclusive) of the put latency buckets; the last bucket is "more".
pub const PUT_LATENCY_BUCKETS_MS: [u64; 12] = [0, 10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000];

/// Request codes whose SUCCESS answers are counted without the lock (all routed codes are
/// below it; a larger one falls back to the map).
const COUNTED_SUCCESS_CODES: usize = 512;

#[derive(Debug)]
struct SuccessCounts(Box<[AtomicU64]>);

impl Default for SuccessCounts {
    fn default() -> Self {
        SuccessCounts((0..COUNTED_SUCCESS_CODES).map(|_| AtomicU64::new(0)).collect())
    }
}

impl SuccessCounts {
    fn slot(&self, request_code: i32, response_code: i32) -> Option<&AtomicU64> {
        if response_code != 0 {
            return None;
        }
        usize::try_from(request_code).ok().and_then(|i| self.0.get(i))
    }
}

/// Broker counters.
#[derive(Debug, Default)]
pub struct BrokerMetrics {
    put_messages: AtomicU64,
    put_bytes: AtomicU64,
    put_failures: AtomicU64,
    get_messages: AtomicU64,
    get_bytes: AtomicU64,
    put_latency: [AtomicU64; PUT_LATENCY_BUCKETS_MS.len() + 1],
    /// SUCCESS answers by request code, for codes below [`COUNTED_SUCCESS_CODES`] (every send
    /// answers one: an atomic add instead of a lock and a map lookup per message).
    successes: SuccessCounts,
    /// Every other (request code, response code) pair.
    responses: Mutex<BTreeMap<(i32, i32), u64>>,
    /// Pulled messages per (topic, group) over the last minute (GET_CONSUME_STATS `consumeTps`).
    pub group_gets: GroupTps,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl BrokerMetrics {
    /// A put of `messages` records, `bytes` bytes, that took `elapsed` (queueing included).
    pub fn record_put(&self, messages: usize, bytes: usize, elapsed: Duration) {
        add(&self.put_messages, messages);
        add(&self.put_bytes, bytes);
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let bucket = PUT_LATENCY_BUCKETS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(PUT_LATENCY_BUCKETS_MS.len());
        if let Some(counter) = self.put_latency.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A put the store refused.
    pub fn record_put_failure(&self) {
        self.put_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Messages and bytes returned by a pull.
    pub fn record_get(&self, messages: usize, bytes: usize) {
        add(&self.get_messages, messages);
        add(&self.get_bytes, bytes);
    }

    /// Messages returned by a pull to `group` from `topic` (feeds `consumeTps`).
    pub fn record_group_get(&self, topic: &str, group: &str, messages: usize) {
        self.group_gets
            .record(topic, group, u64::try_from(messages).unwrap_or(u64::MAX), unix_secs());
    }

    /// Messages per second pulled by `group` from `topic` over the last minute.
    pub fn group_get_tps(&self, topic: &str, group: &str) -> f64 {
        self.group_gets.tps(topic, group, unix_secs())
    }

    /// One answered request.
    pub fn record_response(&self, request_code: i32, response_code: i32) {
        if let Some(slot) = self.successes.slot(request_code, response_code) {
            slot.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((request_code, response_code))
            .or_default() += 1;
    }

    /// Messages stored since start.
    pub fn put_messages(&self) -> u64 {
        self.put_messages.load(Ordering::Relaxed)
    }

    /// Messages returned by pulls since start.
    pub fn get_messages(&self) -> u64 {
        self.get_messages.load(Ordering::Relaxed)
    }

    /// Responses sent with `response_code` to requests of `request_code`.
    pub fn responses(&self, request_code: i32, response_code: i32) -> u64 {
        if let Some(slot) = self.successes.slot(request_code, response_code) {
            return slot.load(Ordering::Relaxed);
        }
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(request_code, response_code))
            .copied()
            .unwrap_or(0)
    }

    /// Key/value pairs for GET_BROKER_RUNTIME_INFO.
    pub fn runtime_info(&self) -> BTreeMap<String, String> {
        let mut info = BTreeMap::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        info.insert("msgPutTotalTodayNow".to_owned(), load(&self.put_messages));
        info.insert("msgPutTotalBytes".to_owned(), load(&self.put_bytes));
        info.insert("putMessageFailedTimes".to_owned(), load(&self.put_failures));
        info.insert("msgGetTotalTodayNow".to_owned(), load(&self.get_messages));
        info.insert("msgGetTotalBytes".to_owned(), load(&self.get_bytes));
        let mut distribution = String::new();
        let mut lower = 0;
        for (i, counter) in self.put_latency.iter().enumerate() {
            let label = match PUT_LATENCY_BUCKETS_MS.get(i) {
                Some(0) => "[<=0ms]".to_owned(),
                Some(upper) => format!("[{lower}~{upper}ms]"),
                None => format!("[{lower}ms~]"),
            };
            lower = PUT_LATENCY_BUCKETS_MS.get(i).copied().unwrap_or(lower);
            distribution.push_str(&format!("{label}:{} ", counter.load(Ordering::Relaxed)));
        }
        info.insert(
            "putMessageDistributeTime".to_owned(),
            distribution.trim_end().to_owned(),
        );
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: puts land in the right latency bucket and totals add up. Method: three puts.
    #[test]
    fn puts_are_counted_and_bucketed() {
        let metrics = BrokerMetrics::default();
        metrics.record_put(1, 100, Duration::ZERO);
        metrics.record_put(3, 300, Duration::from_millis(7));
        metrics.record_put(1, 10, Duration::from_secs(60));
        assert_eq!(metrics.put_messages(), 5);
        let info = metrics.runtime_info();
        let distribution = &info["putMessageDistributeTime"];
        assert!(distribution.starts_with("[<=0ms]:1 [0~10ms]:1 "), "{distribution}");
        assert!(distribution.ends_with("[10000ms~]:1"), "{distribution}");
        metrics.record_response(10, 0);
        metrics.record_response(10, 0);
        metrics.record_response(10, 17);
        metrics.record_response(4000, 0);
        metrics.record_response(-1, 0);
        assert_eq!(metrics.responses(10, 0), 2);
        assert_eq!(metrics.responses(10, 17), 1);
        assert_eq!(metrics.responses(4000, 0), 1);
        assert_eq!(metrics.responses(-1, 0), 1);
        assert_eq!(metrics.responses(11, 0), 0);
    }
}
