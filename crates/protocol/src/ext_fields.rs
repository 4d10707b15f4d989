//! [`ExtFields`]: a command's custom header — string keys to string values — stored in one
//! text arena, so that a header costs two allocations whatever its number of fields.
//!
//! Components:
//! - [`ExtFields`]: the map (insert replaces, lookup by key, iteration in ascending key order);
//! - [`Iter`]: its iterator, `(key, value)` pairs in ascending key byte order;
//! - [`ValueText`]: an append-only view of the arena, for writing a value in place
//!   ([`ExtFields::insert_with`]) instead of formatting it into a temporary `String`;
//! - `ExtFieldsBuilder` (crate-internal): bulk construction for the decoders, which append
//!   fields in wire order and sort once at the end.
//!
//! Representation: every key and value lives in one `String` (the arena); a `Vec` of spans
//! points into it. Invariants:
//! - the spans are strictly ascending by key bytes (keys are unique, and iteration order is
//!   the sorted order fastjson writes);
//! - every span lies inside the arena on `char` boundaries (each was the length of the arena
//!   before or after a `push_str`, or the position of an ASCII `"` inside the pushed text);
//! - `garbage` counts the arena bytes no span refers to (replaced or removed fields, and the
//!   `":"` between key and value of a field the decoder copied from its JSON text); the arena
//!   is rebuilt when garbage passes half of it, so it stays within twice the live text.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::FusedIterator;

/// Garbage below this many bytes is never worth a compaction.
const COMPACT_MIN_GARBAGE: usize = 256;

/// Bytes between key and value of a field appended from its JSON text: `":"`.
const PAIR_GAP_BYTES: usize = 3;

/// Where one field's key and value sit in the arena (byte offsets, end exclusive).
#[derive(Clone, Copy, Debug)]
struct Span {
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
}

impl Span {
    fn key<'a>(&self, text: &'a str) -> &'a str {
        slice(text, self.key_start, self.key_end)
    }

    fn value<'a>(&self, text: &'a str) -> &'a str {
        slice(text, self.value_start, self.value_end)
    }

    fn text_len(&self) -> usize {
        (self.key_end - self.key_start) + (self.value_end - self.value_start)
    }
}

/// `text[start..end]`; the invariants make the range valid, so the fallback is never taken.
fn slice(text: &str, start: usize, end: usize) -> &str {
    let part = text.get(start..end);
    debug_assert!(part.is_some(), "ext-field span {start}..{end} outside the arena");
    part.unwrap_or_default()
}

/// The custom header of a command: unique string keys to string values, iterated in ascending
/// key byte order (fastjson writes them sorted, and so do both header encoders).
///
/// Equality compares content only (two maps built in different orders are equal).
#[derive(Clone, Default)]
pub struct ExtFields {
    text: String,
    spans: Vec<Span>,
    garbage: usize,
}

impl ExtFields {
    /// An empty map; allocates nothing.
    pub const fn new() -> Self {
        ExtFields {
            text: String::new(),
            spans: Vec::new(),
            garbage: 0,
        }
    }

    /// An empty map with room for `fields` fields totalling `text_bytes` bytes of keys and
    /// values.
    pub fn with_capacity(fields: usize, text_bytes: usize) -> Self {
        ExtFields {
            text: String::with_capacity(text_bytes),
            spans: Vec::with_capacity(fields),
            garbage: 0,
        }
    }

    /// Makes room for `fields` more fields totalling `text_bytes` more bytes of keys and values.
    pub fn reserve(&mut self, fields: usize, text_bytes: usize) {
        self.spans.reserve(fields);
        self.text.reserve(text_bytes);
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn key_bytes(&self, span: &Span) -> &[u8] {
        self.text
            .as_bytes()
            .get(span.key_start..span.key_end)
            .unwrap_or_default()
    }

    fn search(&self, key: &str) -> Result<usize, usize> {
        // Byte order is `str` order; comparing bytes skips the char-boundary checks.
        let key = key.as_bytes();
        self.spans.binary_search_by(|span| self.key_bytes(span).cmp(key))
    }

    /// The fields as `(key bytes, value)` in ascending key order, for the crate's decoders that
    /// match keys byte by byte (the key is not sliced as a `str`, so no char-boundary checks).
    pub(crate) fn iter_key_bytes(&self) -> impl Iterator<Item = (&[u8], &str)> + '_ {
        self.spans
            .iter()
            .map(|span| (self.key_bytes(span), span.value(&self.text)))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let index = self.search(key).ok()?;
        self.spans.get(index).map(|span| span.value(&self.text))
    }

    /// The value of `key`, looked for first at position `*hint` (the field after the one read
    /// last): typed headers read their fields mostly in key order, so most lookups cost one
    /// comparison. `*hint` moves past the field found.
    pub fn get_hinted(&self, key: &str, hint: &mut usize) -> Option<&str> {
        let index = match self.spans.get(*hint) {
            Some(span) if self.key_bytes(span) == key.as_bytes() => *hint,
            _ => self.search(key).ok()?,
        };
        *hint = index + 1;
        self.spans.get(index).map(|span| span.value(&self.text))
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.search(key).is_ok()
    }

    /// Sets `key` to `value`; returns true when it replaced an earlier value.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> bool {
        let value = value.as_ref();
        self.insert_with(key.as_ref(), |text| text.push_str(value))
    }

    /// Sets `key` to the text `write` appends: the value is formatted straight into the arena.
    /// Returns true when it replaced an earlier value.
    pub fn insert_with(&mut self, key: &str, write: impl FnOnce(&mut ValueText<'_>)) -> bool {
        // Typed headers write their fields in key order: a key past the last one is appended
        // without a search.
        let found = match self.spans.last() {
            Some(last) if self.key_bytes(last) >= key.as_bytes() => self.search(key),
            _ => Err(self.spans.len()),
        };
        let value_start = self.text.len();
        write(&mut ValueText { text: &mut self.text });
        let value_end = self.text.len();
        let replaced = match found {
            Ok(index) => match self.spans.get_mut(index) {
                Some(span) => {
                    self.garbage += span.value_end - span.value_start;
                    span.value_start = value_start;
                    span.value_end = value_end;
                    true
                }
                None => false,
            },
            Err(index) => {
                let key_start = self.text.len();
                self.text.push_str(key);
                let span = Span {
                    key_start,
                    key_end: self.text.len(),
                    value_start,
                    value_end,
                };
                self.spans.insert(index.min(self.spans.len()), span);
                false
            }
        };
        self.compact_if_wasteful();
        replaced
    }

    /// Removes `key`; returns true when it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        let Ok(index) = self.search(key) else {
            return false;
        };
        if index >= self.spans.len() {
            return false;
        }
        let span = self.spans.remove(index);
        if self.spans.is_empty() {
            self.clear();
        } else {
            self.garbage += span.text_len();
            self.compact_if_wasteful();
        }
        true
    }

    /// Removes every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
        self.garbage = 0;
    }

    /// The fields, in ascending key byte order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            spans: self.spans.iter(),
        }
    }

    /// The keys, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + FusedIterator + '_ {
        self.iter().map(|(key, _)| key)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + FusedIterator + '_ {
        self.iter().map(|(_, value)| value)
    }

    /// Total bytes of live keys and values (what the encoders copy).
    pub fn text_len(&self) -> usize {
        self.text.len() - self.garbage
    }

    fn compact_if_wasteful(&mut self) {
        if self.garbage >= COMPACT_MIN_GARBAGE && self.garbage * 2 > self.text.len() {
            self.compact();
        }
    }

    /// Rebuilds the arena with live text only, keys and values in key order.
    fn compact(&mut self) {
        let mut text = String::with_capacity(self.text_len());
        for span in &mut self.spans {
            let key_start = text.len();
            text.push_str(span.key(&self.text));
            let value_start = text.len();
            text.push_str(span.value(&self.text));
            *span = Span {
                key_start,
                key_end: value_start,
                value_start,
                value_end: text.len(),
            };
        }
        self.text = text;
        self.garbage = 0;
    }
}

/// Append-only access to an [`ExtFields`] arena while one value is written.
pub struct ValueText<'a> {
    text: &'a mut String,
}

impl<'a> ValueText<'a> {
    /// Append-only access to `text` (a string built outside an arena, e.g. a remark).
    pub(crate) fn new(text: &'a mut String) -> Self {
        ValueText { text }
    }

    /// Appends `s`.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Appends `c`.
    pub fn push_char(&mut self, c: char) {
        self.text.push(c);
    }

    /// Appends the decimal text of `value`, as `to_string` (and Java's `String.valueOf`) would.
    pub fn push_integer(&mut self, value: i64) {
        push_integer(self.text, value);
    }
}

impl fmt::Write for ValueText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

/// Appends the decimal text of `value` to `out` without the formatting machinery.
pub(crate) fn push_integer(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut n = value.unsigned_abs();
    let mut divisor = 1u64;
    while n / divisor >= 10 {
        divisor *= 10;
    }
    loop {
        // n / divisor < 10 here, so the cast cannot truncate.
        out.push(char::from(b'0' + (n / divisor) as u8));
        n %= divisor;
        if divisor == 1 {
            return;
        }
        divisor /= 10;
    }
}

impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl Hash for ExtFields {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (key, value) in self {
            key.hash(state);
            value.hash(state);
        }
    }
}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for ExtFields {
    /// Builds the map in one pass and one sort; a repeated key keeps its last value.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut builder = ExtFieldsBuilder::with_capacity(iter.size_hint().0, 0);
        for (key, value) in iter {
            builder.push(key.as_ref(), value.as_ref());
        }
        builder.finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for ExtFields {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<'a> IntoIterator for &'a ExtFields {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the fields of an [`ExtFields`], in ascending key byte order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    text: &'a str,
    spans: std::slice::Iter<'a, Span>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        self.spans.next().map(|span| (span.key(text), span.value(text)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let text = self.text;
        self.spans.next_back().map(|span| (span.key(text), span.value(text)))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FusedIterator for Iter<'_> {}

/// Bulk construction for decoders: fields are appended in wire order (key, then value, written
/// straight into the arena) and sorted once by [`ExtFieldsBuilder::finish`], where a repeated
/// key keeps its last value. Input already in ascending order (what fastjson and FerroMQ send)
/// needs no sort at all.
pub(crate) struct ExtFieldsBuilder {
    fields: ExtFields,
    sorted: bool,
}

impl ExtFieldsBuilder {
    /// A builder with room for `fields` fields and `text_bytes` bytes of text.
    pub(crate) fn with_capacity(fields: usize, text_bytes: usize) -> Self {
        ExtFieldsBuilder {
            fields: ExtFields::with_capacity(fields, text_bytes),
            sorted: true,
        }
    }

    /// The arena length: the start of the next key, or the end of the last written text.
    pub(crate) fn mark(&self) -> usize {
        self.fields.text.len()
    }

    /// Appends text (a key or a value under construction) to the arena.
    pub(crate) fn text(&mut self) -> ValueText<'_> {
        ValueText {
            text: &mut self.fields.text,
        }
    }

    /// Records the field whose key spans `key_start..key_end` and whose value is everything
    /// written since. Both marks come from [`ExtFieldsBuilder::mark`], in order.
    pub(crate) fn commit(&mut self, key_start: usize, key_end: usize) {
        debug_assert!(key_start <= key_end && key_end <= self.fields.text.len());
        self.record(key_start, key_end);
    }

    /// Appends one field.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        self.note_order(key.as_bytes());
        let text = &mut self.fields.text;
        text.reserve(key.len() + value.len());
        let key_start = text.len();
        text.push_str(key);
        let key_end = text.len();
        text.push_str(value);
        self.fields.spans.push(Span {
            key_start,
            key_end,
            value_start: key_end,
            value_end: text.len(),
        });
    }

    /// Appends one field from its JSON text without the outer quotes, `key":"value` (key and
    /// value without escapes; the key is the first `key_len` bytes): one copy instead of two.
    /// The three bytes `":"` stay in the arena between key and value, counted as garbage.
    pub(crate) fn push_pair_text(&mut self, pair: &str, key_len: usize) {
        debug_assert_eq!(
            pair.as_bytes().get(key_len..key_len + PAIR_GAP_BYTES),
            Some(&b"\":\""[..])
        );
        self.note_order(pair.as_bytes().get(..key_len).unwrap_or_default());
        let text = &mut self.fields.text;
        let key_start = text.len();
        text.push_str(pair);
        let key_end = key_start + key_len;
        self.fields.garbage += PAIR_GAP_BYTES;
        self.fields.spans.push(Span {
            key_start,
            key_end,
            value_start: key_end + PAIR_GAP_BYTES,
            value_end: text.len(),
        });
    }

    /// Adds the span of a field written at the end of the arena: key `key_start..key_end`,
    /// value from there to the end.
    fn record(&mut self, key_start: usize, key_end: usize) {
        let key = self.fields.text.as_bytes().get(key_start..key_end).unwrap_or_default();
        if self.sorted && !self.ascends_to(key) {
            self.sorted = false;
        }
        self.fields.spans.push(Span {
            key_start,
            key_end,
            value_start: key_end,
            value_end: self.fields.text.len(),
        });
    }

    /// Notes whether `key`, about to be appended, keeps the keys ascending; once they are not,
    /// nothing more is compared ([`ExtFieldsBuilder::finish`] sorts).
    fn note_order(&mut self, key: &[u8]) {
        if self.sorted && !self.ascends_to(key) {
            self.sorted = false;
        }
    }

    /// Whether `key` sorts after the last field's key. Compared as bytes (no char-boundary
    /// checks: the order is byte order), usually decided by the first byte (fastjson's `a`..`n`).
    fn ascends_to(&self, key: &[u8]) -> bool {
        let Some(last) = self.fields.spans.last() else {
            return true;
        };
        let last = self
            .fields
            .text
            .as_bytes()
            .get(last.key_start..last.key_end)
            .unwrap_or_default();
        match (last.first(), key.first()) {
            (Some(a), Some(b)) if a != b => a < b,
            _ => last < key,
        }
    }

    /// Drops the text written since `mark` (a field whose value turned out to be null).
    pub(crate) fn rollback(&mut self, mark: usize) {
        if mark <= self.fields.text.len() && self.fields.text.is_char_boundary(mark) {
            self.fields.text.truncate(mark);
        }
    }

    /// The finished map: sorted by key, a repeated key keeping its last value.
    pub(crate) fn finish(self) -> ExtFields {
        let mut fields = self.fields;
        if !self.sorted {
            let text = fields.text.as_str();
            // Stable: equal keys stay in wire order, so the last of each run is the last sent.
            fields.spans.sort_by(|a, b| a.key(text).cmp(b.key(text)));
            let mut garbage = 0;
            fields.spans.dedup_by(|later, kept| {
                if later.key(text).cmp(kept.key(text)) == Ordering::Equal {
                    garbage += kept.text_len();
                    *kept = *later;
                    true
                } else {
                    false
                }
            });
            fields.garbage += garbage;
            fields.compact_if_wasteful();
        }
        fields
    }
}

#[cfg(test)]
#[path = "ext_fields_test.rs"]
mod tests;
