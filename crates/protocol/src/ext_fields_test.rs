use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::prelude::*;

use super::*;

fn pairs(fields: &ExtFields) -> Vec<(String, String)> {
    fields.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn insert_replaces_and_reports_the_replacement() {
    // Goal: keys are unique; a second insert of a key replaces its value. Method: insert,
    // re-insert, check get/len and the returned flag.
    let mut fields = ExtFields::new();
    assert!(!fields.insert("topic", "A"));
    assert!(!fields.insert("queueId", "1"));
    assert!(fields.insert("topic", "B"));
    assert_eq!(fields.len(), 2);
    assert_eq!(fields.get("topic"), Some("B"));
    assert_eq!(fields.get("queueId"), Some("1"));
    assert_eq!(fields.get("missing"), None);
    assert!(fields.contains_key("queueId"));
    assert!(!fields.contains_key("queue"));
}

#[test]
fn iteration_is_in_ascending_key_byte_order() {
    // Goal: iteration order is byte order of keys (what fastjson writes), whatever the insert
    // order, including upper case before lower case and a prefix before its extensions.
    // Method: insert shuffled keys, compare with the sorted list.
    let mut fields = ExtFields::new();
    for key in ["b", "a", "Z", "ab", "", "é", "a\u{0}", "10", "9"] {
        fields.insert(key, key.to_uppercase());
    }
    let keys: Vec<&str> = fields.keys().collect();
    assert_eq!(keys, ["", "10", "9", "Z", "a", "a\u{0}", "ab", "b", "é"]);
    let values: Vec<&str> = fields.values().collect();
    assert_eq!(values, ["", "10", "9", "Z", "A", "A\u{0}", "AB", "B", "É"]);
    assert_eq!(fields.iter().len(), 9);
    assert_eq!(fields.iter().next_back(), Some(("é", "É")));
}

#[test]
fn equality_ignores_insertion_order_and_replaced_text() {
    // Goal: equality is content equality, independent of insert order and of garbage left in
    // the arena by replacements. Method: build the same content three ways, and differ by one
    // value or one key.
    let a: ExtFields = [("x", "1"), ("y", "2"), ("z", "3")].into_iter().collect();
    let mut b = ExtFields::new();
    b.insert("z", "3");
    b.insert("x", "old");
    b.insert("y", "2");
    b.insert("x", "1");
    let mut c = ExtFields::with_capacity(8, 64);
    c.extend([("y", "2"), ("z", "3"), ("x", "1")]);
    assert_eq!(a, b);
    assert_eq!(b, c);
    let mut d = c.clone();
    d.insert("z", "4");
    assert_ne!(c, d);
    let mut e = c.clone();
    e.remove("z");
    e.insert("w", "3");
    assert_ne!(c, e);
    assert_eq!(format!("{a:?}"), r#"{"x": "1", "y": "2", "z": "3"}"#);
}

#[test]
fn remove_drops_the_field_and_clear_empties() {
    // Goal: remove deletes exactly one key and reports whether it was there; removing the last
    // field leaves an empty map that is reusable. Method: remove present/absent keys.
    let mut fields: ExtFields = [("a", "1"), ("b", "2"), ("c", "3")].into_iter().collect();
    assert!(fields.remove("b"));
    assert!(!fields.remove("b"));
    assert_eq!(pairs(&fields), [("a".into(), "1".into()), ("c".into(), "3".into())]);
    assert!(fields.remove("a"));
    assert!(fields.remove("c"));
    assert!(fields.is_empty());
    assert_eq!(fields.text_len(), 0);
    fields.insert("d", "4");
    assert_eq!(fields.get("d"), Some("4"));
    fields.clear();
    assert!(fields.is_empty());
    assert_eq!(fields, ExtFields::default());
}

#[test]
fn from_iter_keeps_the_last_value_of_a_repeated_key() {
    // Goal: bulk construction (the decoders' path) behaves like inserting one by one: the
    // last value of a repeated key wins, output sorted. Method: unsorted input with repeats.
    let fields: ExtFields = [("b", "1"), ("a", "2"), ("b", "3"), ("c", "4"), ("a", "5"), ("b", "6")]
        .into_iter()
        .collect();
    assert_eq!(
        pairs(&fields),
        [
            ("a".into(), "5".into()),
            ("b".into(), "6".into()),
            ("c".into(), "4".into())
        ]
    );
    let owned: ExtFields = vec![(String::from("k"), String::from("v"))].into_iter().collect();
    assert_eq!(owned.get("k"), Some("v"));
}

#[test]
fn builder_rollback_drops_a_field_and_sorted_input_needs_no_sort() {
    // Goal: the decoder protocol (mark, write key, write value, commit or rollback) yields the
    // committed fields only. Method: commit two fields, roll one back, finish.
    let mut builder = ExtFieldsBuilder::with_capacity(4, 32);
    for (key, value, keep) in [("a", "1", true), ("b", "null", false), ("c", "3", true)] {
        let start = builder.mark();
        builder.text().push_str(key);
        let key_end = builder.mark();
        builder.text().push_str(value);
        if keep {
            builder.commit(start, key_end);
        } else {
            builder.rollback(start);
        }
    }
    assert!(builder.sorted);
    let fields = builder.finish();
    assert_eq!(pairs(&fields), [("a".into(), "1".into()), ("c".into(), "3".into())]);
    assert_eq!(fields.text_len(), 4);
}

#[test]
fn insert_with_formats_in_place_and_large_fields_survive_compaction() {
    // Goal: values written through ValueText read back exactly; many large replacements keep
    // the arena bounded (compaction) without changing content. Method: replace one key with
    // 4 KiB values 100 times next to a stable key, check content and arena size.
    let mut fields = ExtFields::new();
    fields.insert_with("n", |text| text.push_integer(-42));
    fields.insert_with("f", |text| {
        let _ = write!(text, "{}", 1.5);
    });
    assert_eq!(fields.get("n"), Some("-42"));
    assert_eq!(fields.get("f"), Some("1.5"));
    let big_key = "k".repeat(70_000);
    fields.insert(&big_key, "big key");
    for round in 0..100 {
        let value = format!("{round}:{}", "v".repeat(4096));
        fields.insert("body", &value);
        assert_eq!(fields.get("body"), Some(value.as_str()));
    }
    assert_eq!(fields.get(&big_key), Some("big key"));
    assert_eq!(fields.get("n"), Some("-42"));
    assert_eq!(fields.len(), 4);
    assert!(
        fields.text.len() <= 2 * fields.text_len() + COMPACT_MIN_GARBAGE,
        "arena {} for {} live bytes",
        fields.text.len(),
        fields.text_len()
    );
}

fn model_of(ops: &[(String, Option<String>)]) -> BTreeMap<String, String> {
    let mut model = BTreeMap::new();
    for (key, value) in ops {
        match value {
            Some(value) => {
                model.insert(key.clone(), value.clone());
            }
            None => {
                model.remove(key);
            }
        }
    }
    model
}

fn op() -> impl Strategy<Value = (String, Option<String>)> {
    // Few distinct keys so that replacements and removals are frequent; values up to 600
    // bytes so that compaction happens.
    (
        "[a-e]{0,2}|[\\PC]{0,6}",
        proptest::option::weighted(0.8, "[\\PC]{0,8}|x{0,600}"),
    )
}

proptest! {
    // Goal: ExtFields is a map with BTreeMap<String, String> semantics: same content, same
    // iteration order, same lookups, equal to a bulk-built copy, after any sequence of inserts
    // and removes. Method: random operation sequences applied to both, then compared.
    #[test]
    fn behaves_like_a_btreemap_model(ops in proptest::collection::vec(op(), 0..60)) {
        let mut fields = ExtFields::new();
        for (key, value) in &ops {
            match value {
                Some(value) => { fields.insert(key, value); }
                None => { fields.remove(key); }
            }
        }
        let model = model_of(&ops);
        let expected: Vec<(String, String)> = model.clone().into_iter().collect();
        prop_assert_eq!(pairs(&fields), expected);
        prop_assert_eq!(fields.len(), model.len());
        for (key, _) in &ops {
            prop_assert_eq!(fields.get(key), model.get(key).map(String::as_str));
        }
        let bulk: ExtFields = model.iter().collect();
        prop_assert_eq!(&bulk, &fields);
        let reversed: ExtFields = model.iter().rev().collect();
        prop_assert_eq!(&reversed, &fields);
        prop_assert!(fields.text.len() <= 2 * fields.text_len() + COMPACT_MIN_GARBAGE);
    }

    // Goal: bulk construction from pairs in any order, keys repeated, equals inserting one by
    // one (last wins). Method: random pair lists through FromIterator and through insert.
    #[test]
    fn bulk_build_equals_sequential_inserts(
        list in proptest::collection::vec(("[a-d]{0,2}", "[\\PC]{0,5}"), 0..40),
    ) {
        let bulk: ExtFields = list.iter().cloned().collect();
        let mut one_by_one = ExtFields::new();
        for (key, value) in &list {
            one_by_one.insert(key, value);
        }
        let model: BTreeMap<String, String> = list.into_iter().collect();
        prop_assert_eq!(&bulk, &one_by_one);
        prop_assert_eq!(pairs(&bulk), model.into_iter().collect::<Vec<_>>());
    }

    // Goal: a hinted lookup answers exactly what `get` answers, whatever the hint and the
    // order of lookups (in key order, hits at the hint; out of order, the search). Method:
    // random maps and random lookup sequences (present and absent keys), one running hint.
    #[test]
    fn hinted_lookups_equal_plain_ones(
        list in proptest::collection::vec(("[a-f]{1,2}", "[a-z]{0,3}"), 0..20),
        lookups in proptest::collection::vec("[a-g]{1,2}", 0..40),
        start in 0usize..25,
    ) {
        let fields: ExtFields = list.iter().cloned().collect();
        let mut hint = start;
        let mut sorted: Vec<String> = fields.keys().map(str::to_owned).collect();
        sorted.extend(lookups);
        for key in &sorted {
            prop_assert_eq!(fields.get_hinted(key, &mut hint), fields.get(key), "key {}", key);
        }
    }
}
