//! The request of one send attempt: the SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE header
//! (`SendMessageRequestHeaderV2`, reference 2.2) and its frame.
//!
//! Components:
//! - [`SendHeader`]: the header's fields borrowed from the prepared send, written into ext
//!   fields in key order without a typed header struct per attempt;
//! - [`send_request`]: the attempt as a [`RemotingCommand`] (oneway sends, ROCKETMQ headers);
//! - [`SendRequest`]: the attempt as remoting's [`OutgoingRequest`]: with JSON headers it
//!   writes the header straight into the frame once the opaque is known.
//!
//! Invariant: whichever way a send is encoded, its bytes on the wire are those the protocol's
//! generic encoder writes for `SendMessageRequestHeaderV2` (tested over arbitrary inputs).

use bytes::Bytes;
use ferromq_protocol::body::MessageQueue;
use ferromq_protocol::command::{Body, LanguageCode, SerializeType, CURRENT_VERSION};
use ferromq_protocol::ext_fields::ExtFields;
use ferromq_protocol::frame::MAX_HEADER_BYTES;
use ferromq_protocol::header::send_message::SendMessageRequestHeaderV2;
use ferromq_protocol::header_json::push_json_str;
use ferromq_protocol::{CodecError, RemotingCommand, RequestCode};
use ferromq_remoting::{OutgoingRequest, RequestFrame};

use super::request::{now_ms, PreparedSend};
use crate::config::ClientConfig;

/// The V2 (short-name) send header of one attempt at `queue`, borrowing its strings from the
/// prepared send: it writes exactly the ext fields `SendMessageRequestHeaderV2::encode` would
/// (`a`..`n`, no `l`), without copying five strings into a header struct per attempt.
#[derive(Debug, Clone, Copy)]
pub struct SendHeader<'a> {
    /// `a`: producer group.
    pub producer_group: &'a str,
    /// The prepared message (topic `b`, sysFlag `f`, flag `h`, properties `i`, batch `m`).
    pub prepared: &'a PreparedSend,
    /// `c`: template topic for auto-creation.
    pub default_topic: &'a str,
    /// `d`: queue count of an auto-created topic.
    pub default_topic_queue_nums: i32,
    /// The target queue (queue id `e`, broker name `n`).
    pub queue: &'a MessageQueue,
    /// `g`: born timestamp (ms).
    pub born_timestamp: i64,
}

impl<'a> SendHeader<'a> {
    /// The header of an attempt at `queue` born now.
    pub fn new(config: &'a ClientConfig, group: &'a str, prepared: &'a PreparedSend, queue: &'a MessageQueue) -> Self {
        SendHeader {
            producer_group: group,
            prepared,
            default_topic: &config.create_topic_key,
            default_topic_queue_nums: config.default_topic_queue_nums,
            queue,
            born_timestamp: now_ms(),
        }
    }

    /// As the protocol's typed header (for comparisons; sends use [`SendHeader::write`]).
    pub fn to_typed(&self) -> SendMessageRequestHeaderV2 {
        SendMessageRequestHeaderV2 {
            producer_group: self.producer_group.to_owned(),
            topic: self.prepared.topic.clone(),
            default_topic: self.default_topic.to_owned(),
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: self.queue.queue_id,
            sys_flag: self.prepared.sys_flag,
            born_timestamp: self.born_timestamp,
            flag: self.prepared.flag,
            properties: Some(self.prepared.properties.clone()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(self.prepared.code == RequestCode::SendBatchMessage),
            broker_name: Some(self.queue.broker_name.clone()),
        }
    }

    /// Writes the fields into `fields` in ascending key order (each one appended, no search),
    /// after one reservation for all of them.
    pub fn write(&self, fields: &mut ExtFields) {
        let prepared = self.prepared;
        // Keys (13 bytes) plus values; integers at most 11 (i32) or 20 (i64) characters.
        let text = 13
            + self.producer_group.len()
            + prepared.topic.len()
            + self.default_topic.len()
            + 4 * 11
            + 20
            + prepared.properties.len()
            + 1
            + 5
            + 5
            + self.queue.broker_name.len();
        fields.reserve(13, text);
        fields.insert_with("a", |t| t.push_str(self.producer_group));
        fields.insert_with("b", |t| t.push_str(&prepared.topic));
        fields.insert_with("c", |t| t.push_str(self.default_topic));
        fields.insert_with("d", |t| t.push_integer(i64::from(self.default_topic_queue_nums)));
        fields.insert_with("e", |t| t.push_integer(i64::from(self.queue.queue_id)));
        fields.insert_with("f", |t| t.push_integer(i64::from(prepared.sys_flag)));
        fields.insert_with("g", |t| t.push_integer(self.born_timestamp));
        fields.insert_with("h", |t| t.push_integer(i64::from(prepared.flag)));
        fields.insert_with("i", |t| t.push_str(&prepared.properties));
        // reconsumeTimes 0, unitMode false; maxReconsumeTimes (`l`) absent.
        fields.insert_with("j", |t| t.push_str("0"));
        fields.insert_with("k", |t| t.push_str("false"));
        let batch = prepared.code == RequestCode::SendBatchMessage;
        fields.insert_with("m", |t| t.push_str(if batch { "true" } else { "false" }));
        fields.insert_with("n", |t| t.push_str(&self.queue.broker_name));
    }
}

/// The request for one attempt (`base` carries language and serialization).
pub fn send_request(base: RemotingCommand, header: &SendHeader<'_>) -> RemotingCommand {
    let mut request = base.with_body(header.prepared.body.clone());
    header.write(&mut request.ext_fields);
    request.code = header.prepared.code.as_i32();
    request
}

/// One attempt's request as remoting sends it: with JSON headers (the default, as Java's) the
/// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE header is written straight into the frame once the
/// opaque is known, byte for byte what the generic encoder writes for [`send_request`]'s
/// command (fields in key order, the same escaping); ROCKETMQ headers take the generic path.
#[derive(Debug, Clone, Copy)]
pub struct SendRequest<'a> {
    /// The send header.
    pub header: SendHeader<'a>,
    /// The client's language.
    pub language: LanguageCode,
    /// The client's header serialization.
    pub serialize_type: SerializeType,
}

impl SendRequest<'_> {
    /// The same request as a command (`send_request` on a request with this language and
    /// serialization).
    pub fn command(&self) -> RemotingCommand {
        let mut base = RemotingCommand::request(self.header.prepared.code);
        base.language = self.language;
        base.serialize_type = self.serialize_type;
        send_request(base, &self.header)
    }

    /// The frame head (length word, header tag, JSON header) for `opaque` and a body of
    /// `body_len` bytes.
    fn json_head(&self, opaque: i32, body_len: usize) -> Result<Bytes, CodecError> {
        let header = &self.header;
        let prepared = header.prepared;
        let strings = header.producer_group.len()
            + prepared.topic.len()
            + header.default_topic.len()
            + prepared.properties.len()
            + header.queue.broker_name.len();
        // Fixed text (~250 bytes with the numbers) plus the strings; escapes grow it as needed.
        let mut out = Vec::with_capacity(8 + 256 + strings);
        out.extend_from_slice(&[0u8; 8]);
        out.extend_from_slice(b"{\"code\":");
        push_decimal(&mut out, i64::from(prepared.code.as_i32()));
        out.extend_from_slice(b",\"extFields\":{\"a\":");
        push_json_str(&mut out, header.producer_group);
        out.extend_from_slice(b",\"b\":");
        push_json_str(&mut out, &prepared.topic);
        out.extend_from_slice(b",\"c\":");
        push_json_str(&mut out, header.default_topic);
        out.extend_from_slice(b",\"d\":\"");
        push_decimal(&mut out, i64::from(header.default_topic_queue_nums));
        out.extend_from_slice(b"\",\"e\":\"");
        push_decimal(&mut out, i64::from(header.queue.queue_id));
        out.extend_from_slice(b"\",\"f\":\"");
        push_decimal(&mut out, i64::from(prepared.sys_flag));
        out.extend_from_slice(b"\",\"g\":\"");
        push_decimal(&mut out, header.born_timestamp);
        out.extend_from_slice(b"\",\"h\":\"");
        push_decimal(&mut out, i64::from(prepared.flag));
        out.extend_from_slice(b"\",\"i\":");
        push_json_str(&mut out, &prepared.properties);
        if prepared.code == RequestCode::SendBatchMessage {
            out.extend_from_slice(b",\"j\":\"0\",\"k\":\"false\",\"m\":\"true\",\"n\":");
        } else {
            out.extend_from_slice(b",\"j\":\"0\",\"k\":\"false\",\"m\":\"false\",\"n\":");
        }
        push_json_str(&mut out, &header.queue.broker_name);
        // A request expecting a response: flag 0.
        out.extend_from_slice(b"},\"flag\":0,\"language\":\"");
        out.extend_from_slice(self.language.name().as_bytes());
        out.extend_from_slice(b"\",\"opaque\":");
        push_decimal(&mut out, i64::from(opaque));
        out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
        push_decimal(&mut out, i64::from(CURRENT_VERSION));
        out.push(b'}');
        let header_len = out.len() - 8;
        if header_len > MAX_HEADER_BYTES {
            return Err(CodecError::Unencodable("header longer than 16 MiB"));
        }
        let len = 4usize
            .checked_add(header_len)
            .and_then(|n| n.checked_add(body_len))
            .and_then(|n| i32::try_from(n).ok())
            .ok_or(CodecError::Unencodable("frame longer than i32::MAX"))?;
        // header_len <= MAX_HEADER_BYTES, so it fits the tag's low 24 bits.
        let tag = (u32::from(SerializeType::Json.as_u8()) << 24) | header_len as u32;
        let prefix = len.to_be_bytes().into_iter().chain(tag.to_be_bytes());
        for (slot, byte) in out.iter_mut().zip(prefix) {
            *slot = byte;
        }
        Ok(Bytes::from(out))
    }
}

impl OutgoingRequest for SendRequest<'_> {
    fn into_frame(self, opaque: i32) -> Result<RequestFrame, CodecError> {
        match self.serialize_type {
            SerializeType::Json => {
                let body = Body::from(self.header.prepared.body.clone());
                let head = self.json_head(opaque, body.len())?;
                Ok(RequestFrame { head, body })
            }
            SerializeType::RocketMq => self.command().into_frame(opaque),
        }
    }
}

/// Appends the decimal text of `value` (as Java's `String.valueOf`).
fn push_decimal(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut n = value.unsigned_abs();
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        // n % 10 < 10, so the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_protocol::frame::encode_head_bytes;

    fn prepared(code: RequestCode, topic: String, properties: String, sys_flag: i32, flag: i32) -> PreparedSend {
        PreparedSend {
            topic,
            code,
            body: Bytes::from_static(b"body"),
            sys_flag,
            flag,
            properties,
            msg_id: String::new(),
            message_count: 1,
        }
    }

    proptest::proptest! {
        // Goal: the borrowed send header puts exactly the bytes on the wire that the typed
        // SendMessageRequestHeaderV2 would, for any strings (escapes, non-ASCII), numbers and
        // both codes. Method: build the request both ways and compare the ext fields and the
        // encoded heads in both header serializations.
        #[test]
        fn borrowed_send_header_encodes_like_the_typed_header(
            group in ".{0,12}",
            topic in ".{0,12}",
            default_topic in ".{0,8}",
            properties in ".{0,40}",
            broker in ".{0,10}",
            numbers in proptest::array::uniform5(proptest::num::i32::ANY),
            born in proptest::num::i64::ANY,
            batch in proptest::bool::ANY,
        ) {
            let [queue_nums, queue_id, sys_flag, flag, _] = numbers;
            let code = if batch { RequestCode::SendBatchMessage } else { RequestCode::SendMessageV2 };
            let prepared = prepared(code, topic, properties, sys_flag, flag);
            let queue = MessageQueue::new(&prepared.topic, &broker, queue_id);
            let header = SendHeader {
                producer_group: &group,
                prepared: &prepared,
                default_topic: &default_topic,
                default_topic_queue_nums: queue_nums,
                queue: &queue,
                born_timestamp: born,
            };
            for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
                let mut base = RemotingCommand::request(code);
                base.serialize_type = serialize_type;
                let borrowed = send_request(base.clone(), &header);
                let typed = base.with_header(&header.to_typed()).with_body(prepared.body.clone());
                proptest::prop_assert_eq!(&borrowed, &typed);
                proptest::prop_assert_eq!(encode_head_bytes(&borrowed).ok(), encode_head_bytes(&typed).ok());
            }
        }
    }

    proptest::proptest! {
        // Goal: the frame a send writes itself is byte for byte the frame of the same request
        // built as a command and encoded generically, whatever the strings (escapes,
        // non-ASCII), numbers, opaque, language and header serialization. Method: encode both
        // ways and compare heads and bodies.
        #[test]
        fn send_frame_is_the_generic_encoding_of_the_same_command(
            group in ".{0,12}",
            topic in "[a-zA-Z0-9_%|-]{1,12}",
            properties in ".{0,60}",
            broker in ".{0,10}",
            numbers in proptest::array::uniform4(proptest::num::i32::ANY),
            born in proptest::num::i64::ANY,
            opaque in proptest::num::i32::ANY,
            batch in proptest::bool::ANY,
            rocketmq in proptest::bool::ANY,
            java in proptest::bool::ANY,
        ) {
            let [queue_nums, queue_id, sys_flag, flag] = numbers;
            let code = if batch { RequestCode::SendBatchMessage } else { RequestCode::SendMessageV2 };
            let prepared = prepared(code, topic, properties, sys_flag, flag);
            let queue = MessageQueue::new(&prepared.topic, &broker, queue_id);
            let request = SendRequest {
                header: SendHeader {
                    producer_group: &group,
                    prepared: &prepared,
                    default_topic: "TBW102",
                    default_topic_queue_nums: queue_nums,
                    queue: &queue,
                    born_timestamp: born,
                },
                language: if java { LanguageCode::Java } else { LanguageCode::Rust },
                serialize_type: if rocketmq { SerializeType::RocketMq } else { SerializeType::Json },
            };
            let generic = request.command().into_frame(opaque).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let own = request.into_frame(opaque).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(&own.head, &generic.head);
            proptest::prop_assert_eq!(own.body.to_bytes(), generic.body.to_bytes());
        }
    }

    #[test]
    fn decimals_are_written_as_java_string_value_of() {
        // Goal: the frame's integers read as Java's String.valueOf: edges and signs.
        // Method: compare with to_string.
        for value in [0, 7, -7, 10, 99, 100, i64::from(i32::MIN), i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }

    #[test]
    fn send_frame_head_decodes_to_the_command_with_its_opaque() {
        // Goal: the frame a send writes itself is a valid frame that decodes to the command,
        // with the opaque it was given and no response/oneway flag. Method: encode, decode.
        let prepared = prepared(
            RequestCode::SendMessageV2,
            "T".into(),
            "WAIT\u{1}true\u{2}".into(),
            0,
            0,
        );
        let queue = MessageQueue::new("T", "broker-a", 3);
        let config = ClientConfig::new("127.0.0.1:9876").unwrap();
        let request = SendRequest {
            header: SendHeader::new(&config, "pg", &prepared, &queue),
            language: LanguageCode::Rust,
            serialize_type: SerializeType::Json,
        };
        let frame = request.into_frame(41).unwrap();
        let mut wire = bytes::BytesMut::from(&frame.head[..]);
        wire.extend_from_slice(&frame.body.to_bytes());
        let decoded = ferromq_protocol::frame::decode_frame(&mut wire, 1 << 20)
            .unwrap()
            .unwrap();
        let mut expected = request.command();
        expected.opaque = 41;
        assert_eq!(decoded, expected);
        assert!(!decoded.is_response() && !decoded.is_oneway());
        assert!(wire.is_empty());
    }
}
