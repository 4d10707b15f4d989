//! Java-compatible hashes: `String.hashCode()` and RocketMQ's masked CRC-32.
//!
//! Invariants: both functions are total and bit-for-bit equal to Java's results, so values
//! computed here (tagsCode in the ConsumeQueue, index keys, BODYCRC) interoperate with Java
//! brokers and clients.

/// Java `String.hashCode()`: `h = 31 * h + c` over the UTF-16 code units of `s`, wrapping on
/// overflow. Characters outside the BMP count as two code units (a surrogate pair), as in Java.
///
/// ASCII text (every topic, tag and key a client usually sends; dispatch hashes each stored
/// message's keys) is one code unit per byte, taken four at a time:
/// `h' = h·31⁴ + b₀·31³ + b₁·31² + b₂·31 + b₃`, the recurrence unrolled (all wrapping, so equal).
pub fn java_hash(s: &str) -> i32 {
    java_hash_continue(0, s)
}

/// [`java_hash`] of a string that starts with text whose hash is `h`, followed by `s`:
/// `java_hash(a + b) == java_hash_continue(java_hash(a), b)`, so a concatenation (an index key
/// `topic#key`) is hashed from its parts without building it.
pub fn java_hash_continue(h: i32, s: &str) -> i32 {
    if !s.is_ascii() {
        return s
            .encode_utf16()
            .fold(h, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)));
    }
    const P1: i32 = 31;
    const P2: i32 = 31 * 31;
    const P3: i32 = 31 * 31 * 31;
    const P4: i32 = 31 * 31 * 31 * 31;
    let mut quads = s.as_bytes().chunks_exact(4);
    let mut h = h;
    for quad in &mut quads {
        let [b0, b1, b2, b3] = [quad[0], quad[1], quad[2], quad[3]].map(i32::from);
        h = h
            .wrapping_mul(P4)
            .wrapping_add(b0.wrapping_mul(P3))
            .wrapping_add(b1.wrapping_mul(P2))
            .wrapping_add(b2.wrapping_mul(P1))
            .wrapping_add(b3);
    }
    quads
        .remainder()
        .iter()
        .fold(h, |h, &b| h.wrapping_mul(31).wrapping_add(i32::from(b)))
}

/// RocketMQ's `UtilAll.crc32`: the standard CRC-32 (IEEE, as zlib) masked with `0x7FFFFFFF`,
/// so the result is never negative.
pub fn masked_crc32(data: &[u8]) -> i32 {
    // The mask clears the sign bit, so the value always fits an i32.
    (crc32fast::hash(data) & 0x7FFF_FFFF) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Goal: java_hash equals Java's String.hashCode. Method: values printed by a JDK 17 for the
    // same strings (and checked by hand for "TagA": ((84*31+97)*31+103)*31+65).
    #[test]
    fn java_hash_matches_java_string_hash_code() {
        assert_eq!(java_hash("TagA"), 2_598_919);
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("hello world"), 1_794_106_052);
        assert_eq!(java_hash("中文标签"), 622_041_809);
        assert_eq!(java_hash("a\u{1}b"), 93_346);
    }

    // Goal: overflow wraps like Java ints. Method: the well-known string whose hash is MIN_VALUE.
    #[test]
    fn java_hash_wraps_on_overflow() {
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
    }

    // Goal: non-BMP characters hash as their two UTF-16 surrogates. Method: U+1F600 is
    // D83D DE00, so the hash is 0xD83D * 31 + 0xDE00 = 1772899 (also what Java prints).
    #[test]
    fn java_hash_counts_a_surrogate_pair_as_two_units() {
        assert_eq!(java_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_hash("\u{1F600}"), 1_772_899);
    }

    // Goal: masked_crc32 equals UtilAll.crc32. Method: the CRC-32 check value of "123456789"
    // (0xCBF43926) with the sign bit cleared, and a JDK-computed value for "hello".
    #[test]
    fn masked_crc32_clears_the_sign_bit_of_ieee_crc32() {
        assert_eq!(masked_crc32(b"123456789"), 0x4BF4_3926);
        assert_eq!(masked_crc32(b"hello"), 907_060_870);
        assert_eq!(masked_crc32(b""), 0);
    }

    proptest! {
        // Goal: the hash follows the recurrence for any string. Method: compare with a direct
        // i64-then-truncate computation over UTF-16 units.
        #[test]
        fn java_hash_follows_the_recurrence(s in any::<String>()) {
            let mut h: i64 = 0;
            for unit in s.encode_utf16() {
                h = (h * 31 + i64::from(unit)) as i32 as i64;
            }
            prop_assert_eq!(java_hash(&s), h as i32);
        }

        // Goal: the four-at-a-time ASCII path equals the recurrence at every length and
        // remainder, overflow included. Method: ASCII strings of 0..70 bytes (the usual keys:
        // 32-hex UNIQ_KEYs, topic#key pairs), compared with the UTF-16 fold.
        #[test]
        fn ascii_hash_equals_the_utf16_recurrence(s in "[ -~\u{0}-\u{1f}\u{7f}]{0,70}") {
            let reference = s
                .encode_utf16()
                .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)));
            prop_assert_eq!(java_hash(&s), reference);
        }

        // Goal: hashing a concatenation from its parts equals hashing it whole, for any text
        // (ASCII or not, either side). Method: arbitrary pairs of strings.
        #[test]
        fn hash_continues_over_a_concatenation(a in any::<String>(), b in any::<String>(), ascii in "[ -~]{0,40}") {
            prop_assert_eq!(java_hash_continue(java_hash(&a), &b), java_hash(&format!("{a}{b}")));
            prop_assert_eq!(java_hash_continue(java_hash(&ascii), &a), java_hash(&format!("{ascii}{a}")));
        }

        // Goal: masked CRC is never negative. Method: arbitrary bytes.
        #[test]
        fn masked_crc32_is_never_negative(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            prop_assert!(masked_crc32(&data) >= 0);
        }
    }
}
