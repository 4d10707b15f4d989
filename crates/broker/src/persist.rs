//! Config files under `<storePathRootDir>/config/` (`topics.json`, `subscriptionGroup.json`,
//! `consumerOffset.json`, `delayOffset.json`), written like Java's `MixAll.string2File`.
//!
//! Write: the new text goes to `<file>.tmp` and is fsynced; the current file is copied to
//! `<file>.bak`; the temp file is renamed over the file and the directory is fsynced. Read: the
//! file, or `<file>.bak` when the file is missing or does not parse. Reading accepts fastjson's
//! unquoted integer keys (`{0:12}`) as well as standard JSON.
//!
//! Invariant: at every instant `<file>` or `<file>.bak` holds a complete earlier or current
//! version (rename is atomic; the copy to `.bak` only happens from a complete file).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ferromq_protocol::body::decode_body;
use serde::de::DeserializeOwned;

use crate::error::BrokerError;

/// Name of the directory holding the config files, under the store root.
pub const CONFIG_DIR: &str = "config";

/// `<root>/config/<name>`.
pub fn config_path(store_root: &Path, name: &str) -> PathBuf {
    store_root.join(CONFIG_DIR).join(name)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> BrokerError + '_ {
    move |source| BrokerError::ConfigFile {
        path: path.to_owned(),
        source,
    }
}

/// Writes `text` to `path` atomically and durably, keeping the previous version as `.bak`.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), BrokerError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let tmp = with_suffix(path, ".tmp");
    {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_error(&tmp))?;
        file.write_all(text.as_bytes()).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
    }
    if path.exists() {
        let bak = with_suffix(path, ".bak");
        fs::copy(path, &bak).map_err(io_error(&bak))?;
    }
    fs::rename(&tmp, path).map_err(io_error(path))?;
    // Make the rename itself durable.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
    Ok(())
}

/// Reads and decodes `path`, falling back to `<path>.bak`. `Ok(None)` when neither exists.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, BrokerError> {
    let bak = with_suffix(path, ".bak");
    let mut first_error = None;
    for candidate in [path, bak.as_path()] {
        let bytes = match fs::read(candidate) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io_error(candidate)(error)),
        };
        // Java writes an empty file for an empty table.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode_body::<T>(&bytes) {
            Ok(value) => return Ok(Some(value)),
            Err(error) => {
                tracing::warn!(path = %candidate.display(), %error, "config file does not parse; trying the backup");
                first_error.get_or_insert(BrokerError::ConfigFileCorrupt {
                    path: candidate.to_owned(),
                    reason: error.to_string(),
                });
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    // Goal: a write replaces the file and keeps the previous version as .bak. Method: write twice.
    #[test]
    fn write_replaces_and_keeps_previous_as_bak() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_path(dir.path(), "x.json");
        write_atomic(&path, r#"{"a":1}"#).unwrap();
        write_atomic(&path, r#"{"a":2}"#).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"a":2}"#);
        assert_eq!(fs::read_to_string(with_suffix(&path, ".bak")).unwrap(), r#"{"a":1}"#);
        assert!(!with_suffix(&path, ".tmp").exists());
    }

    // Goal: a corrupt file falls back to .bak; fastjson keys parse. Method: corrupt the main file.
    #[test]
    fn corrupt_file_falls_back_to_backup_and_unquoted_keys_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_path(dir.path(), "offsets.json");
        write_atomic(&path, r#"{"t":{0:12,1:7}}"#).unwrap();
        write_atomic(&path, "{not json").unwrap();
        let read: BTreeMap<String, BTreeMap<i32, i64>> = read_json(&path).unwrap().unwrap();
        assert_eq!(read["t"][&1], 7);
    }

    // Goal: missing files are not an error. Method: read a path never written.
    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let read: Option<BTreeMap<String, i64>> = read_json(&config_path(dir.path(), "none.json")).unwrap();
        assert!(read.is_none());
    }
}
