//! Java `.properties` text: config files (`broker.conf`, `namesrv.conf`) and the bodies of
//! UPDATE/GET_NAMESRV_CONFIG and UPDATE/GET_BROKER_CONFIG (Java `MixAll.string2Properties` /
//! `properties2String`). The one properties codec of the project.
//!
//! Supported: `key=value`, `key:value` and `key value` lines; leading whitespace; `#` and `!`
//! comment lines; a trailing backslash continues a line; the escapes `\t \n \r \f \\ \uXXXX`
//! (any other escaped character stands for itself). Later duplicates win, as in Java.
//!
//! Invariant: parsing is total (any text gives a map) and never panics; a malformed `\u`
//! escape keeps its characters literally.

use std::collections::BTreeMap;

/// Parses properties text into key -> value (keys and values unescaped; later duplicates win).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    parse_properties_lines(text)
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .collect()
}

/// Parses properties text into `(line, key, value)` in order, duplicates kept; `line` is the
/// 1-based line where the logical line starts (for error messages).
pub fn parse_properties_lines(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (line_no, _, logical) in logical_lines(text) {
        let line = logical.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = split_key_value(line);
        out.push((line_no, unescape(&key), unescape(&value)));
    }
    out
}

/// Writes `key=value` lines (keys in the map's order), escaping as Java's `Properties.store`
/// would for the characters that matter when read back.
pub fn to_properties_text<'a>(entries: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut out = String::new();
    for (key, value) in entries {
        out.push_str(&escape(key, true));
        out.push('=');
        out.push_str(&escape(&value, false));
        out.push('\n');
    }
    out
}

/// Joins physical lines ending in an odd number of backslashes with the next line (whose
/// leading whitespace is dropped); each logical line comes with its 1-based first and last
/// physical line numbers.
pub(crate) fn logical_lines(text: &str) -> Vec<(usize, usize, String)> {
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let piece = match current {
            Some(_) => raw.trim_start(),
            None => raw,
        };
        let trailing_backslashes = piece.chars().rev().take_while(|c| *c == '\\').count();
        let continues = trailing_backslashes % 2 == 1;
        let piece = if continues {
            piece.strip_suffix('\\').unwrap_or(piece)
        } else {
            piece
        };
        let (first_line, mut joined) = current.take().unwrap_or((index + 1, String::new()));
        joined.push_str(piece);
        if continues {
            current = Some((first_line, joined));
        } else {
            lines.push((first_line, index + 1, joined));
        }
    }
    if let Some((first_line, joined)) = current {
        let last_line = text.split('\n').count();
        lines.push((first_line, last_line, joined));
    }
    lines
}

/// Splits at the first unescaped `=`, `:` or whitespace; whitespace and one separator after the
/// key are skipped.
pub(crate) fn split_key_value(line: &str) -> (String, String) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (index, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\u{c}' => {
                key_end = index;
                break;
            }
            _ => {}
        }
    }
    let key = line.get(..key_end).unwrap_or(line).to_owned();
    let rest = line.get(key_end..).unwrap_or("");
    let rest = rest.trim_start_matches([' ', '\t', '\u{c}']);
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(':'))
        .unwrap_or(rest);
    let value = rest.trim_start_matches([' ', '\t', '\u{c}']).to_owned();
    (key, value)
}

pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

pub(crate) fn escape(text: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' if is_key => {
                out.push('\\');
                out.push(c);
            }
            ' ' if is_key || index == 0 => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_forms_parse() {
        // Goal: the line forms Java accepts parse to the same pairs. Method: one text with
        // every form, comments and a continuation.
        let text = "# comment\n! other comment\n\n  a=1\nb : 2\nc 3\nd=x\\\n   y\ne=\\u0041\\tz\nf=\r\nk\\=ey=v\n";
        let parsed = parse_properties(text);
        assert_eq!(parsed.get("a").map(String::as_str), Some("1"));
        assert_eq!(parsed.get("b").map(String::as_str), Some("2"));
        assert_eq!(parsed.get("c").map(String::as_str), Some("3"));
        assert_eq!(parsed.get("d").map(String::as_str), Some("xy"));
        assert_eq!(parsed.get("e").map(String::as_str), Some("A\tz"));
        assert_eq!(parsed.get("f").map(String::as_str), Some(""));
        assert_eq!(parsed.get("k=ey").map(String::as_str), Some("v"));
        assert_eq!(parsed.len(), 7);
    }

    #[test]
    fn written_properties_read_back() {
        // Goal: to_properties_text and parse_properties round trip awkward keys and values.
        // Method: write, parse, compare.
        let entries = [("plain", "v".to_owned()), ("we=ird key", " lead\\ing\n".to_owned())];
        let text = to_properties_text(entries.iter().map(|(k, v)| (*k, v.clone())));
        let parsed = parse_properties(&text);
        assert_eq!(parsed.get("plain").map(String::as_str), Some("v"));
        assert_eq!(parsed.get("we=ird key").map(String::as_str), Some(" lead\\ing\n"));
    }

    #[test]
    fn logical_lines_carry_their_first_line_number() {
        // Goal: error messages can name the line. Method: a comment, a continuation, a pair.
        let parsed = parse_properties_lines("# c\na=1\\\n  2\nb=3\n");
        assert_eq!(
            parsed,
            vec![
                (2, "a".to_owned(), "12".to_owned()),
                (4, "b".to_owned(), "3".to_owned())
            ]
        );
    }

    #[test]
    fn malformed_unicode_escape_is_kept_literally() {
        // Goal: total parsing. Method: a short and a non-hex \u escape.
        let parsed = parse_properties("a=\\u12\nb=\\uzzzz\nc=\\");
        assert_eq!(parsed.get("a").map(String::as_str), Some("u12"));
        assert_eq!(parsed.get("b").map(String::as_str), Some("uzzzz"));
        assert_eq!(parsed.get("c").map(String::as_str), Some(""));
    }
}
