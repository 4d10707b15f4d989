//! Per (topic, consumer group) rate of messages returned by pulls over the last minute: the
//! `consumeTps` of GET_CONSUME_STATS (Java `BrokerStatsManager.tpsGroupGetNums`, the
//! `GROUP_GET_NUMS` stats item's per-minute rate).
//!
//! Components: [`GroupTps`], a bounded map of small rings of 10-second buckets.
//!
//! Invariants:
//! - a rate covers whole buckets of the last [`WINDOW_SECS`] seconds and is messages / 60 s, so a
//!   group that pulled 600 messages in the last minute reports 10.0;
//! - memory is bounded: at most [`MAX_TRACKED`] pairs, each at most `WINDOW_SECS / BUCKET_SECS + 1`
//!   buckets; pairs beyond the bound are not tracked (their rate reads 0) and this is logged once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// Length of the rate window.
pub const WINDOW_SECS: u64 = 60;
/// Width of one bucket.
pub const BUCKET_SECS: u64 = 10;
/// Most (topic, group) pairs tracked.
pub const MAX_TRACKED: usize = 65_536;

/// Buckets of one pair: (bucket start in seconds, messages), oldest first.
type Buckets = VecDeque<(u64, u64)>;

/// Pairs by topic, then group (looked up with borrowed names: no allocation per pull).
#[derive(Debug, Default)]
struct Pairs {
    by_topic: HashMap<String, HashMap<String, Buckets>>,
    count: usize,
}

/// The per-pair pulled-message rates.
#[derive(Debug, Default)]
pub struct GroupTps {
    pairs: Mutex<Pairs>,
    full_logged: AtomicBool,
}

fn bucket_of(now_secs: u64) -> u64 {
    now_secs - now_secs % BUCKET_SECS
}

/// Drops buckets that ended before the window starting `WINDOW_SECS` before `now_secs`.
fn expire(buckets: &mut Buckets, now_secs: u64) {
    let oldest_kept = bucket_of(now_secs).saturating_sub(WINDOW_SECS - BUCKET_SECS);
    while buckets.front().is_some_and(|(start, _)| *start < oldest_kept) {
        buckets.pop_front();
    }
}

impl GroupTps {
    /// Counts `messages` returned to `group` from `topic` at `now_secs` (Unix seconds).
    pub fn record(&self, topic: &str, group: &str, messages: u64, now_secs: u64) {
        if messages == 0 {
            return;
        }
        let mut pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
        let pairs = &mut *pairs;
        let tracked = pairs.by_topic.get(topic).is_some_and(|g| g.contains_key(group));
        if !tracked {
            if pairs.count >= MAX_TRACKED {
                if !self.full_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max = MAX_TRACKED,
                        "consume rate table full; new (topic, group) pairs read 0 TPS"
                    );
                }
                return;
            }
            pairs.count += 1;
        }
        let groups = match pairs.by_topic.get_mut(topic) {
            Some(groups) => groups,
            None => pairs.by_topic.entry(topic.to_owned()).or_default(),
        };
        let buckets = match groups.get_mut(group) {
            Some(buckets) => buckets,
            None => groups.entry(group.to_owned()).or_default(),
        };
        expire(buckets, now_secs);
        let start = bucket_of(now_secs);
        match buckets.back_mut() {
            Some((last, count)) if *last == start => *count += messages,
            _ => buckets.push_back((start, messages)),
        }
    }

    /// Messages per second returned to `group` from `topic` over the last minute.
    pub fn tps(&self, topic: &str, group: &str, now_secs: u64) -> f64 {
        let mut pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
        let pairs = &mut *pairs;
        let Some(groups) = pairs.by_topic.get_mut(topic) else {
            return 0.0;
        };
        let Some(buckets) = groups.get_mut(group) else {
            return 0.0;
        };
        expire(buckets, now_secs);
        if buckets.is_empty() {
            groups.remove(group);
            pairs.count = pairs.count.saturating_sub(1);
            if groups.is_empty() {
                pairs.by_topic.remove(topic);
            }
            return 0.0;
        }
        let total: u64 = buckets.iter().map(|(_, n)| n).sum();
        total as f64 / WINDOW_SECS as f64
    }

    /// Forgets every pair of a deleted topic or group.
    pub fn forget(&self, topic: Option<&str>, group: Option<&str>) {
        let mut pairs = self.pairs.lock().unwrap_or_else(PoisonError::into_inner);
        let pairs = &mut *pairs;
        pairs.by_topic.retain(|t, groups| {
            if topic.is_some_and(|x| x == t) {
                return false;
            }
            groups.retain(|g, _| group.is_none_or(|x| x != g));
            !groups.is_empty()
        });
        pairs.count = pairs.by_topic.values().map(HashMap::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the rate is the last minute's messages / 60 and old buckets fall out. Method: record
    // at chosen times, read the rate at later times.
    #[test]
    fn rate_covers_the_last_minute_only() {
        let tps = GroupTps::default();
        tps.record("T", "G", 300, 1_000);
        tps.record("T", "G", 300, 1_005);
        tps.record("T", "G", 600, 1_031);
        assert_eq!(tps.tps("T", "G", 1_031), 20.0);
        // At 1,065 the window keeps buckets starting at 1,010 or later: only the 1,030 one.
        assert_eq!(tps.tps("T", "G", 1_065), 10.0);
        assert_eq!(tps.tps("T", "G", 1_200), 0.0);
        assert_eq!(tps.tps("T", "other", 1_031), 0.0);
    }

    // Goal: pairs are independent and forget() removes a topic's or group's pairs. Method:
    // record on three pairs, forget one topic and one group.
    #[test]
    fn pairs_are_independent_and_forgotten() {
        let tps = GroupTps::default();
        tps.record("A", "G1", 60, 10);
        tps.record("A", "G2", 120, 10);
        tps.record("B", "G1", 180, 10);
        assert_eq!(tps.tps("A", "G2", 10), 2.0);
        tps.forget(Some("B"), None);
        assert_eq!(tps.tps("B", "G1", 10), 0.0);
        assert_eq!(tps.tps("A", "G1", 10), 1.0);
        tps.forget(None, Some("G1"));
        assert_eq!(tps.tps("A", "G1", 10), 0.0);
        assert_eq!(tps.tps("A", "G2", 10), 2.0);
    }

    // Goal: the table is bounded. Method: fill it to MAX_TRACKED and record one more pair.
    #[test]
    fn table_is_bounded() {
        let tps = GroupTps::default();
        for i in 0..MAX_TRACKED {
            tps.record("T", &i.to_string(), 60, 0);
        }
        tps.record("T", "one-more", 60, 0);
        assert_eq!(tps.tps("T", "one-more", 0), 0.0);
        assert_eq!(tps.tps("T", "0", 0), 1.0);
    }
}
