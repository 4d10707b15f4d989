use super::*;
use proptest::prelude::*;

// The serde-based decoder this module used before the scanner, kept as the oracle the
// scanner is compared against.
mod oracle {
    use std::fmt;

    use serde::de::{self, Deserializer, MapAccess, Visitor};
    use serde::Deserialize;

    use crate::command::{Body, ExtFields, LanguageCode, RemotingCommand, SerializeType};
    use crate::error::CodecError;

    #[derive(Deserialize)]
    struct WireHeader {
        #[serde(default)]
        code: i32,
        #[serde(default, deserialize_with = "language")]
        language: LanguageCode,
        #[serde(default)]
        version: i32,
        #[serde(default)]
        opaque: i32,
        #[serde(default)]
        flag: i32,
        #[serde(default)]
        remark: Option<String>,
        #[serde(default, rename = "extFields", deserialize_with = "lenient_ext_fields")]
        ext_fields: ExtFields,
    }

    /// Decodes a JSON header; the body is attached by the caller.
    pub fn decode_json_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
        let wire: WireHeader =
            serde_json::from_slice(header).map_err(|e| CodecError::InvalidJsonHeader(e.to_string()))?;
        Ok(RemotingCommand {
            code: wire.code,
            language: wire.language,
            version: wire.version,
            opaque: wire.opaque,
            flag: wire.flag,
            remark: wire.remark,
            ext_fields: wire.ext_fields,
            serialize_type: SerializeType::Json,
            body: Body::empty(),
        })
    }

    fn language<'de, D: Deserializer<'de>>(d: D) -> Result<LanguageCode, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LanguageCode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LanguageCode, E> {
                Ok(LanguageCode::from_name(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LanguageCode, E> {
                Ok(u8::try_from(v)
                    .map(LanguageCode::from_u8)
                    .unwrap_or(LanguageCode::Other))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LanguageCode, E> {
                Ok(u8::try_from(v)
                    .map(LanguageCode::from_u8)
                    .unwrap_or(LanguageCode::Other))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LanguageCode, E> {
                Ok(LanguageCode::Other)
            }
        }
        d.deserialize_any(V)
    }

    fn lenient_ext_fields<'de, D: Deserializer<'de>>(d: D) -> Result<ExtFields, D::Error> {
        struct ScalarText(Option<String>);
        impl<'de> Deserialize<'de> for ScalarText {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = ScalarText;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a string, number, boolean or null")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                        Ok(ScalarText(Some(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                        Ok(ScalarText(Some(v)))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                        Ok(ScalarText(Some(v.to_string())))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                        Ok(ScalarText(Some(v.to_string())))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                        Ok(ScalarText(Some(v.to_string())))
                    }
                    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                        Ok(ScalarText(Some(v.to_string())))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
                        Ok(ScalarText(None))
                    }
                }
                d.deserialize_any(V)
            }
        }

        struct MapV;
        impl<'de> Visitor<'de> for MapV {
            type Value = ExtFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ExtFields, E> {
                Ok(ExtFields::new())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
                let mut out = ExtFields::new();
                while let Some((key, value)) = map.next_entry::<String, ScalarText>()? {
                    if let Some(value) = value.0 {
                        out.insert(key, value);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(MapV)
    }
}

fn decode_both(bytes: &[u8]) -> (Result<RemotingCommand, CodecError>, Result<RemotingCommand, CodecError>) {
    (decode_json_header(bytes), oracle::decode_json_header(bytes))
}

fn same_outcome(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (new, old) = decode_both(bytes);
    match (new, old) {
        (Ok(new), Ok(old)) => prop_assert_eq!(new, old),
        (Err(_), Err(_)) => {}
        (new, old) => prop_assert!(
            false,
            "scanner {:?} vs serde {:?} on {:?}",
            new,
            old,
            String::from_utf8_lossy(bytes)
        ),
    }
    Ok(())
}

fn arb_scalar() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|v| serde_json::json!(v)),
        any::<u64>().prop_map(|v| serde_json::json!(v)),
        // Exactly representable floats: serde_json's default float parsing is not always
        // correctly rounded (the scanner's, std's, is), so only these compare equal.
        (-1000i32..1000, 1u32..8).prop_map(|(a, b)| serde_json::json!(f64::from(a) + f64::from(b) / 8.0)),
        ".{0,12}".prop_map(serde_json::Value::String),
        "[\\\\\"/\u{0}-\u{1f}\u{7f}-\u{10ffff}]{0,6}".prop_map(serde_json::Value::String),
    ]
}

fn arb_value() -> impl Strategy<Value = serde_json::Value> {
    arb_scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A header object whose fields are sometimes of the wrong type, sometimes missing.
fn arb_header() -> impl Strategy<Value = serde_json::Value> {
    let field = |name: &'static str| (Just(name), proptest::option::of(arb_value()));
    (
        field("code"),
        field("flag"),
        field("language"),
        field("opaque"),
        field("remark"),
        field("version"),
        proptest::option::of(prop_oneof![
            Just(serde_json::Value::Null),
            proptest::collection::btree_map(".{0,8}", arb_scalar(), 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            arb_value(),
        ]),
        proptest::collection::btree_map("[a-z]{1,6}", arb_value(), 0..3),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(|(a, b, c, d, e, f, ext, unknown, code, opaque)| {
            let mut object = serde_json::Map::new();
            for (name, value) in [a, b, c, d, e, f] {
                if let Some(value) = value {
                    object.insert(name.to_owned(), value);
                }
            }
            // Mostly well-typed core fields, so decoding succeeds often enough to compare.
            if code % 3 != 0 {
                object.insert("code".into(), serde_json::json!(code));
                object.insert("opaque".into(), serde_json::json!(opaque));
                object.remove("flag");
                object.remove("version");
                object.remove("language");
                object.remove("remark");
            }
            if let Some(ext) = ext {
                object.insert("extFields".into(), ext);
            }
            for (key, value) in unknown {
                object.entry(key).or_insert(value);
            }
            serde_json::Value::Object(object)
        })
}

proptest! {
    // Goal: the scanner decodes exactly what the serde decoder decoded: same command or both
    // an error. Method: random header objects (wrong types, nulls, nesting, escapes), compact
    // and pretty-printed.
    #[test]
    fn scanner_agrees_with_the_serde_decoder(header in arb_header()) {
        same_outcome(&serde_json::to_vec(&header).unwrap())?;
        same_outcome(&serde_json::to_vec_pretty(&header).unwrap())?;
    }

    // Goal: arbitrary bytes never panic, and are rejected whenever serde rejects them.
    // Method: random bytes, and random cuts of a valid header.
    #[test]
    fn arbitrary_bytes_never_panic_and_agree(bytes in proptest::collection::vec(any::<u8>(), 0..256), cut in 0usize..200) {
        same_outcome(&bytes)?;
        let valid = br#"{"code":310,"extFields":{"a":"pg","b":"T\u00e9\n","e":3,"m":false,"x":null},"flag":0,"language":"JAVA","opaque":7,"remark":null,"serializeTypeCurrentRPC":"JSON","version":475}"#;
        same_outcome(&valid[..cut.min(valid.len())])?;
    }

    // Goal: every command the encoder writes decodes back. Method: encode random ext fields.
    #[test]
    fn encoded_headers_round_trip(
        fields in proptest::collection::btree_map(".{0,10}", ".{0,20}", 0..8),
        remark in proptest::option::of(".{0,20}"),
        code in any::<i32>(),
    ) {
        let mut cmd = RemotingCommand::request_code(code);
        cmd.ext_fields = fields;
        cmd.remark = remark;
        let mut out = Vec::new();
        encode_json_header(&cmd, &mut out);
        prop_assert_eq!(decode_json_header(&out).unwrap(), cmd);
    }
}

// Goal: escapes, surrogate pairs, numbers and nulls in ext fields decode like Java writes
// them; lone surrogates and raw control characters are errors. Method: hand-made headers.
#[test]
fn escapes_numbers_and_nulls_decode_and_bad_strings_are_rejected() {
    let header =
        br#"{"code":10,"extFields":{"k\"1":"a\\b\/c\u0041\ud83d\ude00","n":-12,"f":1.5,"b":true,"z":null},"opaque":1}"#;
    let cmd = decode_json_header(header).unwrap();
    assert_eq!(cmd.ext_field("k\"1"), Some("a\\b/cA\u{1F600}"));
    assert_eq!(cmd.ext_field("n"), Some("-12"));
    assert_eq!(cmd.ext_field("f"), Some("1.5"));
    assert_eq!(cmd.ext_field("b"), Some("true"));
    assert_eq!(cmd.ext_field("z"), None);
    for bad in [
        &br#"{"code":1,"extFields":{"a":"\ud83d"}}"#[..],
        br#"{"code":1,"extFields":{"a":"\ude00"}}"#,
        b"{\"code\":1,\"remark\":\"a\x01b\"}",
        br#"{"code":1.5}"#,
        br#"{"code":1} x"#,
        br#"{"code":1,"extFields":{"a":[1]}}"#,
    ] {
        assert!(decode_json_header(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}
