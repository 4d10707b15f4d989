//! Dispatch ("reput"): follows the CommitLog and builds ConsumeQueue and IndexFile entries from
//! it, so both can always be rebuilt from the CommitLog; notifies arrival listeners; and
//! periodically syncs them and writes the checkpoint.
//!
//! Rules (RocketMQ `CommitLogDispatcherBuildConsumeQueue` / `BuildIndex`):
//! - only NOT and COMMIT transaction types get a ConsumeQueue entry;
//! - tags code = Java hash of TAGS, except in `SCHEDULE_TOPIC_XXXX` where it is the deliver time
//!   (store time + delay of the DELAY level);
//! - index keys are `topic#UNIQ_KEY` and `topic#k` for each space-separated KEYS token; ROLLBACK
//!   records are not indexed.
//!
//! Components: [`dispatch_locked`] scans CommitLog records in place (`view::RecordView`, no
//! owned `MessageRecord`), writes index entries per record and appends ConsumeQueue entries to
//! their queues' pending tails through a [`CqBatch`] of at most `MAX_BATCH_RECORDS` records of
//! one CommitLog segment; tails are written when full, old, over the memory cap, or drained
//! (see `consume_queue_tail.rs`). Under ASYNC_FLUSH a publish dispatches on the publishing
//! thread (`MessageStore::publish`), from the bytes it just committed ([`dispatch_committed`]:
//! they are still in its write buffer, while reading them back through the mapping would take a
//! page fault per fresh page); the dispatch thread catches up on what is left (SYNC_FLUSH group
//! commits, errors). It also writes the checkpoint every
//! `flushIntervalConsumeQueue` and drains all tails once dispatch has been idle for
//! `IDLE_DRAIN`.
//!
//! Invariants:
//! - `reput_offset` only moves past a record after its ConsumeQueue entry is readable (in a
//!   pending tail or written): it advances once per batch, after the batch's entries were
//!   appended (listeners are notified then);
//! - the checkpoint's dispatched offset is `min(reput, flushed, oldest pending entry)`, taken
//!   before syncing ConsumeQueue and IndexFile: it never claims an entry that was not written
//!   and synced, and it never lies past CommitLog bytes that are not durable, so recovery always
//!   starts validating at or below the durable end of the CommitLog and re-dispatches every
//!   entry that was still pending.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferromq_protocol::message::{java_hash, peek_record_header, properties, sys_flag, MessageRecord, RecordKind};

use crate::checkpoint::CheckpointData;
use crate::consume_queue::{CqBatch, CqEntry};
use view::RecordView;

#[path = "dispatch_view.rs"]
mod view;
use crate::error::{StoreError, StoreResult};
use crate::store::StoreInner;

/// The schedule topic of delayed messages.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// Tags code of a record for its ConsumeQueue entry.
pub fn tags_code(record: &MessageRecord, delay_levels_ms: &[i64]) -> i64 {
    tags_code_of(
        &record.topic,
        &record.properties,
        record.store_timestamp,
        delay_levels_ms,
    )
}

/// The properties dispatch reads, found in one pass over the encoded string (rather than one
/// `property_value` scan each). As with `property_value`, the last valid pair of a name wins.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct DispatchProps<'a> {
    tags: Option<&'a str>,
    delay: Option<&'a str>,
    uniq_key: Option<&'a str>,
    keys: Option<&'a str>,
}

impl<'a> DispatchProps<'a> {
    fn scan(props: &'a str) -> Self {
        let mut out = DispatchProps::default();
        for (name, value) in properties::pairs(props) {
            let slot = match name {
                properties::TAGS => &mut out.tags,
                properties::DELAY => &mut out.delay,
                properties::UNIQ_KEY => &mut out.uniq_key,
                properties::KEYS => &mut out.keys,
                _ => continue,
            };
            *slot = Some(value);
        }
        out
    }
}

/// [`tags_code`] from the borrowed fields of a record.
fn tags_code_of(topic: &str, props: &str, store_timestamp: i64, delay_levels_ms: &[i64]) -> i64 {
    tags_code_from(topic, &DispatchProps::scan(props), store_timestamp, delay_levels_ms)
}

fn tags_code_from(topic: &str, props: &DispatchProps<'_>, store_timestamp: i64, delay_levels_ms: &[i64]) -> i64 {
    if topic == SCHEDULE_TOPIC {
        let level = props.delay.and_then(|d| d.parse::<usize>().ok());
        if let Some(level) = level.filter(|l| *l > 0) {
            let idx = level.min(delay_levels_ms.len()).saturating_sub(1);
            return store_timestamp + delay_levels_ms.get(idx).copied().unwrap_or(0);
        }
    }
    props.tags.map_or(0, |t| i64::from(java_hash(t)))
}

/// Most records one dispatch batch holds before its ConsumeQueue entries are written and
/// `reput_offset` advances (bounds the delay readers and listeners see).
const MAX_BATCH_RECORDS: usize = 4096;

/// Builds the IndexFile entries of one record and appends its ConsumeQueue entry via `batch`.
fn dispatch_view(inner: &StoreInner, r: &RecordView<'_>, size: i32, batch: &mut CqBatch) -> StoreResult<()> {
    let tx = sys_flag::transaction_type(r.sys_flag);
    let props = DispatchProps::scan(r.properties);
    if tx == sys_flag::TRANSACTION_NOT_TYPE || tx == sys_flag::TRANSACTION_COMMIT_TYPE {
        let entry = CqEntry {
            phy_offset: r.phy_offset,
            size,
            tags_code: tags_code_from(r.topic, &props, r.store_timestamp, &inner.delay_levels_ms),
        };
        batch.push(&inner.cq, r.topic, r.queue_id, r.queue_offset, entry, r.store_timestamp)?;
    }
    if let Some(index) = &inner.index {
        if tx != sys_flag::TRANSACTION_ROLLBACK_TYPE {
            let (uniq, keys) = (props.uniq_key, props.keys);
            let listed = keys.into_iter().flat_map(|ks| ks.split(properties::KEY_SEPARATOR));
            let mut all = uniq.into_iter().chain(listed).filter(|k| !k.is_empty()).peekable();
            if all.peek().is_some() {
                index.put_keys(r.topic, all, r.phy_offset, r.store_timestamp)?;
            }
        }
    }
    batch.max_timestamp = batch.max_timestamp.max(r.store_timestamp.max(0) as u64);
    Ok(())
}

/// Ends the batch (full and due tails written), notifies listeners, then publishes `reput`
/// (the CommitLog offset just past the batch's last record): entries are readable before the
/// offset that claims them.
fn commit_batch(inner: &StoreInner, batch: &mut CqBatch, reput: u64) -> StoreResult<()> {
    batch.finish(&inner.cq)?;
    if !batch.arrived.is_empty() {
        let listeners = inner.listeners.read().unwrap_or_else(|e| e.into_inner());
        for (topic, queue_id, max) in &batch.arrived {
            for l in listeners.iter() {
                l(topic, *queue_id, *max);
            }
        }
    }
    batch.arrived.clear();
    inner
        .last_dispatched_timestamp
        .fetch_max(batch.max_timestamp, Ordering::AcqRel);
    inner.reput_offset.store(reput, Ordering::Release);
    batch.records = 0;
    Ok(())
}

/// Dispatches every published record past `reput_offset`. Returns the number dispatched.
pub(crate) fn dispatch_available(inner: &StoreInner) -> StoreResult<u64> {
    let _guard = inner.dispatch_lock.lock().unwrap_or_else(|e| e.into_inner());
    dispatch_locked(inner)
}

/// Dispatches the records of `bytes`, which a publish just committed at CommitLog `offset` and
/// which are readable now, reading them from that memory rather than through the mapping (whose
/// fresh pages would each cost a page fault here), when they are the next records to dispatch;
/// otherwise leaves them to [`dispatch_available`]. A BLANK marker and anything after it are
/// left to it too. Returns the number dispatched.
pub(crate) fn dispatch_committed(inner: &StoreInner, offset: u64, bytes: &[u8]) -> StoreResult<u64> {
    let _guard = inner.dispatch_lock.lock().unwrap_or_else(|e| e.into_inner());
    let mut reput = inner.reput_offset.load(Ordering::Acquire);
    if reput != offset {
        return Ok(0);
    }
    let mut batch = CqBatch::new(&inner.cq);
    let mut count = 0;
    dispatch_records(inner, &mut batch, &mut reput, &mut count, bytes)?;
    if batch.records > 0 {
        commit_batch(inner, &mut batch, reput)?;
    }
    Ok(count)
}

/// Where [`dispatch_records`] stopped.
enum Stop {
    /// At the end of the bytes.
    End,
    /// At a BLANK marker (not dispatched): the rest of the segment is unused.
    Blank,
}

/// Dispatches the message records at the start of `bytes`, the CommitLog bytes from `*reput`,
/// advancing `*reput` and `*count` past each. Batches are committed when full; the caller
/// commits the last one.
fn dispatch_records(
    inner: &StoreInner,
    batch: &mut CqBatch,
    reput: &mut u64,
    count: &mut u64,
    bytes: &[u8],
) -> StoreResult<Stop> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = peek_record_header(rest).map_err(|e| corrupt(*reput, e))?;
        match header.kind() {
            RecordKind::Message(version) => {
                let view = match RecordView::parse(rest, header.total_size, version) {
                    Ok(view) => view,
                    Err(e) => {
                        commit_batch(inner, batch, *reput)?;
                        return Err(corrupt(*reput, e));
                    }
                };
                dispatch_view(inner, &view, header.total_size, batch)?;
                // `parse` checked 0 < total_size <= rest.len().
                let size = header.total_size as usize;
                rest = rest.get(size..).unwrap_or_default();
                *reput += size as u64;
                *count += 1;
                batch.records += 1;
                if batch.records >= MAX_BATCH_RECORDS {
                    commit_batch(inner, batch, *reput)?;
                }
            }
            RecordKind::Blank => return Ok(Stop::Blank),
            RecordKind::EndOfData | RecordKind::Garbage => {
                commit_batch(inner, batch, *reput)?;
                return Err(corrupt(
                    *reput,
                    format!("unexpected magic {:#x} in published data", header.magic),
                ));
            }
        }
    }
    Ok(Stop::End)
}

/// [`dispatch_available`] for a caller already holding `dispatch_lock`.
///
/// Records are dispatched in batches of consecutive records of one CommitLog segment: index
/// entries are written per record, ConsumeQueue entries are appended to pending tails (see
/// [`CqBatch`]), and `reput_offset` advances at the end of the batch. On an error
/// `reput_offset` stays at the batch start, so the retry re-dispatches the batch (an entry
/// already pending is skipped, a written one rewritten: ConsumeQueue writes are idempotent).
pub(crate) fn dispatch_locked(inner: &StoreInner) -> StoreResult<u64> {
    let cl = &inner.commit_log;
    let mut count = 0;
    let mut batch = CqBatch::new(&inner.cq);
    loop {
        let mut reput = inner.reput_offset.load(Ordering::Acquire);
        if reput < cl.min_offset() {
            reput = cl.min_offset();
            inner.reput_offset.store(reput, Ordering::Release);
        }
        if reput >= cl.max_offset() {
            return Ok(count);
        }
        let Some((file, bytes)) = cl.view_to_segment_end(reput) else {
            return Ok(count);
        };
        match dispatch_records(inner, &mut batch, &mut reput, &mut count, &bytes)? {
            Stop::Blank => commit_batch(inner, &mut batch, file.start_offset() + file.file_size())?,
            Stop::End if batch.records > 0 => commit_batch(inner, &mut batch, reput)?,
            Stop::End => {}
        }
    }
}

fn corrupt(phy_offset: u64, reason: impl std::fmt::Display) -> StoreError {
    StoreError::CorruptRecord {
        phy_offset: phy_offset as i64,
        reason: reason.to_string(),
    }
}

/// Writes every pending ConsumeQueue tail, syncs ConsumeQueue and IndexFile and writes the
/// checkpoint (shutdown, recovery, `checkpoint_now`, topic deletion).
pub(crate) fn flush_and_checkpoint(inner: &StoreInner) -> StoreResult<()> {
    checkpoint(inner, true)
}

/// Syncs ConsumeQueue and IndexFile and writes the checkpoint; `drain` first writes every
/// pending tail, otherwise the dispatched offset stops at the oldest pending entry.
///
/// The dispatched offset written is `min(reput, flushed, oldest pending)`, read before the
/// sync: every entry below it was appended before `reput` was published and is no longer
/// pending, so its write returned before the sync below. It must never lie past CommitLog bytes
/// that are not durable either: recovery validates the CommitLog only from the segment holding
/// it (under ASYNC_FLUSH dispatch runs ahead of the flush; a power loss would then tear records
/// below the checkpoint that recovery never looks at). `flushed` is the CommitLog's durable
/// offset, which only advances after its fsync returned.
fn checkpoint(inner: &StoreInner, drain: bool) -> StoreResult<()> {
    let flushed = inner.commit_log.flushed_offset();
    let reput = inner.reput_offset.load(Ordering::Acquire);
    let mut logics_ts = inner.last_dispatched_timestamp.load(Ordering::Acquire) as i64;
    if drain {
        inner.cq.write_all_pending()?;
    }
    let mut dispatched = reput.min(flushed);
    if let Some(oldest) = inner.cq.oldest_pending() {
        dispatched = dispatched.min(u64::try_from(oldest.phy_offset).unwrap_or(0));
        logics_ts = logics_ts.min(oldest.store_timestamp.saturating_sub(1));
    }
    inner.cq.flush()?;
    if let Some(index) = &inner.index {
        index.flush()?;
    }
    let mut data = inner.checkpoint_data.lock().unwrap_or_else(|e| e.into_inner());
    let physic_ts = inner.commit_log.flushed_timestamp();
    *data = CheckpointData {
        physic_msg_timestamp: physic_ts.max(data.physic_msg_timestamp),
        logics_msg_timestamp: logics_ts.max(data.logics_msg_timestamp),
        index_msg_timestamp: logics_ts.max(data.index_msg_timestamp),
        dispatched_phy_offset: dispatched as i64,
        physic_flushed_offset: flushed as i64,
        ..*data
    };
    inner.checkpoint.write(&data)
}

/// Starts the dispatch thread.
pub(crate) fn spawn(inner: Arc<StoreInner>) -> StoreResult<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ferromq-dispatch".into())
        .spawn(move || run(&inner))
        .map_err(|e| StoreError::io("spawn dispatch thread", inner_root(), e))
}

fn inner_root() -> std::path::PathBuf {
    std::path::PathBuf::from("<thread>")
}

/// After dispatch found nothing new for this long, every pending tail is written (a quiet
/// store then holds no pending entry and its next checkpoint covers everything dispatched).
const IDLE_DRAIN: Duration = Duration::from_secs(1);

fn run(inner: &StoreInner) {
    let cq_interval = Duration::from_millis(inner.config.flush_interval_consume_queue);
    let mut last_checkpoint = Instant::now();
    let mut last_record = Instant::now();
    let mut last_reput = inner.reput_offset.load(Ordering::Acquire);
    loop {
        let shutdown = inner.wait_signal(Duration::from_millis(10).min(cq_interval));
        if shutdown {
            return;
        }
        if let Err(e) = dispatch_available(inner) {
            tracing::warn!(error = %e, "dispatch failed; retrying");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Publishes usually dispatch themselves: "idle" means the dispatched offset stood still.
        let reput = inner.reput_offset.load(Ordering::Acquire);
        if reput != last_reput {
            last_reput = reput;
            last_record = Instant::now();
        }
        let now = Instant::now();
        let tails = if now.duration_since(last_record) >= IDLE_DRAIN {
            inner.cq.write_all_pending()
        } else {
            inner.cq.write_due_tails(now)
        };
        if let Err(e) = tails {
            tracing::warn!(error = %e, "writing pending ConsumeQueue entries failed; retrying");
        }
        if last_checkpoint.elapsed() >= cq_interval {
            last_checkpoint = Instant::now();
            if let Err(e) = checkpoint(inner, false) {
                tracing::warn!(error = %e, "ConsumeQueue flush / checkpoint failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    // Goal: tags code is the Java hash of TAGS, and the deliver time for SCHEDULE_TOPIC_XXXX.
    // Method: records with TAGS / DELAY properties and a known store time.
    #[test]
    fn tags_code_is_tag_hash_or_deliver_time_for_schedule_topic() {
        let levels = [1000, 5000, 10_000];
        let mut r = MessageRecord::new("T", Bytes::from_static(b"x"));
        r.properties = "TAGS\u{1}TagA\u{2}".into();
        assert_eq!(tags_code(&r, &levels), 2_598_919);
        r.properties = String::new();
        assert_eq!(tags_code(&r, &levels), 0);
        let mut s = MessageRecord::new(SCHEDULE_TOPIC, Bytes::from_static(b"x"));
        s.store_timestamp = 1_000_000;
        s.properties = "DELAY\u{1}2\u{2}TAGS\u{1}TagA\u{2}".into();
        assert_eq!(tags_code(&s, &levels), 1_005_000);
        s.properties = "DELAY\u{1}99\u{2}".into();
        assert_eq!(
            tags_code(&s, &levels),
            1_010_000,
            "levels above the table clamp to the last"
        );
    }

    // Goal: the one-pass scan finds exactly what `property_value` finds for each name (last
    // valid pair wins, pairs without a name or value are skipped). Method: compare both on
    // hand-written strings, including repeated and malformed pairs.
    #[test]
    fn one_pass_property_scan_agrees_with_property_value() {
        use ferromq_protocol::message::property_value;
        let cases = [
            "",
            "TAGS\u{1}A\u{2}KEYS\u{1}k1 k2\u{2}UNIQ_KEY\u{1}U1\u{2}DELAY\u{1}3\u{2}",
            "TAGS\u{1}A\u{2}TAGS\u{1}B\u{2}TAGS\u{1}\u{2}",
            "\u{1}x\u{2}KEYS\u{2}UNIQ_KEY\u{1}U\u{1}V\u{2}garbage",
            "WAIT\u{1}true\u{2}__CRC32#\u{1}0000012345",
        ];
        for props in cases {
            let scanned = DispatchProps::scan(props);
            assert_eq!(scanned.tags, property_value(props, properties::TAGS), "{props:?}");
            assert_eq!(scanned.delay, property_value(props, properties::DELAY), "{props:?}");
            assert_eq!(
                scanned.uniq_key,
                property_value(props, properties::UNIQ_KEY),
                "{props:?}"
            );
            assert_eq!(scanned.keys, property_value(props, properties::KEYS), "{props:?}");
        }
    }
}
