//! Writing runtime config changes back into the operator's config file, in place.
//!
//! RocketMQ's UPDATE_BROKER_CONFIG persists the new values to the file the broker was started
//! with (`-c`, Java `brokerConfigPath`) by rewriting it from scratch. FerroMQ edits the file
//! instead: the line that defines an updated key gets the new value, every other line (comments,
//! order, unknown keys) stays byte for byte, and keys the file did not have are appended.
//!
//! Components: [`rewrite_properties`] (Java properties, `broker.conf`), [`rewrite_toml`] (flat
//! TOML), [`ConfigValue`] (a typed scalar), [`rewrite_config_file`] (picks by extension, writes
//! atomically).
//!
//! Invariants:
//! - the rewritten text parses to the old key/value pairs with exactly the updates applied; the
//!   TOML path checks this by parsing its output and refuses (no write) when it does not hold
//!   (e.g. a key defined inside a `[table]` or by a multi-line value);
//! - a key defined several times keeps only its last definition's position (later wins on read).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::properties::{escape, logical_lines, parse_properties, split_key_value, unescape};

/// A config value as written to a file.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// Text.
    Text(String),
}

impl ConfigValue {
    /// The value as Java properties text.
    fn properties_text(&self) -> String {
        match self {
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Int(i) => i.to_string(),
            ConfigValue::Float(f) => f.to_string(),
            ConfigValue::Text(s) => s.clone(),
        }
    }

    /// The value as a TOML literal.
    fn toml_literal(&self) -> String {
        match self {
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Int(i) => i.to_string(),
            ConfigValue::Float(f) if f.is_finite() && f.fract() == 0.0 => format!("{f:.1}"),
            ConfigValue::Float(f) => f.to_string(),
            ConfigValue::Text(s) => {
                let mut out = String::from('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
        }
    }
}

/// Why a config file could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// Reading or writing the file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file's shape does not allow an in-place edit of this key.
    #[error("cannot update key `{key}` in place in {path}: {reason}")]
    NotInPlace {
        /// The key.
        key: String,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Replaces or appends `updates` in Java properties text.
pub fn rewrite_properties(text: &str, updates: &[(String, ConfigValue)]) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    // Last logical line defining each key: (first, last) physical line, 1-based.
    let mut defined: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (first, last, logical) in logical_lines(text) {
        let line = logical.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, _) = split_key_value(line);
        defined.insert(unescape(&key), (first, last));
    }
    let line_for =
        |key: &str, value: &ConfigValue| format!("{}={}", escape(key, true), escape(&value.properties_text(), false));
    let mut replace: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    let mut append = Vec::new();
    for (key, value) in updates {
        match defined.get(key) {
            Some(&(first, last)) => {
                replace.insert(first, (last, line_for(key, value)));
            }
            None => append.push(line_for(key, value)),
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + append.len());
    let mut skip_through = 0;
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if number <= skip_through {
            continue;
        }
        match replace.get(&number) {
            Some((last, new_line)) => {
                out.push(new_line.clone());
                skip_through = *last;
            }
            None => out.push((*line).to_owned()),
        }
    }
    if !append.is_empty() {
        // Keep a final newline discipline: append after the last non-empty line.
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
        out.extend(append);
        out.push(String::new());
    }
    out.join("\n")
}

/// The top-level key a TOML line defines, if it is a plain `key = value` line.
fn toml_line_key(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('[') {
        return None;
    }
    let (key, _) = trimmed.split_once('=')?;
    let key = key.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    Some(key.to_owned())
}

/// Replaces or appends `updates` in flat TOML text; refuses when the result would not read
/// back as exactly the old table with the updates applied.
pub fn rewrite_toml(text: &str, updates: &[(String, ConfigValue)], path: &str) -> Result<String, RewriteError> {
    let not_in_place = |key: &str, reason: String| RewriteError::NotInPlace {
        key: key.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let first_table = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let mut append = Vec::new();
    for (key, value) in updates {
        let new_line = format!("{key} = {}", value.toml_literal());
        let at = lines
            .iter()
            .take(first_table)
            .rposition(|l| toml_line_key(l).as_deref() == Some(key.as_str()));
        match at {
            Some(index) => {
                if let Some(line) = lines.get_mut(index) {
                    *line = new_line;
                }
            }
            None => append.push(new_line),
        }
    }
    if !append.is_empty() {
        // New keys must stay at top level: insert them before the first table header.
        let insert_at = if first_table < lines.len() {
            first_table
        } else {
            while lines.last().is_some_and(String::is_empty) {
                lines.pop();
            }
            lines.len()
        };
        let appended_at_end = insert_at == lines.len();
        for (offset, line) in append.into_iter().enumerate() {
            lines.insert(insert_at + offset, line);
        }
        if appended_at_end {
            lines.push(String::new());
        }
    }
    let out = lines.join("\n");
    // Check: old table + updates == new table.
    let parse = |t: &str| t.parse::<toml::Table>();
    let old = parse(text).map_err(|e| not_in_place("*", format!("the file is not valid TOML: {e}")))?;
    let new = parse(&out).map_err(|e| not_in_place("*", format!("the edit would not be valid TOML: {e}")))?;
    let mut expected = old;
    for (key, value) in updates {
        let literal = format!("v = {}", value.toml_literal());
        let parsed = parse(&literal).map_err(|e| not_in_place(key, e.to_string()))?;
        if let Some(v) = parsed.get("v") {
            expected.insert(key.clone(), v.clone());
        }
    }
    if expected != new {
        let key = updates.first().map_or("*", |(k, _)| k.as_str());
        return Err(not_in_place(
            key,
            "the key is defined in a form this editor does not rewrite (table or multi-line value)".to_owned(),
        ));
    }
    Ok(out)
}

/// Applies `updates` to the config file at `path` (TOML when it ends in `.toml`, Java properties
/// otherwise): reads it, edits in place, and replaces it atomically (temp file, fsync, rename,
/// directory fsync). A missing file is created.
pub fn rewrite_config_file(path: &Path, updates: &[(String, ConfigValue)]) -> Result<(), RewriteError> {
    let shown = path.display().to_string();
    let io = |op: &'static str| {
        let shown = shown.clone();
        move |source| RewriteError::Io {
            op,
            path: shown,
            source,
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("reading")(e)),
    };
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let new_text = if is_toml {
        rewrite_toml(&text, updates, &shown)?
    } else {
        let out = rewrite_properties(&text, updates);
        debug_assert!({
            let mut expected = parse_properties(&text);
            for (k, v) in updates {
                expected.insert(k.clone(), v.properties_text());
            }
            expected == parse_properties(&out)
        });
        out
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(io("creating"))?;
    file.write_all(new_text.as_bytes()).map_err(io("writing"))?;
    file.sync_all().map_err(io("syncing"))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io("renaming"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing the directory of"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(k: &str, v: &str) -> (String, ConfigValue) {
        (k.to_owned(), ConfigValue::Text(v.to_owned()))
    }

    // Goal: an updated key changes on its own line, comments and other lines stay, new keys are
    // appended. Method: rewrite a small broker.conf and compare the whole text.
    #[test]
    fn properties_edit_in_place_and_append() {
        let conf = "# my broker\nbrokerName = b1\nbrokerPermission=6\n\n# tail comment\n";
        let out = rewrite_properties(
            conf,
            &[
                ("brokerPermission".to_owned(), ConfigValue::Int(4)),
                ("longPollingEnable".to_owned(), ConfigValue::Bool(false)),
            ],
        );
        assert_eq!(
            out,
            "# my broker\nbrokerName = b1\nbrokerPermission=4\n\n# tail comment\nlongPollingEnable=false\n"
        );
    }

    // Goal: a continued (multi-line) definition is replaced as a whole and only its last
    // definition is touched. Method: duplicate key, second one continued.
    #[test]
    fn properties_replace_the_last_definition_with_its_continuation() {
        let conf = "a=1\nb=2\na=x\\\n  y\nc=3";
        let out = rewrite_properties(conf, &[text("a", "z")]);
        assert_eq!(out, "a=1\nb=2\na=z\nc=3");
        assert_eq!(parse_properties(&out).get("a").map(String::as_str), Some("z"));
    }

    // Goal: flat TOML is edited in place, with strings quoted and new keys kept above tables.
    // Method: rewrite a file with a table and check text and parse.
    #[test]
    fn toml_edit_in_place_keeps_keys_top_level() {
        let conf = "# c\nbrokerName = \"b1\"\nbrokerPermission = 6\n\n[extra]\nx = 1\n";
        let out = rewrite_toml(
            conf,
            &[
                ("brokerPermission".to_owned(), ConfigValue::Int(2)),
                text("msgTraceTopicName", "T \"q\""),
            ],
            "f.toml",
        )
        .unwrap();
        assert_eq!(
            out,
            "# c\nbrokerName = \"b1\"\nbrokerPermission = 2\n\nmsgTraceTopicName = \"T \\\"q\\\"\"\n[extra]\nx = 1\n"
        );
    }

    // Goal: a TOML edit that would not read back as intended is refused. Method: a key defined
    // by a multi-line array.
    #[test]
    fn toml_refuses_what_it_cannot_edit() {
        let conf = "a = [\n  1,\n  2,\n]\n";
        assert!(matches!(
            rewrite_toml(conf, &[("a".to_owned(), ConfigValue::Int(3))], "f.toml"),
            Err(RewriteError::NotInPlace { .. })
        ));
    }

    // Goal: the file is replaced atomically and a missing one is created. Method: rewrite twice
    // in a temp dir.
    #[test]
    fn config_file_is_created_then_updated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.conf");
        rewrite_config_file(&path, &[text("brokerName", "b")]).unwrap();
        std::fs::write(&path, "# keep\nbrokerName=b\n").unwrap();
        rewrite_config_file(&path, &[("brokerPermission".to_owned(), ConfigValue::Int(4))]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# keep\nbrokerName=b\nbrokerPermission=4\n"
        );
        assert!(!dir.path().join("broker.conf.tmp").exists());
    }

    proptest! {
        // Goal: whatever the file, the rewritten properties read back as the old pairs plus the
        // updates. Method: random key/value lines and random updates.
        #[test]
        fn properties_rewrite_reads_back_as_old_plus_updates(
            lines in proptest::collection::vec(("[a-e]{1,2}", "[ -~]{0,8}", any::<bool>()), 0..8),
            updates in proptest::collection::vec(("[a-g]{1,2}", "[ -~]{0,8}"), 0..4),
        ) {
            let mut conf = String::new();
            for (k, v, comment) in &lines {
                if *comment { conf.push_str("# "); }
                conf.push_str(&format!("{}={}\n", k, escape(v, false)));
            }
            let updates: Vec<_> = updates.into_iter().map(|(k, v)| (k, ConfigValue::Text(v))).collect();
            let out = rewrite_properties(&conf, &updates);
            let mut expected = parse_properties(&conf);
            for (k, v) in &updates {
                expected.insert(k.clone(), v.properties_text());
            }
            prop_assert_eq!(parse_properties(&out), expected);
        }
    }
}
