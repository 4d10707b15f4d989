//! `ConsumerOffsetManager`: committed consumer offsets (reference 7.4,
//! `broker/.../offset/ConsumerOffsetManager.java`).
//!
//! Table key `topic@group` -> queue id -> next offset to consume. Persisted to
//! `config/consumerOffset.json` as `{"offsetTable":{"T@g":{0:12,1:7}}}` (fastjson's unquoted
//! integer keys, so a Java broker can read the file too) every `flushConsumerOffsetInterval`
//! when something changed, and at shutdown.
//!
//! Invariant: `dirty` is cleared before a snapshot is taken for writing, so a commit racing
//! with a flush is never lost (it re-marks the table dirty).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferromq_protocol::body::offset::{offset_table_key, TOPIC_GROUP_SEPARATOR};
use ferromq_protocol::body::{to_fastjson_string, ConsumerOffsetSerializeWrapper};

use crate::error::BrokerError;
use crate::persist::{config_path, read_json, write_atomic};

/// File name of the offset table.
pub const CONSUMER_OFFSET_FILE: &str = "consumerOffset.json";

/// Committed consumer offsets.
#[derive(Debug)]
pub struct ConsumerOffsetManager {
    table: Mutex<HashMap<String, BTreeMap<i32, i64>>>,
    dirty: AtomicBool,
    path: PathBuf,
}

fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(TOPIC_GROUP_SEPARATOR)
}

impl ConsumerOffsetManager {
    /// Loads `config/consumerOffset.json` (or its `.bak`).
    pub fn load(store_root: &Path) -> Result<Self, BrokerError> {
        let path = config_path(store_root, CONSUMER_OFFSET_FILE);
        let table = read_json::<ConsumerOffsetSerializeWrapper>(&path)?
            .map(|w| w.offset_table.into_iter().collect())
            .unwrap_or_default();
        Ok(ConsumerOffsetManager {
            table: Mutex::new(table),
            dirty: AtomicBool::new(false),
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<i32, i64>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `offset` for the group's queue.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.lock()
            .entry(offset_table_key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.dirty.store(true, Ordering::Release);
    }

    /// The committed offset, if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.lock()
            .get(&offset_table_key(topic, group))
            .and_then(|queues| queues.get(&queue_id).copied())
    }

    /// Topics the group has offsets for.
    pub fn topics_of_group(&self, group: &str) -> BTreeSet<String> {
        self.lock()
            .keys()
            .filter_map(|k| split_key(k))
            .filter(|(_, g)| *g == group)
            .map(|(t, _)| t.to_owned())
            .collect()
    }

    /// Groups with offsets on the topic.
    pub fn groups_of_topic(&self, topic: &str) -> BTreeSet<String> {
        self.lock()
            .keys()
            .filter_map(|k| split_key(k))
            .filter(|(t, _)| *t == topic)
            .map(|(_, g)| g.to_owned())
            .collect()
    }

    /// Forgets every offset on `topic` (topic deleted).
    pub fn remove_topic(&self, topic: &str) {
        let mut table = self.lock();
        let before = table.len();
        table.retain(|k, _| split_key(k).is_none_or(|(t, _)| t != topic));
        if table.len() != before {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Forgets every offset of `group` (group deleted with cleanOffset).
    pub fn remove_group(&self, group: &str) {
        let mut table = self.lock();
        let before = table.len();
        table.retain(|k, _| split_key(k).is_none_or(|(_, g)| g != group));
        if table.len() != before {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// The whole table (GET_ALL_CONSUMER_OFFSET, file).
    pub fn snapshot(&self) -> ConsumerOffsetSerializeWrapper {
        ConsumerOffsetSerializeWrapper {
            data_version: None,
            offset_table: self.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    /// The table as fastjson writes it (unquoted queue-id keys), for Java readers.
    pub fn encode_fastjson(&self) -> String {
        to_fastjson_string(&self.snapshot())
    }

    /// Writes the file if something changed since the last write (blocking file I/O).
    pub fn persist_if_dirty(&self) -> Result<bool, BrokerError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        let result = write_atomic(&self.path, &self.encode_fastjson());
        if result.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        result.map(|()| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: commit / query / per-group and per-topic views. Method: a few commits.
    #[test]
    fn committed_offsets_are_found_by_group_and_topic() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = ConsumerOffsetManager::load(dir.path()).unwrap();
        offsets.commit("g", "T", 0, 12);
        offsets.commit("g", "U", 1, 7);
        offsets.commit("h", "T", 0, 3);
        assert_eq!(offsets.query("g", "T", 0), Some(12));
        assert_eq!(offsets.query("g", "T", 1), None);
        assert_eq!(offsets.topics_of_group("g").len(), 2);
        assert_eq!(offsets.groups_of_topic("T").len(), 2);
        offsets.remove_topic("T");
        assert_eq!(offsets.query("h", "T", 0), None);
        offsets.remove_group("g");
        assert!(offsets.topics_of_group("g").is_empty());
    }

    // Goal: the file uses fastjson's key form and reloads; clean tables are not rewritten.
    // Method: persist, read the text, reload.
    #[test]
    fn offsets_persist_in_fastjson_form_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = ConsumerOffsetManager::load(dir.path()).unwrap();
        assert!(!offsets.persist_if_dirty().unwrap());
        offsets.commit("g", "T", 0, 12);
        assert!(offsets.persist_if_dirty().unwrap());
        assert!(!offsets.persist_if_dirty().unwrap());
        let text = std::fs::read_to_string(config_path(dir.path(), CONSUMER_OFFSET_FILE)).unwrap();
        assert_eq!(text, r#"{"offsetTable":{"T@g":{0:12}}}"#);
        let again = ConsumerOffsetManager::load(dir.path()).unwrap();
        assert_eq!(again.query("g", "T", 0), Some(12));
    }
}
