use super::*;
use proptest::prelude::*;

// Goal: the encoded form is byte-exact Java. Method: a string written out by hand from the
// reference layout (name, 0x01, value, 0x02 per pair, including the last).
#[test]
fn encode_writes_each_pair_terminated_by_0x02() {
    let props: Properties = [(TAGS, "TagA"), (KEYS, "k1 k2"), (UNIQ_KEY, "7F0000010001")]
        .into_iter()
        .collect();
    let expected = "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}UNIQ_KEY\u{1}7F0000010001\u{2}";
    assert_eq!(encode_properties(&props), expected);
    assert_eq!(
        encode_properties(&props).as_bytes(),
        b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x017F0000010001\x02"
    );
    assert_eq!(props.encoded_len(), expected.len());
    assert_eq!(decode_properties(expected), props);
}

// Goal: an empty map encodes to the empty string and back. Method: direct check.
#[test]
fn empty_properties_encode_to_empty_string() {
    assert_eq!(encode_properties(&Properties::new()), "");
    assert!(decode_properties("").is_empty());
}

// Goal: Java's parser skips invalid segments. Method: each segment kind the Java loop rejects
// (empty, no separator, empty name, empty value, too short) mixed with valid pairs.
#[test]
fn decode_skips_invalid_and_empty_segments() {
    let s = "\u{2}\u{2}noseparator\u{2}\u{1}v\u{2}k\u{1}\u{2}a\u{1}b\u{2}\u{1}\u{2}x\u{2}TAGS\u{1}T";
    let props = decode_properties(s);
    let got: Vec<_> = props.iter().collect();
    assert_eq!(got, vec![("a", "b"), ("TAGS", "T")]);
}

// Goal: the last pair needs no trailing separator (Java splits at end of string too).
// Method: decode without the final 0x02.
#[test]
fn decode_accepts_a_missing_final_separator() {
    let props = decode_properties("a\u{1}1\u{2}b\u{1}2");
    assert_eq!(props.get("b"), Some("2"));
    assert_eq!(props.len(), 2);
}

// Goal: the value runs from the first 0x01 to the 0x02, so it may contain 0x01 (Java uses
// indexOf for the first 0x01 and substring to the segment end). Method: decode such a pair.
#[test]
fn value_may_contain_the_name_value_separator() {
    let props = decode_properties("k\u{1}a\u{1}b\u{2}");
    assert_eq!(props.get("k"), Some("a\u{1}b"));
    assert_eq!(encode_properties(&props), "k\u{1}a\u{1}b\u{2}");
}

// Goal: duplicates behave like Java's map.put (last value wins), and property_value agrees.
// Method: a string naming TAGS twice.
#[test]
fn repeated_name_keeps_the_last_value() {
    let s = "TAGS\u{1}first\u{2}KEYS\u{1}k\u{2}TAGS\u{1}second\u{2}";
    let props = decode_properties(s);
    assert_eq!(props.get(TAGS), Some("second"));
    assert_eq!(props.iter().map(|(k, _)| k).collect::<Vec<_>>(), vec!["TAGS", "KEYS"]);
    assert_eq!(property_value(s, TAGS), Some("second"));
    assert_eq!(property_value(s, KEYS), Some("k"));
    assert_eq!(property_value(s, "MISSING"), None);
}

// Goal: multi-byte UTF-8 around the separators is kept intact. Method: non-ASCII names/values.
#[test]
fn non_ascii_names_and_values_round_trip() {
    let props: Properties = [("标签", "值\u{1F600}"), ("k", "é")].into_iter().collect();
    assert_eq!(decode_properties(&encode_properties(&props)), props);
}

// Goal: map operations keep insertion order and replace in place. Method: insert, replace,
// remove, then inspect order.
#[test]
fn insert_replaces_in_place_and_remove_deletes() {
    let mut props = Properties::new();
    assert_eq!(props.insert("a", "1"), None);
    assert_eq!(props.insert("b", "2"), None);
    assert_eq!(props.insert("a", "3"), Some("1".to_string()));
    assert_eq!(props.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
    assert!(props.contains_key("b"));
    assert_eq!(props.remove("a"), Some("3".to_string()));
    assert_eq!(props.remove("a"), None);
    assert_eq!(props.iter().collect::<Vec<_>>(), vec![("b", "2")]);
}

fn name_strategy() -> impl Strategy<Value = String> {
    "[^\u{1}\u{2}]{1,12}"
}

fn value_strategy() -> impl Strategy<Value = String> {
    "[^\u{2}]{1,24}"
}

proptest! {
    // Goal: decode(encode(p)) == p for every representable map. Method: random names without
    // separators and non-empty values without 0x02.
    #[test]
    fn properties_round_trip(entries in proptest::collection::vec((name_strategy(), value_strategy()), 0..12)) {
        let props: Properties = entries.into_iter().collect();
        let encoded = encode_properties(&props);
        prop_assert_eq!(encoded.len(), props.encoded_len());
        prop_assert_eq!(decode_properties(&encoded), props.clone());
        for (k, v) in props.iter() {
            prop_assert_eq!(property_value(&encoded, k), Some(v));
        }
    }

    // Goal: arbitrary strings never panic and re-encoding a decoded map is a fixed point.
    // Method: strings biased towards the separators.
    #[test]
    fn arbitrary_strings_decode_to_a_stable_map(s in "[a\u{1}\u{2}é]{0,40}") {
        let props = decode_properties(&s);
        let again = decode_properties(&encode_properties(&props));
        prop_assert_eq!(again, props);
    }
}

proptest! {
    // Goal: the byte-scanning `pairs` yields exactly what splitting on the separators yields.
    // Method: random strings over the separators, NUL and other low bytes, ASCII and non-ASCII
    // letters, and runs long enough to fill the scan's eight-byte words.
    #[test]
    fn pairs_equal_split_reference(parts in proptest::collection::vec(
        prop_oneof![Just("\u{1}"), Just("\u{2}"), Just("\u{0}"), Just("a"), Just("bc"), Just("é"), Just(""),
            Just("UNIQ_KEY7F0000010B7C"), Just("\u{3}\u{7f}")], 0..30)) {
        let s: String = parts.concat();
        let reference: Vec<(&str, &str)> = s
            .split(PROPERTY_SEPARATOR)
            .filter_map(|segment| {
                let (k, v) = segment.split_once(NAME_VALUE_SEPARATOR)?;
                (!k.is_empty() && !v.is_empty()).then_some((k, v))
            })
            .collect();
        prop_assert_eq!(pairs(&s).collect::<Vec<_>>(), reference);
        // Goal: `segments` is `str::split` plus each segment's first name/value separator.
        let split: Vec<(&str, Option<usize>)> = s
            .split(PROPERTY_SEPARATOR)
            .map(|segment| (segment, segment.find(NAME_VALUE_SEPARATOR)))
            .collect();
        prop_assert_eq!(segments(&s).collect::<Vec<_>>(), split);
    }
}
