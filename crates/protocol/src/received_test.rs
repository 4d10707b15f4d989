//! Differential tests: a scanned response reads exactly like the fully decoded command
//! (`decode_command`, i.e. `decode_json_header`), on generated response headers (any key
//! order, whitespace, escapes and unicode in keys and values, nulls, repeated keys, every
//! integer), on the same headers with one byte changed, and on hand-picked cases; and only
//! JSON responses are scanned.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::frame::encode_to_bytes;
use crate::test_json::{escaped, json_frame, with_byte};
use crate::ResponseCode;

/// The keys a producer reads from a SEND response, plus one nobody sends.
const SEND_KEYS: [&str; 8] = [
    "MSG_REGION",
    "TRACE_ON",
    "batchUniqId",
    "msgId",
    "queueId",
    "queueOffset",
    "transactionId",
    "absent",
];

/// Checks a scanned read of `frame` against the full decode; returns whether it was scanned.
fn assert_reads_like_decoded(frame: Bytes) -> bool {
    let full = decode_command(frame.clone());
    let received = ReceivedCommand::decode(frame, true);
    let (full, received) = match (full, received) {
        (Ok(full), Ok(received)) => (full, received),
        (Err(_), Err(_)) => return false,
        (full, received) => panic!("verdicts differ: full {full:?}, received {received:?}"),
    };
    let scanned = received.is_scanned();
    assert!(!scanned || full.is_response(), "only responses are scanned");
    assert_eq!(received.code(), full.code);
    assert_eq!(received.opaque(), full.opaque);
    assert_eq!(received.flag(), full.flag);
    assert_eq!(received.version(), full.version);
    assert_eq!(received.language(), full.language);
    assert_eq!(received.is_response(), full.is_response());
    assert_eq!(received.remark().as_deref(), full.remark.as_deref());
    let read = received.ext_fields_of(SEND_KEYS);
    for (key, value) in SEND_KEYS.iter().zip(&read) {
        assert_eq!(value.as_deref(), full.ext_field(key), "key {key}");
    }
    for (key, value) in &full.ext_fields {
        assert_eq!(received.ext_fields_of([key])[0].as_deref(), Some(value), "key {key:?}");
    }
    if let Some(raw) = received.raw_ext_fields() {
        // Replaying the wire pairs with the decoder's rules (last non-null value wins) gives
        // the decoded map.
        let mut replayed = crate::ExtFields::new();
        for (key, value) in raw {
            if let Some(value) = value {
                replayed.insert(key.decode(), value.decode());
            }
        }
        assert_eq!(replayed, full.ext_fields);
    }
    assert_eq!(received.into_command().unwrap(), full);
    scanned
}

/// What a broker answers, and variations: the header's keys in any order (some dropped),
/// random whitespace, ext fields named like a SEND response's or anything, string values
/// with escapes and unicode, nulls, repeated keys; flag usually odd (a response).
fn response_header() -> impl Strategy<Value = String> {
    let ws = || prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\n\t\r ")];
    let key = prop_oneof![
        3 => proptest::sample::select(&SEND_KEYS[..7]).prop_map(str::to_owned),
        1 => "[\\PC]{0,4}",
    ];
    let ext = proptest::collection::vec(
        (
            key,
            proptest::option::weighted(0.85, "[\\PC\\u{1}\\u{2}\n/\"\\\\]{0,24}|-?[0-9]{1,20}"),
            any::<u8>(),
            ws(),
        ),
        0..12,
    )
    .prop_map(|kv| {
        let body: Vec<String> = kv
            .iter()
            .map(|(k, v, style, w)| {
                let value = v.as_ref().map_or("null".to_owned(), |v| escaped(v, *style));
                format!("{w}{}{w}:{w}{value}{w}", escaped(k, style.wrapping_add(7)))
            })
            .collect();
        format!("{{{}}}", body.join(","))
    });
    let members = (
        any::<i32>(),
        any::<i32>(),
        prop_oneof![4 => (0i32..4).prop_map(|f| f | 1), 1 => any::<i32>()],
        any::<i32>(),
        prop_oneof![Just("JAVA"), Just("RUST"), Just("NOPE")],
        proptest::option::of("[\\PC\\u{1}\"\\\\]{0,12}"),
        ext,
        any::<u8>(),
    );
    (members, any::<u64>(), ws()).prop_map(
        |((code, opaque, flag, version, language, remark, ext, style), seed, w)| {
            let remark = match remark {
                Some(remark) => format!("\"remark\":{}", escaped(&remark, style)),
                None => "\"remark\":null".to_owned(),
            };
            // The encoder's order (so that some take the compact scan), mostly every member,
            // sometimes a subset or another starting key.
            let parts = [
                format!("\"code\":{w}{code}"),
                format!("\"extFields\":{w}{ext}"),
                format!("\"flag\"{w}:{flag}"),
                format!("\"language\":\"{language}\""),
                format!("\"opaque\":{opaque}"),
                remark,
                "\"serializeTypeCurrentRPC\":\"JSON\"".to_owned(),
                format!("\"version\":{version}"),
            ];
            let keep = if seed % 4 == 0 { (seed >> 16) as usize | 4 } else { 0xff };
            let mut kept: Vec<String> = parts
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep & (1 << i) != 0)
                .map(|(_, p)| p)
                .collect();
            if (seed >> 32) % 2 == 1 {
                let len = kept.len().max(1);
                kept.rotate_left((seed >> 8) as usize % len);
            }
            format!("{w}{{{w}{}{w}}}{w}", kept.join(&format!("{w},{w}")))
        },
    )
}

proptest! {
    // Goal: every response in the shape brokers send is scanned and reads exactly like its
    // full decode. Method: generated response headers (see `response_header`).
    #[test]
    fn scanned_responses_read_like_decoded_ones(
        header in response_header(),
        body in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let flag_odd = assert_reads_like_decoded(json_frame(header.as_bytes(), &body));
        let full = decode_command(json_frame(header.as_bytes(), &body)).unwrap();
        prop_assert_eq!(flag_odd, full.is_response());
    }

    // Goal: one changed byte never makes the scan report something the decoder would not
    // (nor accept what it refuses). Method: mutate one byte of a generated header.
    #[test]
    fn mutated_responses_read_like_decoded_ones(
        header in response_header(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let bytes = with_byte(header, at, byte);
        assert_reads_like_decoded(json_frame(&bytes, b"body"));
    }

    // Goal: arbitrary bytes behind a JSON tag never panic and never disagree with the
    // decoder. Method: random bytes, and random bytes in braces.
    #[test]
    fn arbitrary_headers_read_like_decoded_ones(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        assert_reads_like_decoded(json_frame(&bytes, b""));
        let mut braced = b"{\"flag\":1,".to_vec();
        braced.extend_from_slice(&bytes);
        braced.push(b'}');
        assert_reads_like_decoded(json_frame(&braced, b""));
    }

    // Goal: what the encoder writes for any response (ext fields with any text, any remark,
    // either serialization) reads back through `ReceivedCommand` unchanged. Method: encode a
    // command, split off the length word, read it.
    #[test]
    fn encoded_responses_read_back_unchanged(
        list in proptest::collection::vec(("[\\PC]{0,6}", "[\\PC\\u{0}-\\u{1f}]{0,12}"), 0..10),
        code in any::<i32>(),
        opaque in any::<i32>(),
        remark in proptest::option::of("[\\PC\\u{0}-\\u{1f}]{0,8}"),
        rocketmq in any::<bool>(),
    ) {
        let request = RemotingCommand::request_code(10).with_opaque(opaque);
        let mut response = RemotingCommand::response_to(&request, ResponseCode::Success);
        response.code = code;
        response.remark = remark;
        for (key, value) in &list {
            response.put_ext_field(key, value);
        }
        if rocketmq {
            response.serialize_type = SerializeType::RocketMq;
        }
        let frame = encode_to_bytes(&response.clone().with_body(b"xyz".to_vec())).unwrap().slice(4..);
        let received = ReceivedCommand::decode(frame.clone(), true).unwrap();
        // ROCKETMQ falls back to JSON when the code does not fit its i16 field.
        let json = crate::frame::effective_serialize_type(&response) == SerializeType::Json;
        prop_assert_eq!(received.is_scanned(), json);
        assert_reads_like_decoded(frame);
        let back = received.into_command().unwrap();
        prop_assert_eq!(back.remark, response.remark);
        prop_assert_eq!(back.ext_fields, response.ext_fields);
        prop_assert_eq!(back.body.to_bytes(), Bytes::from_static(b"xyz"));
    }
}

#[test]
fn send_response_as_the_broker_writes_it_is_scanned_and_read_narrowly() {
    // Goal: the header a broker writes for SEND_MESSAGE_V2 takes the scanned path and its
    // fields read back, including keys spelled with escapes and a repeated key. Method: fixed
    // headers.
    let header = br#"{"code":0,"extFields":{"MSG_REGION":"DefaultRegion","TRACE_ON":"true","msgId":"7F00000100002A9F0000000000000000","queueId":"3","queueOffset":"41"},"flag":1,"language":"JAVA","opaque":77,"serializeTypeCurrentRPC":"JSON","version":475}"#;
    let received = ReceivedCommand::decode(json_frame(header, b""), true).unwrap();
    assert!(received.is_scanned());
    assert_eq!((received.code(), received.opaque(), received.flag()), (0, 77, 1));
    assert_eq!(received.remark(), None);
    let [msg_id, queue_id, offset, region, missing] =
        received.ext_fields_of(["msgId", "queueId", "queueOffset", "MSG_REGION", "transactionId"]);
    assert_eq!(msg_id.as_deref(), Some("7F00000100002A9F0000000000000000"));
    assert!(matches!(msg_id, Some(Cow::Borrowed(_))), "plain values are not copied");
    assert_eq!(queue_id.as_deref(), Some("3"));
    assert_eq!(offset.as_deref(), Some("41"));
    assert_eq!(region.as_deref(), Some("DefaultRegion"));
    assert_eq!(missing, None);

    let odd = br#"{"flag":1,"remark":"no \"room\"\n","extFields":{"q\u0075eueId":"1","queueId":"2","queueId":null,"msgId":"a\/b\u00e9"}}"#;
    let received = ReceivedCommand::decode(json_frame(odd, b""), true).unwrap();
    assert!(received.is_scanned());
    assert_eq!(received.remark().as_deref(), Some("no \"room\"\n"));
    let [queue_id, msg_id] = received.ext_fields_of(["queueId", "msgId"]);
    assert_eq!(queue_id.as_deref(), Some("2"));
    assert_eq!(msg_id.as_deref(), Some("a/bé"));
    assert!(assert_reads_like_decoded(json_frame(odd, b"")));
}

#[test]
fn requests_rocketmq_headers_and_unusual_json_are_decoded_at_once() {
    // Goal: only JSON responses in the common shape stay undecoded: requests (a broker's
    // CHECK_TRANSACTION_STATE to a client), ROCKETMQ headers, a surrogate escape, a numeric
    // ext value, and any frame when scanning is off are decoded in full. Method: each frame
    // through `decode`, checking the representation and the decoded result.
    let request = json_frame(br#"{"code":39,"flag":2,"extFields":{"a":"b"}}"#, b"");
    let cases = [
        (request.clone(), true),
        (json_frame(br#"{"flag":1,"extFields":{"a":"\ud83d\ude00"}}"#, b""), true),
        (json_frame(br#"{"flag":1,"extFields":{"a":1}}"#, b""), true),
        (json_frame(br#"{"flag":1,"extFields":{"a":"b"}}"#, b""), false),
    ];
    for (frame, scan) in cases {
        let received = ReceivedCommand::decode(frame.clone(), scan).unwrap();
        assert!(!received.is_scanned(), "{frame:?}");
        assert_eq!(received.into_command().unwrap(), decode_command(frame).unwrap());
    }
    let mut binary = RemotingCommand::response_to(&RemotingCommand::request_code(10), ResponseCode::Success);
    binary.serialize_type = SerializeType::RocketMq;
    binary.put_ext_field("msgId", "x");
    let frame = encode_to_bytes(&binary).unwrap().slice(4..);
    let received = ReceivedCommand::decode(frame, true).unwrap();
    assert!(!received.is_scanned());
    assert_eq!(received.ext_fields_of(["msgId"])[0].as_deref(), Some("x"));
    assert_eq!(received.raw_ext_fields().map(Iterator::count), None);
}

#[test]
fn malformed_frames_fail_as_the_decoder_fails() {
    // Goal: a frame the decoder refuses is refused whether or not scanning is on (the
    // connection then closes as before). Method: a header length past the frame, an unknown
    // serialize type, and a broken JSON response.
    let mut long = BytesMut::new();
    long.put_u32(100);
    long.put_slice(b"{}");
    let mut unknown = BytesMut::new();
    unknown.put_u32(7 << 24 | 2);
    unknown.put_slice(b"{}");
    for frame in [
        long.freeze(),
        unknown.freeze(),
        json_frame(br#"{"flag":1,"#, b""),
        Bytes::from_static(b"\0\0"),
    ] {
        assert!(ReceivedCommand::decode(frame.clone(), true).is_err(), "{frame:?}");
        assert!(decode_command(frame).is_err());
    }
}

#[test]
fn edge_case_headers_read_like_decoded_ones() {
    // Goal: the decoder's own edge cases (escapes, surrogates, whitespace, duplicates, nulls,
    // wrong types, trailing bytes) get the same verdict and the same values from the scan.
    // Method: each header with the response flag, through `assert_reads_like_decoded`.
    let cases: &[&str] = &[
        r#"{"flag":1}"#,
        r#"{"flag":1,"extFields":{}}"#,
        r#"  { "flag" : 1 , "extFields" : { } }  "#,
        r#"{"flag":1,"extFields":null}"#,
        r#"{"flag":1,"extFields":{"k":"a\"b\\c\n\u0001\u00e9","\u006b2":"v","":""}}"#,
        r#"{"flag":1,"extFields":{"b":"1","a":"2","b":"3","a":null,"c":"4","a":"5"}}"#,
        r#"{"flag":1,"extFields":{"a":"\ud800"}}"#,
        r#"{"flag":1,"extFields":{"a":"\u12"}}"#,
        r#"{"flag":1,"extFields":{"a":"\uGGGG"}}"#,
        r#"{"flag":1,"extFields":{"a":"\x"}}"#,
        r#"{"flag":1,"extFields":{"a":"tab	here"}}"#,
        r#"{"flag":1,"extFields":{"a":"1",}}"#,
        r#"{"flag":1,"extFields":{"a":nullx}}"#,
        r#"{"flag":1,"remark":null}"#,
        r#"{"flag":1,"remark":""}"#,
        r#"{"flag":1,"remark":5}"#,
        r#"{"flag":1,"remark":"\u0000\uffff"}"#,
        r#"{"flag":1,"language":"GO","version":-0}"#,
        r#"{"flag":1,"language":"\u0047O"}"#,
        r#"{"flag":1,"code":01}"#,
        r#"{"flag":1,"code":1e3}"#,
        r#"{"flag":1,"code":2147483648}"#,
        r#"{"flag":1,"opaque":-2147483648}"#,
        r#"{"flag":1,"flag":1}"#,
        r#"{"flag":1,"unknown":1}"#,
        r#"{"fl\u0061g":1}"#,
        r#"{"flag":1} x"#,
        r#"{"flag":1,"serializeTypeCurrentRPC":"ROCKETMQ"}"#,
        r#"{"flag":3}"#,
        r#"{"flag":-1}"#,
        r#"{"flag":2}"#,
        "{\"flag\":1,\"extFields\":{\"a\":\"\u{7f}\u{80}\u{10ffff}\"}}",
    ];
    let mut scanned = 0;
    for case in cases {
        scanned += usize::from(assert_reads_like_decoded(json_frame(case.as_bytes(), b"")));
    }
    // The common-shape responses among them: 14 (counted by hand).
    assert_eq!(scanned, 14, "scanned edge cases");
    assert_reads_like_decoded(json_frame(b"{\"flag\":1,\"extFields\":{\"a\":\"\xff\"}}", b""));
}
