use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::message::record_decode::{decode_record, decode_records};
use crate::message::sys_flag;

const BODY: &[u8] = b"Hello RocketMQ";
const TOPIC: &str = "TopicTest";
const PROPS: &str = "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}7F000001\u{2}";

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

fn sample_record() -> MessageRecord {
    let mut r = MessageRecord::new(TOPIC, Bytes::from_static(BODY));
    r.queue_id = 3;
    r.flag = 7;
    r.queue_offset = 42;
    r.phy_offset = 0x0102_0304_0506;
    r.sys_flag = sys_flag::MULTI_TAGS;
    r.born_timestamp = 1_700_000_000_123;
    r.born_host = v4(192, 168, 1, 10, 54321);
    r.store_timestamp = 1_700_000_000_456;
    r.store_host = v4(10, 0, 0, 1, 10911);
    r.reconsume_times = 2;
    r.prepared_transaction_offset = 99;
    r.properties = PROPS.to_string();
    r
}

/// The sample record written field by field from the reference 4.1 table, independently of
/// the encoder.
fn sample_golden_bytes() -> Vec<u8> {
    let total = 91 + BODY.len() + TOPIC.len() + PROPS.len();
    let mut g = Vec::new();
    g.extend_from_slice(&(total as i32).to_be_bytes()); // 0 TOTALSIZE
    g.extend_from_slice(&[0xDA, 0xA3, 0x20, 0xA7]); // 4 MAGICCODE V1
    g.extend_from_slice(&masked_crc32(BODY).to_be_bytes()); // 8 BODYCRC
    g.extend_from_slice(&3i32.to_be_bytes()); // 12 QUEUEID
    g.extend_from_slice(&7i32.to_be_bytes()); // 16 FLAG
    g.extend_from_slice(&42i64.to_be_bytes()); // 20 QUEUEOFFSET
    g.extend_from_slice(&[0, 0, 1, 2, 3, 4, 5, 6]); // 28 PHYSICALOFFSET
    g.extend_from_slice(&[0, 0, 0, 2]); // 36 SYSFLAG (MULTI_TAGS)
    g.extend_from_slice(&1_700_000_000_123i64.to_be_bytes()); // 40 BORNTIMESTAMP
    g.extend_from_slice(&[192, 168, 1, 10, 0, 0, 0xD4, 0x31]); // 48 BORNHOST 54321
    g.extend_from_slice(&1_700_000_000_456i64.to_be_bytes()); // 56 STORETIMESTAMP
    g.extend_from_slice(&[10, 0, 0, 1, 0, 0, 0x2A, 0x9F]); // 64 STOREHOST 10911
    g.extend_from_slice(&2i32.to_be_bytes()); // 72 RECONSUMETIMES
    g.extend_from_slice(&99i64.to_be_bytes()); // 76 PREPARED_TRANSACTION_OFFSET
    g.extend_from_slice(&(BODY.len() as i32).to_be_bytes()); // 84 BODYLEN
    g.extend_from_slice(BODY); // 88 BODY
    g.push(TOPIC.len() as u8); // TOPICLEN (1 byte, V1)
    g.extend_from_slice(TOPIC.as_bytes());
    g.extend_from_slice(&(PROPS.len() as i16).to_be_bytes()); // PROPLEN
    g.extend_from_slice(PROPS.as_bytes());
    assert_eq!(g.len(), total);
    g
}

fn encode(r: &MessageRecord) -> Bytes {
    let mut buf = BytesMut::new();
    let n = encode_record(r, DEFAULT_MAX_MESSAGE_BYTES, &mut buf).expect("encodable");
    assert_eq!(n, buf.len());
    buf.freeze()
}

// Goal: the encoder is byte-exact with the reference layout. Method: compare with the record
// built by hand from the 4.1 table.
#[test]
fn encode_matches_the_hand_built_v1_record() {
    assert_eq!(encode(&sample_record()).as_ref(), sample_golden_bytes().as_slice());
}

// Goal: the decoder reads every field of the hand-built record. Method: decode the golden bytes
// with CRC checking and compare field by field (via equality with the sample).
#[test]
fn decode_reads_back_the_hand_built_record() {
    let golden = Bytes::from(sample_golden_bytes());
    let r = decode_record(&golden, true).expect("valid record");
    assert_eq!(r, sample_record());
    assert_eq!(r.total_size(), golden.len());
    assert_eq!(r.properties().get("TAGS"), Some("TagA"));
}

// Goal: the body is a zero-copy slice of the input. Method: compare pointers.
#[test]
fn decoded_body_shares_the_input_buffer() {
    let golden = Bytes::from(sample_golden_bytes());
    let r = decode_record(&golden, false).expect("valid record");
    assert_eq!(r.body.as_ptr(), golden[88..].as_ptr());
}

// Goal: IPv6 hosts use 16-byte addresses, set sysFlag 0x10/0x20 and shift later fields.
// Method: hand-check the flag and the positions of STORETIMESTAMP and BODYLEN, then round trip.
#[test]
fn ipv6_hosts_set_the_flags_and_shift_the_layout() {
    let mut r = sample_record();
    r.born_host = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1);
    let bytes = encode(&r);
    let flag = sys_flag::MULTI_TAGS | sys_flag::BORNHOST_V6;
    assert_eq!(&bytes[36..40], &flag.to_be_bytes());
    assert_eq!(&bytes[48..64], &Ipv6Addr::LOCALHOST.octets());
    assert_eq!(&bytes[64..68], &1i32.to_be_bytes());
    assert_eq!(store_timestamp_pos(flag), 68);
    assert_eq!(&bytes[68..76], &r.store_timestamp.to_be_bytes());
    assert_eq!(bytes.len(), 91 + 12 + BODY.len() + TOPIC.len() + PROPS.len());

    r.store_host = SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), 10911);
    let bytes = encode(&r);
    let flag = flag | sys_flag::STOREHOST_V6;
    assert_eq!(body_len_pos(flag), 84 + 24);
    assert_eq!(bytes.len(), 91 + 24 + BODY.len() + TOPIC.len() + PROPS.len());
    let decoded = decode_record(&bytes, true).expect("valid record");
    assert_eq!(decoded.sys_flag, flag);
    assert_eq!(decoded.born_host, r.born_host);
    assert_eq!(decoded.store_host, r.store_host);
}

// Goal: stale host bits in sysFlag are corrected from the addresses. Method: set both bits on a
// record with IPv4 hosts and check the encoded flag.
#[test]
fn encoder_derives_host_bits_from_the_addresses() {
    let mut r = sample_record();
    r.sys_flag |= sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6;
    let bytes = encode(&r);
    assert_eq!(&bytes[36..40], &sys_flag::MULTI_TAGS.to_be_bytes());
}

// Goal: V1 up to 127 topic bytes, V2 (2-byte length) above. Method: encode both boundary sizes
// and inspect magic and the topic length field.
#[test]
fn topic_longer_than_127_bytes_switches_to_v2() {
    let mut r = MessageRecord::new("t".repeat(127), Bytes::new());
    let bytes = encode(&r);
    assert_eq!(&bytes[4..8], &MAGIC_V1.to_be_bytes());
    assert_eq!(bytes[88], 127);
    assert_eq!(bytes.len(), 91 + 127);

    r.topic = "t".repeat(128);
    let bytes = encode(&r);
    assert_eq!(&bytes[4..8], &[0xDA, 0xA3, 0x20, 0xAB]);
    assert_eq!(&bytes[88..90], &[0, 128]);
    assert_eq!(bytes.len(), 92 + 128);
    let decoded = decode_record(&bytes, true).expect("valid record");
    assert_eq!(decoded.version, MessageVersion::V2);
    assert_eq!(decoded.topic, r.topic);
}

// Goal: a V2 record with a short topic re-encodes byte-identically. Method: encode with
// version V2 requested, decode, re-encode, compare.
#[test]
fn reencoding_a_decoded_record_is_byte_identical() {
    let mut r = sample_record();
    r.version = MessageVersion::V2;
    let bytes = encode(&r);
    assert_eq!(&bytes[4..8], &MAGIC_V2.to_be_bytes());
    let decoded = decode_record(&bytes, true).expect("valid record");
    assert_eq!(encode(&decoded), bytes);
    let golden = Bytes::from(sample_golden_bytes());
    assert_eq!(encode(&decode_record(&golden, true).expect("valid")), golden);
}

// Goal: every limit is enforced with a typed error and nothing is written. Method: exceed each.
#[test]
fn encoder_rejects_oversized_fields() {
    let mut buf = BytesMut::new();
    let r = MessageRecord::new("t", Bytes::from(vec![0u8; 11]));
    assert_eq!(
        encode_record(&r, 10, &mut buf),
        Err(MessageError::BodyTooLarge { len: 11, max: 10 })
    );
    let r = MessageRecord::new("t".repeat(32768), Bytes::new());
    assert_eq!(
        encode_record(&r, 10, &mut buf),
        Err(MessageError::TopicTooLong { len: 32768, max: 32767 })
    );
    let mut r = MessageRecord::new("t", Bytes::new());
    r.properties = "p".repeat(32768);
    assert_eq!(
        encode_record(&r, 10, &mut buf),
        Err(MessageError::PropertiesTooLong { len: 32768, max: 32767 })
    );
    r.properties = "p".repeat(32767);
    assert!(encode_record(&r, 10, &mut buf).is_ok());
    assert_eq!(buf.len(), 91 + 1 + 32767);
}

// Goal: the smallest record is MIN_RECORD_BYTES, and a fixed-size destination that is too small
// is an error, not a panic. Method: encode an empty record into a Vec and into short slices.
#[test]
fn encoding_into_a_short_slice_is_an_error() {
    let r = MessageRecord::new("", Bytes::new());
    assert_eq!(encode(&r).len(), MIN_RECORD_BYTES);
    let mut room = [0u8; MIN_RECORD_BYTES];
    let mut short = &mut room[..90];
    assert_eq!(
        encode_record(&r, 0, &mut short),
        Err(MessageError::Truncated {
            what: "output buffer",
            needed: 91,
            available: 90
        })
    );
    let mut exact = &mut room[..];
    assert_eq!(encode_record(&r, 0, &mut exact), Ok(91));
    assert_eq!(decode_record(&Bytes::copy_from_slice(&room), true), Ok(r));
}

// Goal: the encoder always writes the CRC of the body, whatever body_crc says. Method: a stale
// body_crc, then check the bytes at 8..12.
#[test]
fn encoder_computes_the_body_crc() {
    let mut r = sample_record();
    r.body_crc = 12345;
    let bytes = encode(&r);
    assert_eq!(&bytes[8..12], &masked_crc32(BODY).to_be_bytes());
}

// Goal: a record built without its CRC (`to_encode`, the broker's put) encodes to the same
// bytes as one built with it, and decodes (CRC checked) to the latter. Method: both
// constructors, same fields.
#[test]
fn a_record_built_without_its_crc_encodes_the_same() {
    let lazy = MessageRecord::to_encode("T", Bytes::from_static(BODY));
    let eager = MessageRecord::new("T", Bytes::from_static(BODY));
    assert_eq!(lazy.body_crc, 0);
    assert_eq!(eager.body_crc, masked_crc32(BODY));
    assert_eq!(encode(&lazy), encode(&eager));
    assert_eq!(decode_record(&encode(&lazy), true), Ok(eager));
}

// Goal: patching rewrites exactly the three store fields and keeps the record valid.
// Method: encode with zeros, patch, compare byte-wise and decode with CRC checking.
#[test]
fn patch_rewrites_only_offsets_and_store_timestamp() {
    for born_host in [v4(1, 2, 3, 4, 5), SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 5)] {
        let mut r = sample_record();
        r.born_host = born_host;
        r.queue_offset = 0;
        r.phy_offset = 0;
        r.store_timestamp = 0;
        let before = encode(&r);
        let mut buf = before.to_vec();
        patch_record(&mut buf, 77, 1 << 40, 1_700_000_999_000).expect("patchable");
        let ts_pos = store_timestamp_pos(r.encoded_sys_flag());
        for (i, (a, b)) in before.iter().zip(&buf).enumerate() {
            let patched = (20..36).contains(&i) || (ts_pos..ts_pos + 8).contains(&i);
            if !patched {
                assert_eq!(a, b, "byte {i} changed");
            }
        }
        let decoded = decode_record(&Bytes::from(buf), true).expect("valid after patch");
        assert_eq!(decoded.queue_offset, 77);
        assert_eq!(decoded.phy_offset, 1 << 40);
        assert_eq!(decoded.store_timestamp, 1_700_000_999_000);
        assert_eq!(decoded.born_host, born_host);
    }
}

// Goal: patch refuses what is not a whole message record. Method: BLANK, zeros, short slices,
// and a TOTALSIZE larger than the slice.
#[test]
fn patch_rejects_blank_zero_and_short_input() {
    let mut blank = encode_blank(100).to_vec();
    blank.resize(100, 0);
    assert_eq!(
        patch_record(&mut blank, 1, 1, 1),
        Err(MessageError::BlankRecord { total_size: 100 })
    );
    assert_eq!(
        patch_record(&mut [0u8; 100], 1, 1, 1),
        Err(MessageError::BadMagic { magic: 0 })
    );
    assert!(matches!(
        patch_record(&mut [0u8; 4], 1, 1, 1),
        Err(MessageError::Truncated { .. })
    ));
    let full = encode(&sample_record());
    let mut short = full[..60].to_vec();
    assert!(matches!(
        patch_record(&mut short, 1, 1, 1),
        Err(MessageError::InvalidTotalSize { .. })
    ));
}

// Goal: peek classifies message, BLANK, zeros and garbage. Method: one header of each kind.
#[test]
fn peek_classifies_headers() {
    let rec = encode(&sample_record());
    let h = peek_record_header(&rec).expect("8 bytes");
    assert_eq!(h.total_size as usize, rec.len());
    assert_eq!(h.kind(), RecordKind::Message(MessageVersion::V1));
    let blank = encode_blank(4096);
    assert_eq!(blank, [0, 0, 0x10, 0, 0xCB, 0xD4, 0x31, 0x94]);
    assert_eq!(peek_record_header(&blank).map(|h| h.kind()), Ok(RecordKind::Blank));
    assert_eq!(peek_record_header(&[0; 8]).map(|h| h.kind()), Ok(RecordKind::EndOfData));
    assert_eq!(
        peek_record_header(&[0, 0, 0, 9, 0, 0, 0, 0]).map(|h| h.kind()),
        Ok(RecordKind::Garbage)
    );
    assert_eq!(
        peek_record_header(&[1, 2, 3, 4, 5, 6, 7, 8]).map(|h| h.kind()),
        Ok(RecordKind::Garbage)
    );
    assert!(peek_record_header(&[0; 7]).is_err());
}

// Goal: a flipped body byte is detected when asked, and only then. Method: corrupt the body.
#[test]
fn corrupted_body_fails_the_crc_check() {
    let mut bytes = sample_golden_bytes();
    bytes[88] ^= 0x01;
    let bytes = Bytes::from(bytes);
    let mut corrupted = BODY.to_vec();
    corrupted[0] ^= 0x01;
    assert_eq!(
        decode_record(&bytes, true),
        Err(MessageError::CrcMismatch {
            stored: masked_crc32(BODY),
            computed: masked_crc32(&corrupted),
        })
    );
    assert!(decode_record(&bytes, false).is_ok());
}

// Goal: every strict prefix of a record is an error, never a panic or a bogus record.
// Method: decode all prefixes of the golden record.
#[test]
fn every_truncation_is_an_error() {
    let golden = sample_golden_bytes();
    for len in 0..golden.len() {
        let prefix = Bytes::copy_from_slice(&golden[..len]);
        assert!(decode_record(&prefix, false).is_err(), "prefix of {len} bytes decoded");
    }
}

fn with_i32_at(mut bytes: Vec<u8>, pos: usize, value: i32) -> Bytes {
    bytes[pos..pos + 4].copy_from_slice(&value.to_be_bytes());
    Bytes::from(bytes)
}

// Goal: each malformed field gets its typed error. Method: overwrite one field at a time.
#[test]
fn malformed_fields_give_typed_errors() {
    let golden = sample_golden_bytes();
    let total = golden.len() as i32;
    assert_eq!(
        decode_record(&with_i32_at(golden.clone(), 4, 0x1234), false),
        Err(MessageError::BadMagic { magic: 0x1234 })
    );
    assert_eq!(
        decode_record(&with_i32_at(golden.clone(), 4, BLANK_MAGIC), false),
        Err(MessageError::BlankRecord { total_size: total })
    );
    assert_eq!(
        decode_record(&with_i32_at(golden.clone(), 0, -5), false),
        Err(MessageError::InvalidTotalSize {
            total_size: -5,
            available: golden.len()
        })
    );
    assert_eq!(
        decode_record(&with_i32_at(golden.clone(), 0, total + 1), false),
        Err(MessageError::InvalidTotalSize {
            total_size: total + 1,
            available: golden.len()
        })
    );
    let mut padded = golden.clone();
    padded.push(0);
    assert_eq!(
        decode_record(&with_i32_at(padded, 0, total + 1), false),
        Err(MessageError::SizeMismatch {
            total_size: total + 1,
            content_len: golden.len()
        })
    );
    assert_eq!(
        decode_record(&with_i32_at(golden.clone(), 84, -1), false),
        Err(MessageError::NegativeLength { what: "body", len: -1 })
    );
    assert_eq!(
        decode_record(&with_i32_at(golden.clone(), 52, 70000), false),
        Err(MessageError::InvalidPort {
            what: "born host",
            port: 70000
        })
    );
    let mut neg_topic = golden.clone();
    neg_topic[88 + BODY.len()] = 0x80;
    assert_eq!(
        decode_record(&Bytes::from(neg_topic), false),
        Err(MessageError::NegativeLength {
            what: "topic",
            len: -128
        })
    );
    let mut bad_utf8 = golden.clone();
    bad_utf8[88 + BODY.len() + 1] = 0xFF;
    assert_eq!(
        decode_record(&Bytes::from(bad_utf8), false),
        Err(MessageError::InvalidUtf8 { what: "topic" })
    );
}

// Goal: a PULL body of several records decodes in order and a bad tail stops the iteration
// after one error. Method: three records, then the same plus garbage.
#[test]
fn decode_records_reads_back_to_back_records_and_stops_at_garbage() {
    let mut buf = BytesMut::new();
    let mut expected = Vec::new();
    for i in 0..3 {
        let mut r = sample_record();
        r.queue_offset = i;
        r.topic = format!("T{i}");
        encode_record(&r, DEFAULT_MAX_MESSAGE_BYTES, &mut buf).expect("encodable");
        expected.push(r);
    }
    let body = buf.clone().freeze();
    let decoded: Result<Vec<_>, _> = decode_records(&body, true).collect();
    assert_eq!(decoded, Ok(expected.clone()));
    assert_eq!(decode_records(&Bytes::new(), true).count(), 0);

    buf.extend_from_slice(&[0xFF; 12]);
    let items: Vec<_> = decode_records(&buf.freeze(), true).collect();
    assert_eq!(items.len(), 4);
    assert!(items[..3].iter().all(|i| i.is_ok()));
    assert!(items[3].is_err());
}

fn host_strategy() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(IpAddr::from(ip), port)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(IpAddr::from(ip), port)),
    ]
}

prop_compose! {
    fn record_strategy()(
        v2 in any::<bool>(),
        ints in any::<(i32, i32, i32, i32)>(),
        longs in any::<(i64, i64, i64, i64, i64)>(),
        born_host in host_strategy(),
        store_host in host_strategy(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        topic in "[%|a-zA-Z0-9_é-]{0,140}",
        properties in "[a-zA-Z0-9\u{1}\u{2}中]{0,100}",
    ) -> MessageRecord {
        let mut r = MessageRecord::new(topic, Bytes::from(body));
        r.version = if v2 { MessageVersion::V2 } else { MessageVersion::V1 };
        (r.queue_id, r.flag, r.sys_flag, r.reconsume_times) = ints;
        (r.queue_offset, r.phy_offset, r.born_timestamp, r.store_timestamp, r.prepared_transaction_offset) = longs;
        r.born_host = born_host;
        r.store_host = store_host;
        r.properties = properties;
        r.sys_flag = r.encoded_sys_flag();
        r.version = r.encoded_version();
        r
    }
}

proptest! {
    // Goal: decode(encode(r)) == r and re-encoding is byte-identical. Method: random records
    // over both versions and address families.
    #[test]
    fn record_round_trips(r in record_strategy()) {
        let bytes = encode(&r);
        prop_assert_eq!(bytes.len(), r.total_size());
        let decoded = decode_record(&bytes, true).expect("decodable");
        prop_assert_eq!(&decoded, &r);
        prop_assert_eq!(encode(&decoded), bytes);
    }

    // Goal: patched records stay valid and carry the new values. Method: random record, random
    // patch values.
    #[test]
    fn patched_records_decode_with_the_new_values(r in record_strategy(), q in any::<i64>(), p in any::<i64>(), t in any::<i64>()) {
        let mut buf = encode(&r).to_vec();
        patch_record(&mut buf, q, p, t).expect("patchable");
        let decoded = decode_record(&Bytes::from(buf), true).expect("decodable");
        prop_assert_eq!((decoded.queue_offset, decoded.phy_offset, decoded.store_timestamp), (q, p, t));
    }

    // Goal: arbitrary bytes never panic any decoder. Method: random buffers, some starting with
    // a valid magic to get past the first check.
    #[test]
    fn arbitrary_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..300), magic in any::<bool>()) {
        if magic && data.len() >= 8 {
            data[4..8].copy_from_slice(&MAGIC_V1.to_be_bytes());
            let len = data.len() as i32;
            data[0..4].copy_from_slice(&len.to_be_bytes());
        }
        let bytes = Bytes::from(data.clone());
        let _ = decode_record(&bytes, true);
        let _ = decode_records(&bytes, true).count();
        let _ = peek_record_header(&data);
        let _ = patch_record(&mut data, 1, 2, 3);
    }

    // Goal: a single flipped byte of a valid record never panics and, if it still decodes, is
    // reported consistently. Method: mutate one byte of a random record.
    #[test]
    fn mutated_records_never_panic(r in record_strategy(), pos in any::<prop::sample::Index>(), x in 1u8..) {
        let mut data = encode(&r).to_vec();
        let i = pos.index(data.len());
        data[i] ^= x;
        let _ = decode_record(&Bytes::from(data), true);
    }
}
