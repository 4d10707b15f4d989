//! The stored properties of a single send, built without decoding them into a map when the
//! client's string allows it (the common case: a producer's own well-formed properties).
//!
//! The general path ([`super::send_message`]) decodes the string, removes POP_CK, adds UNIQ_KEY
//! when missing and CLUSTER, lets retry/DLQ routing and delay parking edit the map, and encodes
//! it again. When the string is *canonical* — every segment a valid `name\u{1}value` pair ended
//! by `\u{2}`, no name twice — decoding and encoding give the same string back, so when there is
//! also no POP_CK, CLUSTER or DELAY to edit, the result is the client's string with the added
//! pairs appended: [`PropsScan::append_edits`] builds exactly that.
//!
//! Invariant: whenever [`PropsScan::simple`] holds, `append_edits` equals the general path's
//! result (the property test below compares the two on random strings).

use ferromq_protocol::message::properties::{self, push_property, PROPERTY_SEPARATOR};

/// What one pass over a client's properties string found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PropsScan<'a> {
    /// Decoding and encoding give the string back unchanged.
    pub canonical: bool,
    /// A name the edits change in place (POP_CK, CLUSTER) or that delay parking reads (DELAY).
    pub edited_names: bool,
    /// TRAN_MSG's value (the last one, as decoding keeps it).
    pub tran_msg: Option<&'a str>,
    /// UNIQ_KEY's value (the last one).
    pub uniq_key: Option<&'a str>,
}

/// Most pairs the duplicate check compares pairwise; longer strings take the general path.
const MAX_SCANNED_PAIRS: usize = 32;

impl<'a> PropsScan<'a> {
    /// Scans `raw` once.
    pub fn of(raw: &'a str) -> Self {
        let mut scan = PropsScan {
            canonical: raw.is_empty() || raw.ends_with(PROPERTY_SEPARATOR),
            ..PropsScan::default()
        };
        let mut names: [&str; MAX_SCANNED_PAIRS] = [""; MAX_SCANNED_PAIRS];
        let mut count = 0;
        let body = raw.strip_suffix(PROPERTY_SEPARATOR).unwrap_or(raw);
        // `segments` is `split(PROPERTY_SEPARATOR)` with each segment's first name/value
        // separator found in the same pass.
        for (segment, name_end) in properties::segments(body).filter(|_| !raw.is_empty()) {
            let Some((name, value)) = name_end
                .and_then(|n| Some((segment.get(..n)?, segment.get(n + 1..)?)))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            else {
                // Decoding drops this segment: the string does not come back unchanged.
                scan.canonical = false;
                continue;
            };
            match name {
                properties::POP_CK | properties::CLUSTER | properties::DELAY => scan.edited_names = true,
                properties::TRAN_MSG => scan.tran_msg = Some(value),
                properties::UNIQ_KEY => scan.uniq_key = Some(value),
                _ => {}
            }
            let repeated = names.iter().take(count).any(|n| *n == name);
            match names.get_mut(count) {
                Some(slot) if !repeated => {
                    *slot = name;
                    count += 1;
                }
                // A repeated name (decoding merges it) or too many to compare.
                _ => scan.canonical = false,
            }
        }
        scan
    }

    /// Whether [`Self::append_edits`] gives the general path's result.
    pub fn simple(&self) -> bool {
        self.canonical && !self.edited_names
    }

    /// `raw` with UNIQ_KEY (`new_uniq()` when missing) and CLUSTER appended; returns the
    /// properties and the UNIQ_KEY.
    pub fn append_edits(&self, raw: &str, new_uniq: impl FnOnce() -> String, cluster: &str) -> (String, String) {
        let (out, generated) = self.write_edits(raw, new_uniq, cluster);
        let uniq = generated.unwrap_or_else(|| self.uniq_key.unwrap_or_default().to_owned());
        (out, uniq)
    }

    /// [`Self::append_edits`] without the UNIQ_KEY copy (a batch's messages answer offset ids
    /// only).
    pub fn edited(&self, raw: &str, new_uniq: impl FnOnce() -> String, cluster: &str) -> String {
        self.write_edits(raw, new_uniq, cluster).0
    }

    /// The edited string, and the UNIQ_KEY generated for it (`None` when `raw` had one).
    fn write_edits(&self, raw: &str, new_uniq: impl FnOnce() -> String, cluster: &str) -> (String, Option<String>) {
        let mut out = String::with_capacity(raw.len() + 64 + cluster.len());
        out.push_str(raw);
        let generated = match self.uniq_key {
            Some(_) => None,
            None => {
                let uniq = new_uniq();
                push_property(&mut out, properties::UNIQ_KEY, &uniq);
                Some(uniq)
            }
        };
        push_property(&mut out, properties::CLUSTER, cluster);
        (out, generated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_protocol::message::{decode_properties, encode_properties};
    use proptest::prelude::*;

    /// The general path's edits (as `send_message::edit_properties` makes them).
    fn general(raw: &str, uniq: &str, cluster: &str) -> (String, String) {
        let mut props = decode_properties(raw);
        props.remove(properties::POP_CK);
        let uniq = match props.get(properties::UNIQ_KEY) {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => {
                props.insert(properties::UNIQ_KEY, uniq.to_owned());
                uniq.to_owned()
            }
        };
        props.insert(properties::CLUSTER, cluster.to_owned());
        (encode_properties(&props), uniq)
    }

    // Goal: a producer's usual properties take the fast path and get UNIQ_KEY and CLUSTER
    // appended. Method: a string as clients send it, with and without UNIQ_KEY.
    #[test]
    fn usual_properties_are_appended_to() {
        let raw = "WAIT\u{1}true\u{2}TAGS\u{1}a\u{2}";
        let scan = PropsScan::of(raw);
        assert!(scan.simple());
        let (props, uniq) = scan.append_edits(raw, || "U1".into(), "C");
        assert_eq!(props, format!("{raw}UNIQ_KEY\u{1}U1\u{2}CLUSTER\u{1}C\u{2}"));
        assert_eq!(uniq, "U1");
        let raw = "UNIQ_KEY\u{1}X\u{2}WAIT\u{1}true\u{2}";
        let (props, uniq) = PropsScan::of(raw).append_edits(raw, || unreachable!(), "C");
        assert_eq!(
            (props.as_str(), uniq.as_str()),
            ("UNIQ_KEY\u{1}X\u{2}WAIT\u{1}true\u{2}CLUSTER\u{1}C\u{2}", "X")
        );
    }

    // Goal: strings decoding would change, and names the edits touch, are left to the general
    // path. Method: one example of each.
    #[test]
    fn non_canonical_or_edited_strings_are_not_simple() {
        for raw in [
            "A\u{1}1",                  // no final separator
            "A\u{1}1\u{2}A\u{1}2\u{2}", // repeated name
            "A\u{1}\u{2}",              // empty value
            "\u{2}A\u{1}1\u{2}",        // empty segment
            "POP_CK\u{1}x\u{2}",        // removed
            "CLUSTER\u{1}x\u{2}",       // replaced in place
            "DELAY\u{1}3\u{2}",         // parked by delay level
        ] {
            assert!(!PropsScan::of(raw).simple(), "{raw:?}");
        }
        assert!(PropsScan::of("").simple());
    }

    proptest! {
        // Goal: the fast path equals the general path whenever it applies, and TRAN_MSG and
        // UNIQ_KEY are read as decoding reads them. Method: random strings over an alphabet of
        // separators and the names that matter.
        #[test]
        fn fast_path_equals_general_path(parts in proptest::collection::vec(
            prop_oneof![
                Just("\u{1}".to_string()), Just("\u{2}".to_string()),
                Just("UNIQ_KEY".to_string()), Just("TRAN_MSG".to_string()), Just("POP_CK".to_string()),
                Just("CLUSTER".to_string()), Just("DELAY".to_string()), Just("TAGS".to_string()),
                "[a-z]{1,3}",
            ], 0..24)) {
            let raw: String = parts.concat();
            let scan = PropsScan::of(&raw);
            let decoded = decode_properties(&raw);
            prop_assert_eq!(scan.tran_msg, decoded.get(properties::TRAN_MSG));
            if scan.simple() {
                prop_assert_eq!(scan.uniq_key, decoded.get(properties::UNIQ_KEY));
                prop_assert_eq!(scan.append_edits(&raw, || "NEW".into(), "Cl"), general(&raw, "NEW", "Cl"));
                prop_assert_eq!(scan.edited(&raw, || "NEW".into(), "Cl"), general(&raw, "NEW", "Cl").0);
            }
            // Canonical means decode + encode give the string back.
            if scan.canonical {
                prop_assert_eq!(encode_properties(&decoded), raw);
            }
        }
    }
}
