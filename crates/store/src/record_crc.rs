//! Whole-record CRC: RocketMQ 5.x `enabledAppendPropCRC`.
//!
//! RocketMQ's BODYCRC covers only the body, so a torn write inside the topic or properties of
//! the last record would pass recovery. With `enabledAppendPropCRC` every record ends with the
//! property `__CRC32#` + `\u0001` + 10 ASCII digits (least significant first, as Java's
//! `MessageDecoder.createCrc32` writes them) + `\u0002`, holding the masked CRC-32 of the record
//! bytes before those 20 bytes (after queue offset, physical offset and store time are set).
//!
//! Recovery rule ([`check`]): a record carrying the property must match it; once one record of
//! a scan carried it, every later record must; a record without it is accepted only if it looks
//! like a complete foreign record (empty properties or properties ending with `\u0002`), so a
//! store written by a RocketMQ broker without the option still opens.

use ferromq_protocol::message::{masked_crc32, property_value};

use crate::error::{StoreError, StoreResult};

/// Property name (`MessageConst.PROPERTY_CRC32`).
pub const PROPERTY_CRC32: &str = "__CRC32#";
/// Bytes the property takes at the end of the record (`CommitLog.CRC32_RESERVED_LEN`).
pub const CRC32_RESERVED_LEN: usize = PROPERTY_CRC32.len() + 1 + 10 + 1;

/// Appends the property placeholder to the record encoded at `buf[start..]` whose properties
/// are `props_len` bytes, fixing PROPLEN and TOTALSIZE.
pub fn append_placeholder(buf: &mut Vec<u8>, start: usize, props_len: usize) -> StoreResult<()> {
    let too_long = || StoreError::Encode("properties too long for the CRC property".into());
    let end = buf.len();
    let needs_separator = props_len > 0 && buf.last() != Some(&2u8);
    let new_props_len = props_len + usize::from(needs_separator) + CRC32_RESERVED_LEN;
    let new_props_len = i16::try_from(new_props_len).map_err(|_| too_long())?;
    let proplen_pos = end
        .checked_sub(props_len + 2)
        .filter(|p| *p >= start)
        .ok_or_else(too_long)?;
    if needs_separator {
        buf.push(2);
    }
    buf.extend_from_slice(PROPERTY_CRC32.as_bytes());
    buf.push(1);
    buf.extend_from_slice(b"0000000000");
    buf.push(2);
    let total = i32::try_from(buf.len() - start).map_err(|_| too_long())?;
    buf.get_mut(proplen_pos..proplen_pos + 2)
        .ok_or_else(too_long)?
        .copy_from_slice(&new_props_len.to_be_bytes());
    buf.get_mut(start..start + 4)
        .ok_or_else(too_long)?
        .copy_from_slice(&total.to_be_bytes());
    Ok(())
}

/// Computes and writes the CRC digits of a complete record that ends with the placeholder.
pub fn fill(record: &mut [u8]) {
    let len = record.len();
    assert!(len > CRC32_RESERVED_LEN, "record holds the CRC property");
    let mut crc = masked_crc32(record.get(..len - CRC32_RESERVED_LEN).unwrap_or_default());
    if let Some(digits) = record.get_mut(len - 11..len - 1) {
        for d in digits.iter_mut() {
            *d = b'0' + (crc % 10) as u8;
            crc /= 10;
        }
    }
}

/// The value of `name` if it is the last property of `properties` (where this crate appends the
/// CRC property), else `None`: a shortcut that agrees with `property_value` whenever it answers,
/// since the last occurrence of a name wins.
fn last_pair_value<'a>(properties: &'a str, name: &str) -> Option<&'a str> {
    let body = properties.strip_suffix('\u{2}')?;
    let segment = body.rsplit_once('\u{2}').map_or(body, |(_, last)| last);
    let (key, value) = segment.split_once('\u{1}')?;
    (key == name && !value.is_empty()).then_some(value)
}

/// Outcome of checking one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcCheck {
    /// The property is present and matches.
    Matches,
    /// No property; the record looks like a complete foreign record.
    Absent,
}

/// Checks the record bytes against their CRC property; `require` after a record had one.
pub fn check(record: &[u8], properties: &str, require: bool) -> Result<CrcCheck, String> {
    match last_pair_value(properties, PROPERTY_CRC32).or_else(|| property_value(properties, PROPERTY_CRC32)) {
        Some(digits) => {
            if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("malformed CRC property {digits:?}"));
            }
            let expected = digits.bytes().rev().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
            let covered = record
                .len()
                .checked_sub(CRC32_RESERVED_LEN)
                .ok_or("record shorter than its CRC property")?;
            let computed = masked_crc32(record.get(..covered).unwrap_or_default());
            if i64::from(computed) != expected {
                return Err(format!("record CRC mismatch: stored {expected}, computed {computed}"));
            }
            Ok(CrcCheck::Matches)
        }
        None if require => Err("record lacks the CRC property that earlier records carry".into()),
        None if !properties.is_empty() && !properties.ends_with('\u{2}') => {
            Err("properties do not end with a separator (torn tail)".into())
        }
        None => Ok(CrcCheck::Absent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ferromq_protocol::message::{decode_record, encode_record, MessageRecord};
    use proptest::prelude::*;

    proptest! {
        // Goal: the last-pair shortcut never disagrees with the full property lookup. Method:
        // random property strings over a small alphabet dense in separators and the name.
        #[test]
        fn last_pair_shortcut_agrees_with_property_value(
            parts in proptest::collection::vec(
                prop_oneof![Just("__CRC32#"), Just("\u{1}"), Just("\u{2}"), Just("1"), Just("K")],
                0..12,
            )
        ) {
            let s: String = parts.concat();
            if let Some(v) = last_pair_value(&s, PROPERTY_CRC32) {
                prop_assert_eq!(Some(v), property_value(&s, PROPERTY_CRC32));
            }
        }
    }

    // Goal: the placeholder keeps the record decodable, the CRC matches, and any byte flip
    // or a torn tail is detected. Method: encode, fill, decode, mutate.
    #[test]
    fn crc_property_detects_flips_and_torn_tails() {
        let mut r = MessageRecord::new("T", Bytes::from_static(b"body"));
        r.properties = "KEYS\u{1}a b".into();
        let mut buf = Vec::new();
        encode_record(&r, 1024, &mut buf).unwrap();
        append_placeholder(&mut buf, 0, r.properties.len()).unwrap();
        fill(&mut buf);
        let rec = decode_record(&Bytes::from(buf.clone()), true).unwrap();
        assert_eq!(rec.properties.len(), r.properties.len() + 1 + CRC32_RESERVED_LEN);
        assert_eq!(check(&buf, &rec.properties, true), Ok(CrcCheck::Matches));
        for i in [10, 60, buf.len() - 25] {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(check(&bad, &rec.properties, true).is_err(), "flip at {i}");
        }
        assert!(check(&buf, "KEYS\u{1}a b\u{2}__CRC32#\u{1}12", false).is_err());
        assert_eq!(check(&buf, "KEYS\u{1}a\u{2}", false), Ok(CrcCheck::Absent));
        assert!(check(&buf, "KEYS\u{1}a\u{0}", false).is_err());
        assert_eq!(
            last_pair_value("A\u{1}1\u{2}__CRC32#\u{1}0123456789\u{2}", PROPERTY_CRC32),
            Some("0123456789")
        );
        assert_eq!(last_pair_value("__CRC32#\u{1}1\u{2}A\u{1}2\u{2}", PROPERTY_CRC32), None);
        assert!(check(&buf, "KEYS\u{1}a\u{2}", true).is_err());
    }
}
