//! Opening a store: validate the config, find where ConsumeQueue and IndexFile can be trusted,
//! verify the CommitLog tail record by record, trim and complete the derived files.
//!
//! Steps:
//! 1. note and (re)create the `abort` marker; it only changes the log line, never the checks;
//! 2. read the checkpoint: intact FerroMQ checkpoint -> `min(dispatched, flushed)`, both
//!    written only once durable, so every byte below is known intact; RocketMQ
//!    checkpoint -> start of the newest segment whose first record is older than
//!    `minTimestamp` (RocketMQ's abnormal-recovery rule); torn or missing -> the oldest segment;
//! 3. scan the CommitLog from the segment holding that offset, checking magic, size, CRC and
//!    the stored physical offset of every record (always with CRC); truncate at the first
//!    failure (WARN with file, offset, bytes and reason); sync what was scanned, so the flushed
//!    offset recovery reports is really durable (after a process crash the scanned tail may
//!    still be only in the page cache);
//! 4. ConsumeQueue and IndexFile: with an intact FerroMQ checkpoint (synced below `trusted`),
//!    trim every ConsumeQueue to entries below `min(trusted, log end)` and re-dispatch from
//!    there, as RocketMQ's normal recovery does. Otherwise (torn, missing or RocketMQ
//!    checkpoint) the scan of step 3 compares every record with its ConsumeQueue entry
//!    ([`CqMatcher`], entries read in runs) and re-dispatch starts at the first record whose
//!    entry is missing or differs, or past the newest record the IndexFile holds keys for
//!    ([`indexed_to`]) if that is earlier; identical entries are not rewritten. Every queue is
//!    trimmed to entries below that offset (dropping partial entries, entries past the log end
//!    and tail entries that do not match their record); a missing ConsumeQueue or IndexFile
//!    directory means a rebuild from the start;
//! 5. re-dispatch, rebuild the queue offset table, write a checkpoint.
//!
//! Recovery is idempotent: running it on its own output changes nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::checkpoint::{CheckpointState, StoreCheckpoint};
use crate::commit_log::tx_type_has_queue_offset;
use crate::commit_log::CommitLog;
use crate::config::MessageStoreConfig;
use crate::consume_queue::{ConsumeQueueTable, CqEntry};
use crate::error::{StoreError, StoreResult};
use crate::flush::{FlushService, FlushSettings};
use crate::fs::Fs;
use crate::index_file::IndexService;
use crate::mapped_file::SegmentOptions;
use crate::signal::Signals;
use crate::store::{Clock, StoreInner};
use ferromq_protocol::message::{java_hash, properties, MessageRecord};

pub(crate) fn open_and_recover(config: MessageStoreConfig, fs: Arc<dyn Fs>, clock: Clock) -> StoreResult<StoreInner> {
    config.validate()?;
    let root = config.store_path_root_dir.clone();
    fs.create_dir_all(&root)
        .map_err(|e| StoreError::io("create dir", &root, e))?;
    fs.create_dir_all(&root.join("config"))
        .map_err(|e| StoreError::io("create dir", &root, e))?;
    let abort = root.join("abort");
    let unclean = fs.exists(&abort);
    fs.open(&abort, true)
        .and_then(|f| f.sync_range(0, 0))
        .map_err(|e| StoreError::io("create abort marker", &abort, e))?;

    let checkpoint = StoreCheckpoint::open(fs.as_ref(), &root.join("checkpoint"))?;
    let options = SegmentOptions {
        prewrite: config.is_sync_flush() || config.warm_maped_file_enable,
        populate_ahead: config.populate_ahead_commit_log,
    };
    let commit_log = CommitLog::load(
        Arc::clone(&fs),
        config.commit_log_dir(),
        config.mapped_file_size_commit_log,
        options,
        config.max_message_size,
        config.enabled_append_prop_crc,
    )?;
    let cq_root = root.join("consumequeue");
    let cq = ConsumeQueueTable::new(
        Arc::clone(&fs),
        cq_root.clone(),
        config.mapped_file_size_consume_queue,
        config.max_open_consume_queue_files,
    );
    let cq_missing = fs
        .list_dir(&cq_root)
        .map_err(|e| StoreError::io("list", &cq_root, e))?
        .is_empty();

    let min = commit_log.min_offset();
    let (trusted, why) = match checkpoint.loaded() {
        _ if cq_missing => (min, "no ConsumeQueue on disk"),
        // Both offsets are only written once durable; the smaller one bounds what is known to
        // be intact (a checkpoint from before the cap on the dispatched offset may exceed the
        // flushed one).
        CheckpointState::Valid(cp) => (
            u64::try_from(cp.dispatched_phy_offset.min(cp.physic_flushed_offset))
                .unwrap_or(0)
                .max(min),
            "checkpoint",
        ),
        CheckpointState::Foreign(cp) => (
            start_by_timestamp(&commit_log, cp.min_timestamp(false)),
            "RocketMQ checkpoint",
        ),
        CheckpointState::Invalid => (min, "checkpoint missing or torn"),
    };
    tracing::info!(root = %root.display(), unclean, trusted, source = why, "recovering store");

    let marker = root.join(STORE_META_FILE);
    let meta = read_meta(fs.as_ref(), &marker);
    let prop_crc_from = match meta {
        Some(m) => m.prop_crc_from_offset.and_then(|o| u64::try_from(o).ok()),
        // A new store: every record will carry the property.
        None if commit_log.max_offset() == 0 && commit_log.queue().files().is_empty() => Some(0),
        None => None,
    };
    // With an intact FerroMQ checkpoint the ConsumeQueue was synced below `trusted`: trim it
    // there and re-dispatch the (short) rest, as RocketMQ's normal recovery does. Otherwise
    // every record is scanned anyway: compare each one with its ConsumeQueue entry on the way
    // and re-dispatch only from the first that is missing or differs.
    let delay_levels_ms = config.delay_levels_ms().unwrap_or_default();
    let checkpoint_valid = matches!(checkpoint.loaded(), CheckpointState::Valid(_));
    let compare = !cq_missing && !checkpoint_valid;
    if compare {
        // Load the queues' valid prefixes so the scan can read entries; they are trimmed to
        // what matched the log below.
        cq.load_and_recover(i64::MAX, &|_, _, _, _| true)?;
    }
    let mut matcher = CqMatcher {
        cq: &cq,
        delay_levels_ms: &delay_levels_ms,
        queues: HashMap::new(),
        first_unmatched: if compare { u64::MAX } else { trusted },
    };
    let summary = commit_log.recover(
        trusted,
        // Always: a scanned record is never trusted without its CRC (checkCRCOnRecover=false is
        // accepted for compatibility but does not weaken recovery).
        true,
        |r, phy, size| matcher.check(r, phy, size),
        trusted,
        prop_crc_from,
    )?;
    let cq_from = matcher.first_unmatched;
    let wanted = if config.enabled_append_prop_crc {
        Some(prop_crc_from.unwrap_or(summary.end_offset))
    } else {
        None
    };
    if meta.is_none() || wanted != prop_crc_from {
        let m = StoreMeta {
            prop_crc_from_offset: wanted.map(|o| o as i64),
        };
        let json = serde_json::to_vec(&m).map_err(|e| StoreError::Encode(e.to_string()))?;
        crate::fs::write_file_atomic(fs.as_ref(), &marker, &json).map_err(|e| StoreError::io("write", &marker, e))?;
    }
    let end = summary.end_offset;
    if let Some(reason) = &summary.cut_reason {
        tracing::warn!(end, %reason, "CommitLog tail cut during recovery");
    }
    let index_missing = !fs.exists(&root.join("index"));
    let index = if config.message_index_enable {
        Some(IndexService::load(
            Arc::clone(&fs),
            root.join("index"),
            config.max_hash_slot_num,
            config.max_index_num,
        )?)
    } else {
        None
    };
    let mut dispatch_from = cq_from.min(end);
    if let (true, Some(index)) = (compare, &index) {
        let indexed_to = if index_missing {
            min
        } else {
            indexed_to(&commit_log, index, end)
        };
        dispatch_from = dispatch_from.min(indexed_to.max(min));
    }
    let verify =
        |topic: &str, qid: i32, qo: i64, e: &CqEntry| commit_log.matches_entry(e.phy_offset, e.size, topic, qid, qo);
    cq.load_and_recover(dispatch_from as i64, &verify)?;
    tracing::info!(
        dispatch_from,
        end,
        "re-dispatching what ConsumeQueue and IndexFile lack"
    );

    let settings = FlushSettings {
        sync: config.is_sync_flush(),
        interval: Duration::from_millis(if config.is_sync_flush() {
            10
        } else {
            config.flush_interval_commit_log
        }),
        least_pages: config.flush_commit_log_least_pages,
        thorough_interval: Duration::from_millis(config.flush_commit_log_thorough_interval),
        sync_timeout: Duration::from_millis(config.sync_flush_timeout),
    };
    let commit_log = Arc::new(commit_log);
    let cl_for_flush = Arc::clone(&commit_log);
    let flush = FlushService::start(settings, Arc::new(move |least| cl_for_flush.flush(least)));

    let inner = StoreInner {
        config,
        fs,
        clock,
        commit_log,
        cq,
        index,
        checkpoint_data: Mutex::new(match checkpoint.loaded() {
            CheckpointState::Valid(cp) | CheckpointState::Foreign(cp) => cp,
            CheckpointState::Invalid => Default::default(),
        }),
        checkpoint,
        flush,
        reput_offset: AtomicU64::new(dispatch_from),
        dispatch_lock: Mutex::new(()),
        last_dispatched_timestamp: AtomicU64::new(0),
        signals: Signals::default(),
        listeners: RwLock::new(Vec::new()),
        disk_full: AtomicBool::new(false),
        shutdown: AtomicBool::new(false),
        delay_levels_ms,
    };
    let redispatched = crate::dispatch::dispatch_available(&inner)?;
    let offsets: Vec<(String, i32, i64)> = inner
        .cq
        .queue_ids()
        .into_iter()
        .map(|(t, q)| {
            let max = inner.cq.max_offset(&t, q);
            (t, q, max)
        })
        .collect();
    inner.commit_log.set_queue_offsets(offsets);
    inner.cq.delete_below(inner.commit_log.min_offset() as i64)?;
    crate::dispatch::flush_and_checkpoint(&inner)?;
    tracing::info!(end, records_verified = summary.records, redispatched, "store recovered");
    if options.prewrite {
        // A pre-written segment is zero-filled and synced when created: do that for the segment
        // the next put lands in now, during open, rather than inside the first SYNC_FLUSH send
        // (seconds for a 1 GiB segment, past a client's 3 s send timeout). The one after it is
        // pre-created in the background as usual.
        inner.commit_log.queue().last_or_create(inner.commit_log.max_offset())?;
    }
    Ok(inner)
}

/// Compares scanned records with their ConsumeQueue entries (read in runs per queue) and
/// remembers the first record whose entry is missing or differs: re-dispatch starts there.
struct CqMatcher<'a> {
    cq: &'a ConsumeQueueTable,
    delay_levels_ms: &'a [i64],
    /// Per topic and queue id: a run of entries read ahead, and the queue offset it starts at.
    queues: HashMap<String, HashMap<i32, (i64, Vec<CqEntry>)>>,
    /// CommitLog offset of the first record without an identical entry (`u64::MAX`: none yet).
    first_unmatched: u64,
}

/// Entries read per ConsumeQueue access while comparing.
const MATCH_RUN: usize = 1024;

impl CqMatcher<'_> {
    fn check(&mut self, r: &MessageRecord, phy: i64, size: i32) -> StoreResult<()> {
        let phy_u = phy as u64;
        if phy_u >= self.first_unmatched || !tx_type_has_queue_offset(r.sys_flag) {
            return Ok(());
        }
        let queues = match self.queues.get_mut(r.topic.as_str()) {
            Some(q) => q,
            None => self.queues.entry(r.topic.clone()).or_default(),
        };
        let (start, run) = queues.entry(r.queue_id).or_insert_with(|| (0, Vec::new()));
        let qo = r.queue_offset;
        if qo < *start || qo - *start >= run.len() as i64 {
            *run = self.cq.get_entries(&r.topic, r.queue_id, qo, MATCH_RUN)?;
            *start = qo;
        }
        let tags_code = if r.topic == crate::dispatch::SCHEDULE_TOPIC {
            crate::dispatch::tags_code(r, self.delay_levels_ms)
        } else {
            // `dispatch::tags_code` outside the schedule topic, with a faster lookup.
            property_value_fast(&r.properties, properties::TAGS).map_or(0, |t| i64::from(java_hash(t)))
        };
        let expected = CqEntry {
            phy_offset: phy,
            size,
            tags_code,
        };
        let found = usize::try_from(qo - *start).ok().and_then(|i| run.get(i));
        if found != Some(&expected) {
            self.first_unmatched = phy_u;
        }
        Ok(())
    }
}

/// `ferromq_protocol::message::property_value` (the last non-empty value of `name`), walking the
/// pairs from the end and stopping at the first match instead of visiting every pair.
pub(crate) fn property_value_fast<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    // A pair's key is what precedes its first NAME_VALUE_SEPARATOR; `name` holds none, so the
    // key is `name` exactly when the pair starts with `name` and that separator.
    props.rsplit('\u{2}').find_map(|pair| {
        let value = pair.strip_prefix(name)?.strip_prefix('\u{1}')?;
        (!value.is_empty()).then_some(value)
    })
}

/// The CommitLog offset up to which the IndexFile holds every record's keys: just past the
/// newest indexed record (keys are added in log order), or that record's start when it lies
/// past the recovered `end` or cannot be read.
fn indexed_to(commit_log: &CommitLog, index: &IndexService, end: u64) -> u64 {
    match index.end_phy_offset().and_then(|o| u64::try_from(o).ok()) {
        Some(last) if last < end => match commit_log.record_bytes(last as i64) {
            Ok(bytes) => last + bytes.len() as u64,
            Err(_) => last,
        },
        Some(last) => last.min(end),
        None => 0,
    }
}

/// RocketMQ's abnormal-recovery start: the newest segment whose first record was stored at or
/// before `min_timestamp`; the oldest segment if none.
fn start_by_timestamp(commit_log: &CommitLog, min_timestamp: i64) -> u64 {
    for f in commit_log.queue().files().iter().rev() {
        if let Ok((record, _)) = commit_log.read_record(f.start_offset() as i64) {
            if record.store_timestamp <= min_timestamp {
                return f.start_offset();
            }
        }
    }
    commit_log.min_offset()
}

/// FerroMQ's own store metadata file (RocketMQ ignores it).
const STORE_META_FILE: &str = "ferromq-store.json";

/// Contents of [`STORE_META_FILE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoreMeta {
    /// CommitLog offset from which every record carries the `__CRC32#` property; `None` when
    /// the option is off.
    prop_crc_from_offset: Option<i64>,
}

fn read_meta(fs: &dyn Fs, path: &std::path::Path) -> Option<StoreMeta> {
    let bytes = crate::fs::read_file(fs, path).ok()??;
    match serde_json::from_slice(&bytes) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "unreadable store metadata; ignoring it");
            None
        }
    }
}

#[cfg(test)]
#[path = "recovery_test.rs"]
mod tests;
