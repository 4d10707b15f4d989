use super::*;
use crate::command::{ExtFields, LanguageCode, FLAG_ONEWAY, FLAG_RESPONSE};
use crate::{RequestCode, ResponseCode};
use proptest::prelude::*;

/// The header a Java 5.x client writes for GET_ROUTEINFO_BY_TOPIC (reference 1.2).
const JAVA_ROUTE_HEADER: &str = r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":475}"#;

fn frame_of(type_byte: u8, header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + header.len() + body.len()) as i32).to_be_bytes());
    out.extend_from_slice(&(((type_byte as u32) << 24) | header.len() as u32).to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

fn java_route_request() -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::GetRouteinfoByTopic).with_opaque(3);
    cmd.language = LanguageCode::Java;
    cmd.put_ext_field("topic", "TopicTest");
    cmd
}

#[test]
fn java_client_json_header_decodes() {
    // Goal: FerroMQ reads the exact header a Java client writes. Method: golden frame from the reference.
    let mut buf = BytesMut::from(&frame_of(0, JAVA_ROUTE_HEADER.as_bytes(), b"")[..]);
    let cmd = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap();
    assert!(buf.is_empty());
    assert_eq!(cmd, java_route_request());
    assert_eq!(cmd.request_code_enum(), RequestCode::GetRouteinfoByTopic);
}

#[test]
fn ferromq_json_header_is_identical_to_java_clients() {
    // Goal: our JSON header has the same field set, order and values as the Java client's.
    // Method: encode the equivalent command and compare the header bytes with the reference.
    let bytes = encode_to_bytes(&java_route_request()).unwrap();
    assert_eq!(&bytes[..], &frame_of(0, JAVA_ROUTE_HEADER.as_bytes(), b"")[..]);
}

#[test]
fn go_client_header_with_empty_remark_decodes() {
    // Goal: the Go client's header (language GO, remark "", version 317) is accepted.
    let header =
        r#"{"code":10,"language":"GO","version":317,"opaque":7,"flag":0,"remark":"","extFields":{"a":"g","b":"T"}}"#;
    let mut buf = BytesMut::from(&frame_of(0, header.as_bytes(), b"hello")[..]);
    let cmd = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap();
    assert_eq!(cmd.language, LanguageCode::Go);
    assert_eq!(cmd.version, 317);
    assert_eq!(cmd.remark.as_deref(), Some(""));
    assert_eq!(cmd.ext_field("b"), Some("T"));
    assert_eq!(cmd.body.to_bytes(), Bytes::from_static(b"hello"));
}

#[test]
fn json_header_tolerates_unknown_keys_scalar_values_and_nulls() {
    // Goal: lenient input — unknown keys ignored, non-string ext values kept as text, nulls dropped.
    let header = r#"{"code":34,"whatever":[1,2],"extFields":{"n":12,"b":true,"z":null},"opaque":-1}"#;
    let mut buf = BytesMut::from(&frame_of(0, header.as_bytes(), b"")[..]);
    let cmd = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap();
    assert_eq!(cmd.ext_field("n"), Some("12"));
    assert_eq!(cmd.ext_field("b"), Some("true"));
    assert_eq!(cmd.ext_field("z"), None);
    assert_eq!(cmd.opaque, -1);
}

#[test]
fn rocketmq_binary_header_matches_reference_layout() {
    // Goal: the ROCKETMQ header is byte-exact with reference 1.3. Method: build it by hand.
    let mut header = Vec::new();
    header.extend_from_slice(&310i16.to_be_bytes()); // code
    header.push(12); // language RUST
    header.extend_from_slice(&475i16.to_be_bytes()); // version
    header.extend_from_slice(&9i32.to_be_bytes()); // opaque
    header.extend_from_slice(&FLAG_ONEWAY.to_be_bytes()); // flag
    header.extend_from_slice(&2i32.to_be_bytes()); // remark length
    header.extend_from_slice(b"hi");
    let mut ext = Vec::new();
    for (k, v) in [("a", "group"), ("b", "Topic")] {
        ext.extend_from_slice(&(k.len() as u16).to_be_bytes());
        ext.extend_from_slice(k.as_bytes());
        ext.extend_from_slice(&(v.len() as i32).to_be_bytes());
        ext.extend_from_slice(v.as_bytes());
    }
    header.extend_from_slice(&(ext.len() as i32).to_be_bytes());
    header.extend_from_slice(&ext);
    let golden = frame_of(1, &header, b"body");

    let mut cmd = RemotingCommand::request(RequestCode::SendMessageV2)
        .with_opaque(9)
        .with_body(&b"body"[..]);
    cmd.serialize_type = SerializeType::RocketMq;
    cmd.set_oneway();
    cmd.remark = Some("hi".into());
    cmd.put_ext_field("a", "group");
    cmd.put_ext_field("b", "Topic");
    assert_eq!(&encode_to_bytes(&cmd).unwrap()[..], &golden[..]);

    let mut buf = BytesMut::from(&golden[..]);
    assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap(), cmd);
}

#[test]
fn binary_header_duplicate_keys_keep_the_last_value() {
    // Goal: Java writes fast-encoded fields before the generic map; the last duplicate wins.
    let mut header = vec![0, 10, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut ext = Vec::new();
    for v in ["first", "second"] {
        ext.extend_from_slice(&1u16.to_be_bytes());
        ext.extend_from_slice(b"k");
        ext.extend_from_slice(&(v.len() as i32).to_be_bytes());
        ext.extend_from_slice(v.as_bytes());
    }
    header.extend_from_slice(&(ext.len() as i32).to_be_bytes());
    header.extend_from_slice(&ext);
    let mut buf = BytesMut::from(&frame_of(1, &header, b"")[..]);
    let cmd = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap();
    assert_eq!(cmd.ext_field("k"), Some("second"));
    assert_eq!(cmd.opaque, 1);
}

#[test]
fn json_header_repeated_and_unsorted_ext_keys_keep_the_last_value() {
    // Goal: ext fields built in bulk keep the last value of a repeated key and sort keys
    // written out of order, as one-by-one inserts did. Method: a header with "k" twice among
    // unsorted keys and a null value (dropped).
    let header = br#"{"code":10,"extFields":{"z":"1","k":"first","a":"2","k":"second","n":null},"opaque":7}"#;
    let cmd = decode_json_header(header).unwrap();
    assert_eq!(cmd.ext_field("k"), Some("second"));
    let keys: Vec<&str> = cmd.ext_fields.keys().collect();
    assert_eq!(keys, ["a", "k", "z"]);
    assert_eq!(cmd.opaque, 7);
}

#[test]
fn pop_codes_fall_back_to_json_when_binary_was_asked() {
    // Goal: a code beyond i16 is never truncated. Method: ask for ROCKETMQ, check type byte 0.
    let mut cmd = RemotingCommand::request(RequestCode::PopMessage);
    cmd.serialize_type = SerializeType::RocketMq;
    let bytes = encode_to_bytes(&cmd).unwrap();
    assert_eq!(bytes[4], 0, "JSON type byte");
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap().code, 200_050);
}

#[test]
fn every_proper_prefix_of_a_frame_is_incomplete() {
    // Goal: partial frames are Ok(None), never errors, and consume nothing.
    let bytes = encode_to_bytes(&java_route_request().with_body(&b"0123456789"[..])).unwrap();
    for cut in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES), Ok(None), "cut at {cut}");
        assert_eq!(buf.len(), cut);
    }
}

#[test]
fn two_frames_in_one_buffer_decode_in_order() {
    // Goal: the decoder consumes exactly one frame per call.
    let a = java_route_request();
    let b = RemotingCommand::response_to(&a, ResponseCode::TopicNotExist).with_remark("no route");
    let mut buf = BytesMut::new();
    encode_frame(&a, &mut buf).unwrap();
    encode_frame(&b, &mut buf).unwrap();
    assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap(), a);
    let got = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap();
    assert_eq!(got, b);
    assert!(got.is_response());
    assert_eq!(got.flag, FLAG_RESPONSE);
    assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES), Ok(None));
}

#[test]
fn oversized_length_is_rejected_before_any_allocation() {
    // Goal: a hostile length word never makes the decoder reserve it. Method: check capacity.
    for len in [i32::MAX, MAX_FRAME_BYTES as i32 - 3, 0x7FFF_FF00] {
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        let err = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap_err();
        assert!(matches!(err, CodecError::FrameTooLarge { .. }), "{err:?}");
        assert!(buf.capacity() < 1024);
    }
    // Exactly at the limit is allowed, and a stalled peer pins at most one reserve step.
    let mut buf = BytesMut::from(&(MAX_FRAME_BYTES as i32 - 4).to_be_bytes()[..]);
    assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES), Ok(None));
    assert!(buf.capacity() <= 4 + PARTIAL_FRAME_RESERVE_BYTES);
}

#[test]
fn short_negative_and_inconsistent_lengths_are_errors() {
    // Goal: each malformed frame shape has its own typed error.
    for len in [0i32, 1, 3, -1, i32::MIN] {
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        assert_eq!(
            decode_frame(&mut buf, MAX_FRAME_BYTES),
            Err(CodecError::FrameTooShort { len })
        );
    }
    let mut bad = frame_of(0, b"{}", b"");
    bad[5..8].copy_from_slice(&[0, 0, 99]); // header length 99 > frame
    let err = decode_frame(&mut BytesMut::from(&bad[..]), MAX_FRAME_BYTES).unwrap_err();
    assert_eq!(
        err,
        CodecError::HeaderTooLong {
            header_len: 99,
            frame_len: 6
        }
    );
    let err = decode_frame(&mut BytesMut::from(&frame_of(7, b"{}", b"")[..]), MAX_FRAME_BYTES).unwrap_err();
    assert_eq!(err, CodecError::UnknownSerializeType(7));
    let err = decode_frame(&mut BytesMut::from(&frame_of(0, b"{nope", b"")[..]), MAX_FRAME_BYTES).unwrap_err();
    assert!(matches!(err, CodecError::InvalidJsonHeader(_)));
    let err = decode_frame(&mut BytesMut::from(&frame_of(1, &[0, 1, 0], b"")[..]), MAX_FRAME_BYTES).unwrap_err();
    assert!(matches!(err, CodecError::InvalidBinaryHeader { .. }));
}

#[test]
fn json_strings_with_control_and_unicode_characters_round_trip() {
    // Goal: our hand-written JSON escaping is correct. Method: nasty strings through encode/decode.
    let mut cmd = RemotingCommand::request(RequestCode::SendMessage);
    let nasty = "q\"b\\s/\n\r\t\u{1}\u{2}\u{7f}é漢🎉";
    cmd.put_ext_field(nasty, nasty);
    cmd.remark = Some(nasty.into());
    let mut buf = BytesMut::from(&encode_to_bytes(&cmd).unwrap()[..]);
    assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap(), cmd);
}

#[test]
fn multi_segment_body_encodes_as_its_concatenation() {
    // Goal: a body of several segments is framed exactly like the same bytes in one segment.
    let parts = vec![Bytes::from_static(b"ab"), Bytes::new(), Bytes::from_static(b"cde")];
    let split = RemotingCommand::request(RequestCode::PullMessage).with_body(Body::from_segments(parts));
    let whole = RemotingCommand::request(RequestCode::PullMessage).with_body(&b"abcde"[..]);
    assert_eq!(encode_to_bytes(&split).unwrap(), encode_to_bytes(&whole).unwrap());
    let mut head = BytesMut::new();
    encode_head(&split, &mut head).unwrap();
    assert_eq!(head.len() + 5, encode_to_bytes(&split).unwrap().len());
}

fn arb_ext_fields() -> impl Strategy<Value = ExtFields> {
    // Pairs in random order, keys possibly repeated: built by inserts, the last value wins.
    proptest::collection::vec((".{0,12}", ".{0,24}"), 0..6).prop_map(|pairs| {
        let mut fields = ExtFields::new();
        for (key, value) in pairs {
            fields.insert(key, value);
        }
        fields
    })
}

fn arb_command(binary: bool) -> impl Strategy<Value = RemotingCommand> {
    let code = if binary {
        (i16::MIN as i32..=i16::MAX as i32).boxed()
    } else {
        any::<i32>().boxed()
    };
    let version = if binary {
        (i16::MIN as i32..=i16::MAX as i32).boxed()
    } else {
        any::<i32>().boxed()
    };
    let language = if binary {
        any::<u8>().prop_map(LanguageCode::from_u8).boxed()
    } else {
        (0u8..=13).prop_map(LanguageCode::from_u8).boxed()
    };
    let remark = if binary {
        proptest::option::of(".{1,20}").boxed()
    } else {
        proptest::option::of(".{0,20}").boxed()
    };
    (
        code,
        language,
        version,
        any::<i32>(),
        any::<i32>(),
        remark,
        arb_ext_fields(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            move |(code, language, version, opaque, flag, remark, ext_fields, body)| RemotingCommand {
                code,
                language,
                version,
                opaque,
                flag,
                remark,
                ext_fields,
                serialize_type: if binary {
                    SerializeType::RocketMq
                } else {
                    SerializeType::Json
                },
                body: Body::from(body),
            },
        )
}

proptest! {
    #[test]
    fn json_commands_round_trip(cmd in arb_command(false)) {
        let mut buf = BytesMut::from(&encode_to_bytes(&cmd).unwrap()[..]);
        prop_assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap(), cmd);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn binary_commands_round_trip(cmd in arb_command(true)) {
        let mut buf = BytesMut::from(&encode_to_bytes(&cmd).unwrap()[..]);
        prop_assert_eq!(decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap().unwrap(), cmd);
    }

    // Goal: the one-allocation head encoder writes exactly what `encode_head` writes, in both
    // serializations. Method: proptest commands, compare the two heads byte for byte.
    #[test]
    fn head_bytes_equal_encode_head(cmd in arb_command(false), binary in any::<bool>()) {
        let mut cmd = cmd;
        if binary {
            cmd.serialize_type = SerializeType::RocketMq;
        }
        let mut head = BytesMut::new();
        encode_head(&cmd, &mut head).unwrap();
        prop_assert_eq!(encode_head_bytes(&cmd).unwrap(), head.freeze());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode_frame(&mut buf, 4096);
        prop_assert!(buf.capacity() <= 4096.max(bytes.len()));
        let _ = decode_binary_header(&bytes);
        let _ = decode_json_header(&bytes);
    }

    #[test]
    fn arbitrary_chunking_decodes_the_same_commands(
        cmds in proptest::collection::vec(arb_command(false), 1..4),
        cuts in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let mut all = BytesMut::new();
        for cmd in &cmds { encode_frame(cmd, &mut all).unwrap(); }
        let all = all.freeze();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut cut = cuts.iter().cycle();
        while pos < all.len() {
            let end = (pos + cut.next().copied().unwrap_or(1)).min(all.len());
            buf.extend_from_slice(&all[pos..end]);
            pos = end;
            while let Some(cmd) = decode_frame(&mut buf, MAX_FRAME_BYTES).unwrap() { got.push(cmd); }
        }
        prop_assert_eq!(got, cmds);
    }
}
