//! Differential tests: whatever the send decoder takes, the general decoder decodes to the same
//! command (`into_command`), and the typed header read in place equals the one read from the
//! general decoder's ext fields, errors included; on generated send headers (every subset and
//! order of the fourteen fields, values valid and not, escapes in properties and elsewhere,
//! unknown and repeated keys, nulls, other codes, whitespace), the same with one byte changed,
//! and hand-picked cases.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::frame::{decode_command, encode_to_bytes};
use crate::header::send_message::{decode_send_request_header_ref, SendMessageRequestHeaderV2};
use crate::received::ReceivedCommand;
use crate::test_json::{escaped, json_frame, with_byte};
use crate::SerializeType;

/// Checks the send decoder on `frame` against the general decoder; true when it took it.
fn assert_decodes_like_general(frame: &Bytes) -> bool {
    let full = decode_command(frame.clone());
    let send = ReceivedSend::decode(frame);
    if let Some(send) = &send {
        let Ok(full) = &full else {
            panic!("send decoder took a frame the general decoder refuses: {frame:?}");
        };
        assert_eq!(&send.clone().into_command(), full, "frame {frame:?}");
        assert_eq!(
            send.header().map(SendMessageRequestHeaderRef::into_owned),
            decode_send_request_header_ref(full).map(SendMessageRequestHeaderRef::into_owned),
            "frame {frame:?}"
        );
        assert!(!full.is_response(), "a response taken as a send request");
        assert_eq!(send.command().body, full.body);
        assert!(send.command().ext_fields.is_empty());
    }
    // A server's connection: the same command either way.
    match (ReceivedCommand::decode(frame.clone(), false), &full) {
        (Ok(received), Ok(full)) => {
            assert_eq!(received.code(), full.code);
            assert_eq!(received.opaque(), full.opaque);
            assert_eq!(received.flag(), full.flag);
            assert_eq!(received.is_response(), full.is_response());
            for (key, value) in &full.ext_fields {
                assert_eq!(received.ext_fields_of([key])[0].as_deref(), Some(value), "key {key:?}");
            }
            assert_eq!(received.ext_fields_of(["absent"])[0], None);
            let request = received.into_request().unwrap();
            assert_eq!(matches!(request, ReceivedRequest::Send(_)), send.is_some());
            assert_eq!(request.head().opaque, full.opaque);
            assert_eq!(&request.into_command(), full);
        }
        (Err(_), Err(_)) => {}
        (received, full) => panic!("verdicts differ: received {received:?}, full {full:?}"),
    }
    send.is_some()
}

/// A value for slot `slot`: mostly what a client sends, sometimes anything.
fn slot_value(slot: usize) -> BoxedStrategy<String> {
    let typical: BoxedStrategy<String> = match slot {
        0 => Just("please_rename_unique_group_name".to_owned()).boxed(),
        1 => "[A-Za-z0-9_%-]{1,20}".boxed(),
        2 => Just("TBW102".to_owned()).boxed(),
        6 => any::<i64>().prop_map(|n| n.to_string()).boxed(),
        3 | 4 | 5 | 7 | 9 | 11 => any::<i32>().prop_map(|n| n.to_string()).boxed(),
        8 => proptest::collection::vec(("[A-Z_]{1,10}", "[ -~]{0,12}"), 0..4)
            .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}\u{1}{v}\u{2}")).collect())
            .boxed(),
        10 | 12 => proptest::sample::select(vec!["true", "false", "TRUE", "x"])
            .prop_map(str::to_owned)
            .boxed(),
        _ => "[a-z-]{0,10}".boxed(),
    };
    prop_oneof![
        8 => typical,
        1 => proptest::sample::select(vec!["", "-", "+1", " 1", "2147483648", "9223372036854775808", "é", "\u{1}"])
            .prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
    .boxed()
}

/// One ext field: a short name with its value (escaped one of several ways), a null, a
/// repeated or unknown key.
fn field() -> impl Strategy<Value = (String, String)> {
    (0..FIELDS, any::<u8>(), 0u8..20).prop_flat_map(|(slot, style, odd)| {
        slot_value(slot).prop_map(move |value| {
            let name = SHORT_NAMES[slot];
            let value = if odd == 0 {
                "null".to_owned()
            } else {
                escaped(&value, style)
            };
            let key = match odd {
                1 => "\"bname\"".to_owned(),
                2 => "\"o\"".to_owned(),
                3 => escaped(name, 0x80 | style),
                _ => format!("\"{name}\""),
            };
            (key, value)
        })
    })
}

/// A send header as fastjson writes it (`code` first, keys sorted, no whitespace), with
/// variations: other codes, the response flag, whitespace, a remark, fields missing or
/// repeated or out of order.
fn send_header() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec![310, 310, 310, 320, 10, 11, 3100]),
        proptest::collection::vec(field(), 0..18),
        any::<bool>(),
        0u8..8,
        any::<i32>(),
        proptest::sample::select(vec![0, 0, 0, 1, 2]),
    )
        .prop_map(|(code, mut fields, all, quirk, opaque, flag)| {
            if all {
                // Every field, valid, in order, ahead of the generated ones.
                let mut full: Vec<(String, String)> = SHORT_NAMES
                    .iter()
                    .enumerate()
                    .map(|(slot, name)| {
                        let value = match slot {
                            8 => "KEYS\u{1}k\u{2}WAIT\u{1}true\u{2}".to_owned(),
                            0..=2 | 13 => "x".to_owned(),
                            10 | 12 => "false".to_owned(),
                            _ => "1".to_owned(),
                        };
                        (format!("\"{name}\""), escaped(&value, 1))
                    })
                    .collect();
                full.truncate(FIELDS - usize::from(quirk % 3));
                full.append(&mut fields);
                fields = full;
            }
            let ext: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let sep = if quirk == 7 { " , " } else { "," };
            let remark = if quirk == 6 { ",\"remark\":\"r\\u0041\"" } else { "" };
            format!(
                "{{\"code\":{code},\"extFields\":{{{}}},\"flag\":{flag},\"language\":\"JAVA\",\"opaque\":{opaque}{remark},\"serializeTypeCurrentRPC\":\"JSON\",\"version\":475}}",
                ext.join(sep)
            )
        })
}

proptest! {
    // Goal: the send decoder agrees with the general decoder on every send-shaped header it
    // takes, and declines nothing the common case sends. Method: generated headers.
    #[test]
    fn send_headers_decode_exactly_as_the_general_decoder(header in send_header(), body in proptest::collection::vec(any::<u8>(), 0..8)) {
        assert_decodes_like_general(&json_frame(header.as_bytes(), &body));
    }

    // Goal: one changed byte never makes the two disagree. Method: mutate one byte.
    #[test]
    fn mutated_send_headers_decode_exactly_as_the_general_decoder(
        header in send_header(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let bytes = with_byte(header, at, byte);
        assert_decodes_like_general(&json_frame(&bytes, b"body"));
    }

    // Goal: a typed V2 header as FerroMQ's encoder writes it (any values) takes the send
    // decoder and reads back as itself. Method: encode with the generic encoder, decode.
    #[test]
    fn encoded_v2_headers_take_the_send_decoder(
        header in any::<crate::header::send_message::SendMessageRequestHeader>(),
        batch in any::<bool>(),
    ) {
        let code = if batch { RequestCode::SendBatchMessage } else { RequestCode::SendMessageV2 };
        let command = RemotingCommand::request(code)
            .with_header(&SendMessageRequestHeaderV2::from(header.clone()))
            .with_body(Bytes::from_static(b"payload"));
        let frame = encode_to_bytes(&command).unwrap().slice(4..);
        let plain = [header.producer_group.as_str(), header.topic.as_str(), header.default_topic.as_str()]
            .iter()
            .chain(header.broker_name.as_deref().iter())
            .all(|s| !s.chars().any(|c| c == '"' || c == '\\' || (c as u32) < 0x20));
        let taken = assert_decodes_like_general(&frame);
        prop_assert_eq!(taken, plain);
        if taken {
            let send = ReceivedSend::decode(&frame).unwrap();
            prop_assert_eq!(send.header().map(SendMessageRequestHeaderRef::into_owned), Ok(header));
        }
    }
}

#[test]
fn hand_picked_cases() {
    let take = |h: &str| assert_decodes_like_general(&json_frame(h.as_bytes(), b"b"));
    let ext = "\"a\":\"g\",\"b\":\"T\",\"c\":\"TBW102\",\"d\":\"4\",\"e\":\"1\",\"f\":\"0\",\"g\":\"17\",\"h\":\"0\",\"i\":\"A\\u0001b\\u0002\"";
    let tail = "\"flag\":0,\"language\":\"JAVA\",\"opaque\":7,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":475}";
    assert!(take(&format!("{{\"code\":310,\"extFields\":{{{ext}}},{tail}")));
    assert!(take(&format!("{{\"code\":320,\"extFields\":{{{ext}}},{tail}")));
    // The long names of SEND_MESSAGE, another code, a response, a key out of the set, a null,
    // a repeat, an escape outside the properties, code not first: all declined.
    assert!(!take(&format!("{{\"code\":10,\"extFields\":{{{ext}}},{tail}")));
    assert!(!take(&format!(
        "{{\"code\":310,\"extFields\":{{{ext}}},{}",
        tail.replace("\"flag\":0", "\"flag\":1")
    )));
    assert!(!take(&format!(
        "{{\"code\":310,\"extFields\":{{{ext},\"o\":\"1\"}},{tail}"
    )));
    assert!(!take(&format!(
        "{{\"code\":310,\"extFields\":{{{ext},\"n\":null}},{tail}"
    )));
    assert!(!take(&format!(
        "{{\"code\":310,\"extFields\":{{{ext},\"a\":\"h\"}},{tail}"
    )));
    assert!(!take(&format!(
        "{{\"code\":310,\"extFields\":{{{},{tail}",
        ext.replace("\"T\"", "\"T\\u0041\"")
    )));
    assert!(!take(&format!(
        "{{\"opaque\":1,\"code\":310,\"extFields\":{{{ext}}},{}",
        tail.replace("\"opaque\":7,", "")
    )));
    // Missing required fields and bad numbers are taken, and fail as the general path fails.
    assert!(take(&format!("{{\"code\":310,\"extFields\":{{\"a\":\"g\"}},{tail}")));
    assert!(take(&format!(
        "{{\"code\":310,\"extFields\":{{{}}},{tail}",
        ext.replace("\"e\":\"1\"", "\"e\":\"x\"")
    )));
    assert!(take(&format!("{{\"code\":310,\"extFields\":{{}},{tail}")));
    // A ROCKETMQ header is never taken.
    let mut command = RemotingCommand::request(RequestCode::SendMessageV2);
    command.serialize_type = SerializeType::RocketMq;
    let frame = encode_to_bytes(&command).unwrap().slice(4..);
    assert!(!assert_decodes_like_general(&frame));
}
