//! Delayed delivery by delay level (reference 6.3, `broker/.../schedule/ScheduleMessageService.java`).
//!
//! Components:
//! - [`rewrite_for_delay`]: on put, a message of transaction type NOT/COMMIT whose `DELAY`
//!   property is a level > 0 is parked in `SCHEDULE_TOPIC_XXXX`, queue `level - 1`, with its
//!   real topic and queue saved in `REAL_TOPIC` / `REAL_QID` (levels above the last are clamped);
//!   the store gives its ConsumeQueue entry the deliver time as tags code;
//! - [`ScheduleService`]: every [`DELIVER_INTERVAL`] it walks each level's queue from its
//!   progress offset and re-puts every due message to its real topic and queue (without
//!   `DELAY`), stopping at the first message not yet due. Progress is kept in
//!   `config/delayOffset.json` (`{"offsetTable":{1:0,2:17}}`, fastjson keys).
//!
//! Invariants: a level's offset only advances past a message after its re-put is PUT_OK — under
//! SYNC_FLUSH that is after the fsync covering it — (a crash in between re-delivers it:
//! at-least-once, like Java); re-puts go through the send flow control like client sends;
//! messages of one level are due in queue order because they share one delay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use ferromq_protocol::body::to_fastjson_string;
use ferromq_protocol::message::{decode_record, properties, sys_flag, MessageRecord, Properties};
use ferromq_store::{GetMessageStatus, MessageStore, PutMessageStatus};
use serde::{Deserialize, Serialize};

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::persist::{config_path, read_json, write_atomic};
use crate::validate::SCHEDULE_TOPIC;

/// How often each level is checked for due messages (Java: 100 ms).
pub const DELIVER_INTERVAL: Duration = Duration::from_millis(100);
/// Messages read per level per pass at most.
pub const DELIVER_BATCH: usize = 32;
/// File name of the delivery progress.
pub const DELAY_OFFSET_FILE: &str = "delayOffset.json";

/// Parks a delayed message in the schedule topic; returns whether it did. `props` are the
/// record's properties (the caller encodes them afterwards).
pub fn rewrite_for_delay(record: &mut MessageRecord, props: &mut Properties, level_count: usize) -> bool {
    let tx = sys_flag::transaction_type(record.sys_flag);
    if tx != sys_flag::TRANSACTION_NOT_TYPE && tx != sys_flag::TRANSACTION_COMMIT_TYPE {
        return false;
    }
    let Some(level) = props.get(properties::DELAY).and_then(|d| d.trim().parse::<i64>().ok()) else {
        return false;
    };
    if level <= 0 || level_count == 0 {
        return false;
    }
    let level = usize::try_from(level).unwrap_or(usize::MAX).min(level_count);
    props.insert(properties::REAL_TOPIC, record.topic.clone());
    props.insert(properties::REAL_QID, record.queue_id.to_string());
    props.insert(properties::DELAY, level.to_string());
    record.topic = SCHEDULE_TOPIC.to_owned();
    record.queue_id = i32::try_from(level - 1).unwrap_or(0);
    true
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DelayOffsets {
    offset_table: BTreeMap<i32, i64>,
}

/// The delivery service.
#[derive(Debug)]
pub struct ScheduleService {
    store: Arc<MessageStore>,
    delay_levels_ms: Vec<i64>,
    offsets: Mutex<BTreeMap<i32, i64>>,
    dirty: AtomicBool,
    path: PathBuf,
}

impl ScheduleService {
    /// Loads the delivery progress from `config/delayOffset.json`.
    pub fn load(store: Arc<MessageStore>, delay_levels_ms: Vec<i64>, store_root: &Path) -> Result<Self, BrokerError> {
        let path = config_path(store_root, DELAY_OFFSET_FILE);
        let offsets = read_json::<DelayOffsets>(&path)?.unwrap_or_default().offset_table;
        Ok(ScheduleService {
            store,
            delay_levels_ms,
            offsets: Mutex::new(offsets),
            dirty: AtomicBool::new(false),
            path,
        })
    }

    /// Next schedule-queue offset to deliver for `level`.
    pub fn offset(&self, level: i32) -> i64 {
        self.offsets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&level)
            .copied()
            .unwrap_or(0)
    }

    fn set_offset(&self, level: i32, offset: i64) {
        self.offsets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(level, offset);
        self.dirty.store(true, Ordering::Release);
    }

    /// One pass over every level at time `now`. Returns the number of messages delivered.
    ///
    /// Each due message is re-put through [`Broker::put_records`]: the send flow control
    /// (SYSTEM_BUSY stops the pass; the next one retries) and, under SYNC_FLUSH, the wait for
    /// the fsync covering it, on the ticket's callback (no runtime thread blocks). A level's
    /// offset moves past a message only once its re-put is PUT_OK; a flush timeout or failure
    /// leaves it, so the message is delivered again later (at-least-once).
    pub async fn deliver_due(&self, broker: &Broker, now: i64) -> usize {
        let mut delivered = 0;
        for (index, delay_ms) in self.delay_levels_ms.iter().enumerate() {
            let Ok(level) = i32::try_from(index + 1) else { break };
            match self.deliver_level(broker, level, *delay_ms, now).await {
                Ok(n) => delivered += n,
                Err(error) => tracing::warn!(level, %error, "delayed delivery failed; will retry"),
            }
        }
        delivered
    }

    async fn deliver_level(&self, broker: &Broker, level: i32, delay_ms: i64, now: i64) -> Result<usize, BrokerError> {
        let queue_id = level - 1;
        let mut offset = self.offset(level);
        let mut delivered = 0;
        loop {
            // Reads of mapped memory run inline (crate invariant); only puts go to the pool.
            let got = self
                .store
                .get_messages(SCHEDULE_TOPIC, queue_id, offset, DELIVER_BATCH, usize::MAX, None)?;
            match got.status {
                GetMessageStatus::Found => {}
                GetMessageStatus::OffsetTooSmall | GetMessageStatus::OffsetOverflowBadly => {
                    self.set_offset(level, got.next_begin_offset);
                    return Ok(delivered);
                }
                GetMessageStatus::NoMatchedMessage | GetMessageStatus::MessageWasRemoving => {
                    self.set_offset(level, got.next_begin_offset);
                    offset = got.next_begin_offset;
                    continue;
                }
                _ => return Ok(delivered),
            }
            for (bytes, queue_offset) in got.messages.iter().zip(&got.queue_offsets) {
                let parked = decode_record(bytes, false)?;
                if parked.store_timestamp.saturating_add(delay_ms) > now {
                    return Ok(delivered);
                }
                if let Some(real) = restore(&parked) {
                    let (_, status) = broker.put_records(std::slice::from_ref(&real), None).await?;
                    match status {
                        PutMessageStatus::PutOk => delivered += 1,
                        PutMessageStatus::FlushDiskTimeout => {
                            return Err(BrokerError::PutNotConfirmed {
                                status: "FLUSH_DISK_TIMEOUT",
                            })
                        }
                        PutMessageStatus::FlushDiskFailed => return Err(BrokerError::FlushFailed),
                    }
                } else {
                    tracing::warn!(
                        phy_offset = parked.phy_offset,
                        "scheduled message without REAL_TOPIC; dropped"
                    );
                }
                offset = queue_offset + 1;
                self.set_offset(level, offset);
            }
        }
    }

    /// Writes `delayOffset.json` if the progress moved (blocking file I/O).
    pub fn persist_if_dirty(&self) -> Result<(), BrokerError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let table = DelayOffsets {
            offset_table: self.offsets.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        };
        let result = write_atomic(&self.path, &to_fastjson_string(&table));
        if result.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        result
    }
}

/// The message to deliver: the parked one with its real topic and queue, without `DELAY`.
fn restore(parked: &MessageRecord) -> Option<MessageRecord> {
    let mut props = parked.properties();
    let topic = props.get(properties::REAL_TOPIC)?.to_owned();
    let queue_id = props.get(properties::REAL_QID)?.parse::<i32>().ok()?;
    props.remove(properties::DELAY);
    let mut real = parked.clone();
    real.topic = topic;
    real.queue_id = queue_id;
    real.properties = ferromq_protocol::message::encode_properties(&props);
    real.body = Bytes::copy_from_slice(&parked.body);
    Some(real)
}

#[cfg(test)]
#[path = "schedule_test.rs"]
mod tests;
