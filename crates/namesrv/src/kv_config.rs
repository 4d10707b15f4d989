//! KV config (`namesrv/.../kvconfig/KVConfigManager.java`): namespace -> key -> value, kept in
//! memory and persisted to `kvConfigPath` as Java does: `{"configTable":{"ns":{"k":"v"}}}`.
//!
//! Invariants:
//! - the file always holds a complete table: a change is written to `<path>.tmp`, fsynced,
//!   renamed over the file, and the directory fsynced;
//! - memory changes only after the file write succeeded, so what a client was told SUCCESS for
//!   survives a restart, and a failed write leaves memory and file as they were;
//! - writes are serialized by the table's write lock, so the file's order of changes is the
//!   order clients saw.
//!
//! Writes are synchronous on the request's task: the file is small and KV changes are rare
//! admin operations, so a blocking fsync there is simpler than a writer task and costs little.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use ferromq_protocol::body::{decode_body, encode_body, BodyError, KvTable};
use serde::{Deserialize, Serialize};

/// KV namespace holding `topic -> "brokerName:queueCount;..."` for ordered topics.
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

type ConfigTable = BTreeMap<String, BTreeMap<String, String>>;

/// The persisted form (`KVConfigSerializeWrapper`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvConfigSerializeWrapper {
    config_table: ConfigTable,
}

/// Why the KV config could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum KvConfigError {
    /// A file operation failed.
    #[error("kv config {op} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `rename`, ...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file exists but is not a KV config table.
    #[error("kv config file {path} is not a valid config table: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        source: BodyError,
    },
}

/// The KV config table and its file.
#[derive(Debug)]
pub struct KvConfigManager {
    path: PathBuf,
    table: RwLock<ConfigTable>,
}

impl KvConfigManager {
    /// Loads `path`; a missing file is an empty table.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, KvConfigError> {
        let path = path.into();
        let table = match fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => ConfigTable::new(),
            Ok(bytes) => {
                decode_body::<KvConfigSerializeWrapper>(&bytes)
                    .map_err(|source| KvConfigError::Corrupt {
                        path: path.clone(),
                        source,
                    })?
                    .config_table
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => ConfigTable::new(),
            Err(source) => {
                return Err(KvConfigError::Io {
                    op: "read",
                    path,
                    source,
                })
            }
        };
        if !table.is_empty() {
            tracing::info!(path = %path.display(), namespaces = table.len(), "kv config loaded");
        }
        Ok(KvConfigManager {
            path,
            table: RwLock::new(table),
        })
    }

    /// The file this table persists to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// PUT_KV_CONFIG: sets `namespace.key = value` and persists.
    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), KvConfigError> {
        self.change(|table| {
            let namespace_table = table.entry(namespace.to_owned()).or_default();
            namespace_table.insert(key.to_owned(), value.to_owned()).as_deref() != Some(value)
        })
    }

    /// DELETE_KV_CONFIG: removes `namespace.key` (absent is fine) and persists. An emptied
    /// namespace stays, as in Java (its list answers `{"table":{}}`).
    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), KvConfigError> {
        self.change(|table| {
            table
                .get_mut(namespace)
                .is_some_and(|namespace_table| namespace_table.remove(key).is_some())
        })
    }

    /// GET_KV_CONFIG.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.read().get(namespace)?.get(key).cloned()
    }

    /// GET_KVLIST_BY_NAMESPACE: the namespace's table, `None` if the namespace is unknown.
    pub fn list(&self, namespace: &str) -> Option<KvTable> {
        self.read().get(namespace).map(|table| KvTable { table: table.clone() })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ConfigTable> {
        // Every write replaces the table in one assignment, so a poisoned lock holds a
        // consistent table.
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `edit` to a copy; if it changed anything, persists the copy, then swaps it in.
    fn change(&self, edit: impl FnOnce(&mut ConfigTable) -> bool) -> Result<(), KvConfigError> {
        let mut guard = self.table.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = guard.clone();
        if !edit(&mut next) {
            return Ok(());
        }
        let wrapper = KvConfigSerializeWrapper { config_table: next };
        write_atomically(&self.path, &encode_body(&wrapper))?;
        *guard = wrapper.config_table;
        Ok(())
    }
}

/// Writes `bytes` to `path` through `<path>.tmp`, fsync and rename, then fsyncs the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KvConfigError> {
    let io_error = |op: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |source| KvConfigError::Io { op, path: at, source }
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut file = fs::File::create(&tmp).map_err(io_error("create", &tmp))?;
        file.write_all(bytes).map_err(io_error("write", &tmp))?;
        file.sync_all().map_err(io_error("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_error("rename", path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync directory", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_list_follow_java() {
        // Goal: KVConfigManager semantics. Method: put, overwrite, get, list, delete, list.
        let dir = tempfile::tempdir().unwrap();
        let kv = KvConfigManager::load(dir.path().join("kv.json")).unwrap();
        assert_eq!(kv.get("ns", "k"), None);
        assert_eq!(kv.list("ns"), None);
        kv.put("ns", "k", "v1").unwrap();
        kv.put("ns", "k", "v2").unwrap();
        kv.put("ns", "k2", "x").unwrap();
        assert_eq!(kv.get("ns", "k").as_deref(), Some("v2"));
        assert_eq!(kv.list("ns").unwrap().table.len(), 2);
        kv.delete("ns", "k").unwrap();
        kv.delete("ns", "k2").unwrap();
        kv.delete("other", "k").unwrap();
        assert_eq!(kv.get("ns", "k"), None);
        assert_eq!(kv.list("ns"), Some(KvTable::default()));
    }

    #[test]
    fn table_survives_a_reload_in_javas_file_format() {
        // Goal: persistence in Java's format. Method: put, read the file, reload.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("kvConfig.json");
        let kv = KvConfigManager::load(&path).unwrap();
        kv.put(NAMESPACE_ORDER_TOPIC_CONFIG, "TopicA", "broker-a:4").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"TopicA":"broker-a:4"}}}"#
        );
        assert!(!path.with_extension("json.tmp").exists());
        let reloaded = KvConfigManager::load(&path).unwrap();
        assert_eq!(
            reloaded.get(NAMESPACE_ORDER_TOPIC_CONFIG, "TopicA").as_deref(),
            Some("broker-a:4")
        );
    }

    #[test]
    fn corrupt_file_is_a_load_error_naming_the_file() {
        // Goal: a damaged file stops start-up instead of silently losing config.
        // Method: write garbage, load.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        fs::write(&path, b"{not json").unwrap();
        let error = KvConfigManager::load(&path).unwrap_err();
        assert!(matches!(error, KvConfigError::Corrupt { ref path, .. } if path.ends_with("kv.json")));
        fs::write(&path, b"  \n").unwrap();
        assert!(KvConfigManager::load(&path).is_ok());
    }

    #[test]
    fn failed_write_leaves_memory_unchanged() {
        // Goal: memory only changes after the file is written. Method: make the target path a
        // directory so the rename fails, then put.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("occupied"), b"x").unwrap();
        let kv = KvConfigManager::load(dir.path().join("missing.json")).unwrap();
        let kv = KvConfigManager {
            path: path.clone(),
            table: kv.table,
        };
        assert!(matches!(kv.put("ns", "k", "v"), Err(KvConfigError::Io { .. })));
        assert_eq!(kv.get("ns", "k"), None);
    }
}
