//! RegisterBrokerBody (reference 3.3): the REGISTER_BROKER body, as JSON (`compressed=false`,
//! the default) or in the compressed form (`compressed=true`).
//!
//! Compressed form: a zlib stream of
//! `i32 len + DataVersion JSON; i32 topicCount; per topic i32 len + TopicConfig.encode() text;
//! i32 len + filterServerList JSON; i32 mappingCount; per mapping i32 len + mapping JSON`
//! (integers big-endian). 4.9.x brokers stop after the filter server list.
//!
//! Invariants: decompression stops at [`MAX_JSON_BODY_BYTES`]; every length is checked
//! against the bytes actually decompressed, so no allocation follows a wire count; the
//! compressed form loses `topicSysFlag`, `order` and the mapping detail fields, as in Java.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;
use super::topic_config::{TopicConfig, TopicConfigSerializeWrapper};
use super::{decode_body, encode_body, BodyError, DataVersion, MAX_JSON_BODY_BYTES};

/// REGISTER_BROKER body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// Filter server addresses (legacy, usually empty).
    #[serde(deserialize_with = "null_default")]
    pub filter_server_list: Vec<String>,
    /// The broker's topic configs.
    #[serde(deserialize_with = "null_default")]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl RegisterBrokerBody {
    /// Encodes as JSON, or in the compressed form when `compressed`.
    pub fn encode(&self, compressed: bool) -> Vec<u8> {
        if !compressed {
            return encode_body(self);
        }
        let wrapper = &self.topic_config_serialize_wrapper;
        let mut raw = Vec::new();
        put_section(&mut raw, &encode_body(&wrapper.data_version));
        put_count(&mut raw, wrapper.topic_config_table.len());
        for config in wrapper.topic_config_table.values() {
            put_section(&mut raw, config.encode().as_bytes());
        }
        put_section(&mut raw, &encode_body(&self.filter_server_list));
        let mappings = wrapper.topic_queue_mapping_info_map.as_ref();
        put_count(&mut raw, mappings.map_or(0, BTreeMap::len));
        for mapping in mappings.into_iter().flat_map(BTreeMap::values) {
            put_section(&mut raw, &encode_body(mapping));
        }

        let mut encoder = ZlibEncoder::new(Vec::with_capacity(raw.len() / 4 + 64), Compression::best());
        let written = encoder.write_all(&raw);
        let finished = encoder.finish();
        // Writing into a Vec cannot fail.
        assert!(written.is_ok() && finished.is_ok(), "zlib into memory failed");
        finished.unwrap_or_default()
    }

    /// Decodes the JSON or the compressed form.
    pub fn decode(bytes: &[u8], compressed: bool) -> Result<Self, BodyError> {
        if !compressed {
            return decode_body(bytes);
        }
        let raw = inflate_capped(bytes, MAX_JSON_BODY_BYTES)?;
        let mut reader = SectionReader { raw: &raw, pos: 0 };

        let data_version: DataVersion = decode_body(reader.section("dataVersion")?)?;
        let topic_count = reader.count("topicCount")?;
        let mut topic_config_table = BTreeMap::new();
        for _ in 0..topic_count {
            let text = reader.section("topicConfig")?;
            let text = std::str::from_utf8(text).map_err(|_| BodyError::InvalidTopicConfigText {
                text: String::from_utf8_lossy(text).chars().take(128).collect(),
            })?;
            let config = TopicConfig::decode(text)?;
            topic_config_table.insert(config.topic_name.clone(), config);
        }
        // Java logs and continues with an empty list when this JSON is bad.
        let filter_server_list = decode_body::<Vec<String>>(reader.section("filterServerList")?).unwrap_or_default();

        let mut mapping_info = BTreeMap::new();
        if !reader.at_end() {
            let mapping_count = reader.count("mappingCount")?;
            for _ in 0..mapping_count {
                let mapping: serde_json::Value = decode_body(reader.section("topicQueueMapping")?)?;
                let topic = mapping
                    .get("topic")
                    .and_then(serde_json::Value::as_str)
                    .ok_or(BodyError::Malformed {
                        what: "topic queue mapping without a topic",
                        at: reader.pos,
                    })?
                    .to_owned();
                mapping_info.insert(topic, mapping);
            }
        }

        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table,
                topic_queue_mapping_info_map: (!mapping_info.is_empty()).then_some(mapping_info),
                ..Default::default()
            },
        })
    }
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    let count = i32::try_from(count);
    assert!(count.is_ok(), "more than i32::MAX entries in a register body");
    out.extend_from_slice(&count.unwrap_or_default().to_be_bytes());
}

fn put_section(out: &mut Vec<u8>, bytes: &[u8]) {
    put_count(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Inflates a zlib stream, refusing to produce more than `max` bytes.
fn inflate_capped(bytes: &[u8], max: usize) -> Result<Vec<u8>, BodyError> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    ZlibDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Inflate { reason: e.to_string() })?;
    if out.len() > max {
        return Err(BodyError::TooLarge { len: out.len(), max });
    }
    Ok(out)
}

struct SectionReader<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> SectionReader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.raw.len()
    }

    fn int(&mut self, what: &'static str) -> Result<i32, BodyError> {
        let end = self.pos.checked_add(4).ok_or(BodyError::Truncated { what, len: 4 })?;
        let bytes = self
            .raw
            .get(self.pos..end)
            .ok_or(BodyError::Truncated { what, len: 4 })?;
        let mut word = [0u8; 4];
        word.copy_from_slice(bytes);
        self.pos = end;
        Ok(i32::from_be_bytes(word))
    }

    fn count(&mut self, what: &'static str) -> Result<usize, BodyError> {
        let value = self.int(what)?;
        usize::try_from(value).map_err(|_| BodyError::Truncated {
            what,
            len: i64::from(value),
        })
    }

    fn section(&mut self, what: &'static str) -> Result<&'a [u8], BodyError> {
        let len = self.count(what)?;
        let truncated = BodyError::Truncated {
            what,
            len: i64::try_from(len).unwrap_or(i64::MAX),
        };
        let end = self.pos.checked_add(len).ok_or_else(|| truncated.clone())?;
        let bytes = self.raw.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::arb::register_broker_body;
    use proptest::prelude::*;

    fn body() -> RegisterBrokerBody {
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 3,
                state_version: Some(0),
                timestamp: 1_700_000_000_000,
            },
            ..Default::default()
        };
        for name in ["TopicA", "TBW102", "%RETRY%cg1"] {
            wrapper
                .topic_config_table
                .insert(name.into(), TopicConfig::new(name, 8, 8, 6));
        }
        RegisterBrokerBody {
            filter_server_list: vec![],
            topic_config_serialize_wrapper: wrapper,
        }
    }

    #[test]
    fn compressed_form_round_trips_and_is_zlib() {
        // Goal: the compressed form decodes to the same body and is a zlib stream (0x78 header,
        // as Java's DeflaterOutputStream writes). Method: encode, check header, decode.
        let encoded = body().encode(true);
        assert_eq!(encoded.first(), Some(&0x78));
        assert_eq!(RegisterBrokerBody::decode(&encoded, true).unwrap(), body());
    }

    #[test]
    fn a_4_9_stream_without_mapping_section_decodes() {
        // Goal: 4.9.x brokers end the stream after the filter server list. Method: build such a
        // stream by hand.
        let mut raw = Vec::new();
        put_section(&mut raw, br#"{"counter":1,"timestamp":5}"#);
        put_count(&mut raw, 1);
        put_section(&mut raw, b"TopicA 4 4 6 SINGLE_TAG");
        put_section(&mut raw, b"[]");
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&raw).unwrap();
        let decoded = RegisterBrokerBody::decode(&encoder.finish().unwrap(), true).unwrap();
        let wrapper = decoded.topic_config_serialize_wrapper;
        assert_eq!(wrapper.data_version.counter, 1);
        assert_eq!(wrapper.topic_config_table["TopicA"].read_queue_nums, 4);
        assert_eq!(wrapper.topic_queue_mapping_info_map, None);
    }

    #[test]
    fn decompression_bomb_is_refused() {
        // Goal: the decompressed size is capped. Method: inflate a highly compressible stream
        // against a small cap.
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(matches!(
            inflate_capped(&bomb, 1000),
            Err(BodyError::TooLarge { max: 1000, .. })
        ));
    }

    #[test]
    fn huge_counts_and_lengths_are_errors_not_allocations() {
        // Goal: wire counts never drive allocation. Method: claim 2^31-1 topics / a negative
        // length with no bytes behind them.
        for tail in [i32::MAX.to_be_bytes(), (-5i32).to_be_bytes()] {
            let mut raw = Vec::new();
            put_section(&mut raw, br#"{"counter":1,"timestamp":5}"#);
            raw.extend_from_slice(&tail);
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(&raw).unwrap();
            assert!(matches!(
                RegisterBrokerBody::decode(&encoder.finish().unwrap(), true),
                Err(BodyError::Truncated { .. })
            ));
        }
        assert!(matches!(
            RegisterBrokerBody::decode(b"not zlib", true),
            Err(BodyError::Inflate { .. })
        ));
    }

    proptest! {
        #[test]
        fn compressed_round_trip_keeps_what_the_form_carries(body in register_broker_body()) {
            // Goal: decode(encode(b, compressed)) == b minus what the compact form drops
            // (topicSysFlag, order, mapping detail/version). Method: arbitrary bodies.
            let mut expected = body.clone();
            let wrapper = &mut expected.topic_config_serialize_wrapper;
            for config in wrapper.topic_config_table.values_mut() {
                config.topic_sys_flag = 0;
                config.order = false;
            }
            wrapper.topic_queue_mapping_detail_map = None;
            wrapper.mapping_data_version = None;
            if wrapper.topic_queue_mapping_info_map.as_ref().is_some_and(BTreeMap::is_empty) {
                wrapper.topic_queue_mapping_info_map = None;
            }
            prop_assert_eq!(RegisterBrokerBody::decode(&body.encode(true), true).unwrap(), expected);
            prop_assert_eq!(RegisterBrokerBody::decode(&body.encode(false), false).unwrap(), body);
        }

        #[test]
        fn arbitrary_compressed_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Goal: garbage is an error, never a panic. Method: random bytes, raw and deflated.
            let _ = RegisterBrokerBody::decode(&bytes, true);
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::fast());
            encoder.write_all(&bytes).unwrap();
            let _ = RegisterBrokerBody::decode(&encoder.finish().unwrap(), true);
        }
    }
}
