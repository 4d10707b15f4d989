//! Building SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE requests and reading their responses
//! (`DefaultMQProducerImpl.sendKernelImpl`, `MQClientAPIImpl.processSendResponse`,
//! reference 2.2, 4.3, 4.4 and 4.6).
//!
//! A message is prepared once per send (unique key, compression, properties string, batch
//! body) and turned into a request per attempt (queue and born timestamp change).

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use ferromq_protocol::body::MessageQueue;
use ferromq_protocol::header::{parse_i32, parse_i64, HeaderError};
use ferromq_protocol::message::compress::{compress_body, DEFAULT_ZLIB_LEVEL};
use ferromq_protocol::message::properties::{self, encode_properties};
use ferromq_protocol::message::{encode_batch, BatchMessage, UniqIdGenerator};
use ferromq_protocol::{ReceivedCommand, RequestCode};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::message::{validate_message, Message, SendResult, SendStatus};

/// Prefix of retry topics, which cannot be batched (`MixAll.RETRY_GROUP_TOPIC_PREFIX`).
const RETRY_TOPIC_PREFIX: &str = "%RETRY%";

/// A message (or batch) ready to be sent to any queue of its topic.
#[derive(Debug, Clone)]
pub struct PreparedSend {
    /// Target topic.
    pub topic: String,
    /// SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE.
    pub code: RequestCode,
    /// Body as sent (possibly compressed; the batch encoding for batches).
    pub body: Bytes,
    /// Message sysFlag (COMPRESSED bits).
    pub sys_flag: i32,
    /// User flag.
    pub flag: i32,
    /// Encoded properties of the message (of the batch envelope for batches).
    pub properties: String,
    /// `SendResult.msg_id`: the UNIQ_KEY, or the inner keys joined by commas.
    pub msg_id: String,
    /// Messages carried (1, or the batch size).
    pub message_count: usize,
}

/// Validates `message`, gives it a UNIQ_KEY if it has none, compresses a large body.
pub fn prepare_message(
    config: &ClientConfig,
    uniq: &UniqIdGenerator,
    mut message: Message,
) -> Result<PreparedSend, ClientError> {
    validate_message(&message, &config.create_topic_key, config.max_message_size)?;
    let msg_id = match message.uniq_key() {
        Some(id) => id.to_owned(),
        None => {
            let id = uniq.next_id();
            message.properties.insert(properties::UNIQ_KEY, id.clone());
            id
        }
    };
    let (body, sys_flag) = match config.compress_msg_body_over {
        Some(threshold) if message.body.len() > threshold => {
            let (compressed, flag) = compress_body(&message.body, 0, DEFAULT_ZLIB_LEVEL)?;
            (Bytes::from(compressed), flag)
        }
        _ => (message.body, 0),
    };
    Ok(PreparedSend {
        topic: message.topic,
        code: RequestCode::SendMessageV2,
        body,
        sys_flag,
        flag: message.flag,
        properties: encode_properties(&message.properties),
        msg_id,
        message_count: 1,
    })
}

/// Validates a batch (same topic and WAIT, no delay, no retry topic: `MessageBatch.generateFromList`),
/// keys every message, and encodes the batch body (never compressed, as in Java).
pub fn prepare_batch(
    config: &ClientConfig,
    uniq: &UniqIdGenerator,
    messages: Vec<Message>,
) -> Result<PreparedSend, ClientError> {
    let invalid = |reason: String| Err(ClientError::InvalidMessage { reason });
    let Some(first) = messages.first() else {
        return invalid("a batch needs at least one message".to_owned());
    };
    let topic = first.topic.clone();
    let wait = first.wait_store_msg_ok();
    if topic.starts_with(RETRY_TOPIC_PREFIX) {
        return invalid("retry group topics are not supported for batching".to_owned());
    }
    let mut inner = Vec::with_capacity(messages.len());
    let mut ids = Vec::with_capacity(messages.len());
    for mut message in messages {
        validate_message(&message, &config.create_topic_key, config.max_message_size)?;
        if message.topic != topic {
            return invalid(format!("batch mixes topics {topic} and {}", message.topic));
        }
        if message.wait_store_msg_ok() != wait {
            return invalid("the waitStoreMsgOK of the messages in one batch should be the same".to_owned());
        }
        if message
            .properties
            .get(properties::DELAY)
            .is_some_and(|level| level.parse::<i32>().is_ok_and(|l| l > 0))
        {
            return invalid("TimeDelayLevel is not supported for batching".to_owned());
        }
        let id = match message.uniq_key() {
            Some(id) => id.to_owned(),
            None => {
                let id = uniq.next_id();
                message.properties.insert(properties::UNIQ_KEY, id.clone());
                id
            }
        };
        ids.push(id);
        inner.push(BatchMessage {
            flag: message.flag,
            body: message.body,
            properties: encode_properties(&message.properties),
        });
    }
    let len: usize = inner.iter().map(BatchMessage::encoded_len).sum();
    if len > config.max_message_size {
        return invalid(format!(
            "the batch body is {len} bytes, over the maximum of {}",
            config.max_message_size
        ));
    }
    let mut body = BytesMut::with_capacity(len);
    encode_batch(&inner, &mut body)?;
    let mut envelope = ferromq_protocol::message::Properties::new();
    envelope.insert(properties::WAIT, if wait { "true" } else { "false" });
    envelope.insert(properties::UNIQ_KEY, uniq.next_id());
    Ok(PreparedSend {
        topic,
        code: RequestCode::SendBatchMessage,
        body: body.freeze(),
        sys_flag: 0,
        flag: 0,
        properties: encode_properties(&envelope),
        msg_id: ids.join(","),
        message_count: inner.len(),
    })
}

/// Reads a send response: a stored status with its header, or the broker's error. A scanned
/// response (see `ferromq_protocol::received`) is read without decoding its header: the
/// remark only for an error, the SendResult's ext fields in one pass.
pub fn parse_send_response(
    addr: &str,
    prepared: &PreparedSend,
    queue: &MessageQueue,
    response: &ReceivedCommand,
) -> Result<SendResult, ClientError> {
    let code = response.response_code_enum();
    let Some(status) = SendStatus::from_response_code(code) else {
        return Err(ClientError::Response {
            addr: addr.to_owned(),
            code,
            remark: response.remark().map(Cow::into_owned),
        });
    };
    let header_error = |source| ClientError::Header {
        request_code: prepared.code.as_i32(),
        addr: addr.to_owned(),
        source,
    };
    // The fields a SendResult carries, with SendMessageResponseHeader's parse rules (and in
    // its order, so the first bad field is the one reported); the header's other fields
    // (recallHandle, delayTime, TRACE_ON) are not read, as Java's processSendResponse ignores
    // them too.
    let [region_id, batch_uniq_id, offset_msg_id, queue_id, queue_offset, transaction_id] = response.ext_fields_of([
        MSG_REGION,
        BATCH_UNIQ_ID,
        MSG_ID,
        QUEUE_ID,
        QUEUE_OFFSET,
        TRANSACTION_ID,
    ]);
    let offset_msg_id = required(MSG_ID, offset_msg_id).map_err(header_error)?.into_owned();
    let queue_id = required(QUEUE_ID, queue_id)
        .and_then(|v| parse_i32(QUEUE_ID, &v))
        .map_err(header_error)?;
    let queue_offset = required(QUEUE_OFFSET, queue_offset)
        .and_then(|v| parse_i64(QUEUE_OFFSET, &v))
        .map_err(header_error)?;
    // A broker-side inner batch reports its own id; otherwise the client's ids stand.
    let batch_uniq_id = batch_uniq_id.filter(|_| prepared.code == RequestCode::SendBatchMessage);
    Ok(SendResult {
        status,
        msg_id: batch_uniq_id.map_or_else(|| prepared.msg_id.clone(), Cow::into_owned),
        offset_msg_id,
        queue: MessageQueue::new(&prepared.topic, &queue.broker_name, queue_id),
        queue_offset,
        transaction_id: transaction_id.map(Cow::into_owned),
        region_id: region_id.map(Cow::into_owned),
    })
}

/// A required field's value, or `MissingField`.
fn required<'a>(field: &'static str, value: Option<Cow<'a, str>>) -> Result<Cow<'a, str>, HeaderError> {
    value.ok_or(HeaderError::MissingField { field })
}

/// `SendMessageResponseHeader` wire names of the fields a [`SendResult`] carries.
const MSG_REGION: &str = "MSG_REGION";
const BATCH_UNIQ_ID: &str = "batchUniqId";
const MSG_ID: &str = "msgId";
const QUEUE_ID: &str = "queueId";
const QUEUE_OFFSET: &str = "queueOffset";
const TRANSACTION_ID: &str = "transactionId";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::send_frame::{send_request, SendHeader};
    use ferromq_protocol::frame::encode_to_bytes;
    use ferromq_protocol::header::send_message::SendMessageResponseHeader;
    use ferromq_protocol::message::{decode_batch, decompress_body, property_value};
    use ferromq_protocol::{RemotingCommand, ResponseCode};
    use std::net::{IpAddr, Ipv4Addr};

    fn config() -> ClientConfig {
        ClientConfig::new("127.0.0.1:9876").unwrap()
    }

    fn uniq() -> UniqIdGenerator {
        UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 42, 7)
    }

    #[test]
    fn single_send_carries_uniq_key_wait_and_short_header_names() {
        // Goal: the V2 header uses a..n, properties carry WAIT and the client UNIQ_KEY, which is
        // also SendResult.msg_id. Method: prepare, build the request, inspect ext fields.
        let prepared = prepare_message(&config(), &uniq(), Message::new("TopicA", &b"hello"[..])).unwrap();
        let queue = MessageQueue::new("TopicA", "broker-a", 3);
        let config = config();
        let header = SendHeader::new(&config, "pg", &prepared, &queue);
        let request = send_request(RemotingCommand::request(RequestCode::SendMessageV2), &header);
        assert_eq!(request.code, 310);
        assert_eq!(request.ext_field("a"), Some("pg"));
        assert_eq!(request.ext_field("b"), Some("TopicA"));
        assert_eq!(request.ext_field("c"), Some("TBW102"));
        assert_eq!(request.ext_field("d"), Some("4"));
        assert_eq!(request.ext_field("e"), Some("3"));
        assert_eq!(request.ext_field("m"), Some("false"));
        let born: i64 = request.ext_field("g").unwrap().parse().unwrap();
        assert!((born - now_ms()).abs() < 60_000);
        let props = request.ext_field("i").unwrap();
        assert_eq!(property_value(props, "WAIT"), Some("true"));
        assert_eq!(property_value(props, "UNIQ_KEY"), Some(prepared.msg_id.as_str()));
        assert_eq!(prepared.msg_id.len(), 32);
        assert_eq!(request.body.to_bytes(), Bytes::from_static(b"hello"));
    }

    proptest::proptest! {
        // Goal: reading only the SendResult fields gives what the typed
        // SendMessageResponseHeader decode gives, for any header values, single sends and
        // batches alike, and a header the typed decode refuses for a missing or malformed
        // msgId/queueId/queueOffset is refused too; an error code carries its remark; the
        // scanned response (as a client's reader hands it on) reads exactly like the decoded
        // one. Method: encode an arbitrary typed header into a response (sometimes spoiling
        // one required field, or with an error code and remark), parse it decoded, scanned,
        // and through the typed header.
        #[test]
        fn send_response_reads_like_the_typed_header(
            strings in proptest::collection::vec(proptest::option::of(".{0,12}"), 5),
            queue_id in proptest::num::i32::ANY,
            queue_offset in proptest::num::i64::ANY,
            delay_time in proptest::option::of(proptest::num::i64::ANY),
            trace_on in proptest::option::of(proptest::bool::ANY),
            batch in proptest::bool::ANY,
            spoil in 0usize..8,
            remark in ".{0,12}",
        ) {
            let [msg_id, transaction_id, batch_uniq_id, recall_handle, msg_region] =
                <[Option<String>; 5]>::try_from(strings).unwrap();
            let header = SendMessageResponseHeader {
                msg_id: msg_id.unwrap_or_default(),
                queue_id,
                queue_offset,
                transaction_id,
                batch_uniq_id,
                recall_handle,
                delay_time,
                msg_region,
                trace_on,
            };
            let mut prepared = prepare_message(&config(), &uniq(), Message::new("T", &b"x"[..])).unwrap();
            if batch {
                prepared.code = RequestCode::SendBatchMessage;
            }
            let queue = MessageQueue::new("T", "broker-a", 1);
            let request = RemotingCommand::request(prepared.code);
            let mut response = RemotingCommand::response_to(&request, ResponseCode::Success).with_header(&header);
            match spoil {
                0 => { response.ext_fields.remove("msgId"); }
                1 => response.put_ext_field("queueId", "x1"),
                2 => { response.ext_fields.remove("queueOffset"); }
                3 => response.put_ext_field("delayTime", "soon"),
                4 => {
                    response.code = ResponseCode::SystemBusy.as_i32();
                    response.remark = Some(remark.clone());
                }
                _ => {}
            }
            let [decoded, scanned] = received_both(&response);
            let parsed = parse_send_response("b:1", &prepared, &queue, &decoded);
            let parsed_scanned = parse_send_response("b:1", &prepared, &queue, &scanned);
            proptest::prop_assert_eq!(format!("{parsed:?}"), format!("{parsed_scanned:?}"));
            if spoil == 4 {
                let remark_matches = matches!(&parsed, Err(ClientError::Response { remark: Some(r), .. }) if *r == remark);
                proptest::prop_assert!(remark_matches, "{:?}", parsed);
                return Ok(());
            }
            match response.decode_header::<SendMessageResponseHeader>() {
                Ok(typed) => {
                    let result = parsed.unwrap();
                    let msg_id = match (typed.batch_uniq_id, batch) {
                        (Some(id), true) => id,
                        _ => prepared.msg_id.clone(),
                    };
                    proptest::prop_assert_eq!(result.msg_id, msg_id);
                    proptest::prop_assert_eq!(result.offset_msg_id, typed.msg_id);
                    proptest::prop_assert_eq!(result.queue, MessageQueue::new("T", "broker-a", typed.queue_id));
                    proptest::prop_assert_eq!(result.queue_offset, typed.queue_offset);
                    proptest::prop_assert_eq!(result.transaction_id, typed.transaction_id);
                    proptest::prop_assert_eq!(result.region_id, typed.msg_region);
                }
                Err(_) if spoil < 3 => {
                    proptest::prop_assert!(matches!(parsed, Err(ClientError::Header { .. })), "{:?}", parsed);
                }
                // Only the fields a SendResult does not carry can make the typed decode fail
                // here (delayTime is not read): the narrow read accepts the response.
                Err(_) => proptest::prop_assert!(parsed.is_ok()),
            }
        }
    }

    /// `response` as a decoded command and as a client's reader hands it on (scanned).
    fn received_both(response: &RemotingCommand) -> [ReceivedCommand; 2] {
        let frame = encode_to_bytes(response).unwrap().slice(4..);
        let scanned = ReceivedCommand::decode(frame, true).unwrap();
        assert!(scanned.is_scanned());
        [ReceivedCommand::from(response.clone()), scanned]
    }

    #[test]
    fn bodies_over_the_threshold_are_zlib_compressed() {
        // Goal: a body over compressMsgBodyOverHowmuch goes out compressed with COMPRESSED set.
        // Method: prepare a repetitive 10 KiB body and inflate it back.
        let body = Bytes::from(vec![b'x'; 10 * 1024]);
        let prepared = prepare_message(&config(), &uniq(), Message::new("T", body.clone())).unwrap();
        assert_ne!(prepared.sys_flag & 0x1, 0);
        assert!(prepared.body.len() < body.len());
        assert_eq!(
            decompress_body(&prepared.body, prepared.sys_flag, 1 << 20).unwrap(),
            body
        );
    }

    #[test]
    fn batch_body_holds_every_message_and_msg_id_joins_their_keys() {
        // Goal: SEND_BATCH_MESSAGE carries the batch encoding with one UNIQ_KEY per message and
        // the result id is the comma-joined keys. Method: prepare 3 messages, decode the body.
        let messages = (0..3).map(|i| Message::new("T", vec![i as u8; 8])).collect();
        let prepared = prepare_batch(&config(), &uniq(), messages).unwrap();
        assert_eq!(prepared.code, RequestCode::SendBatchMessage);
        assert_eq!(prepared.message_count, 3);
        let decoded = decode_batch(&prepared.body, 16).unwrap();
        let keys: Vec<String> = decoded
            .iter()
            .map(|m| m.properties().get("UNIQ_KEY").unwrap().to_owned())
            .collect();
        assert_eq!(prepared.msg_id, keys.join(","));
        assert_eq!(decoded[2].body, Bytes::from(vec![2u8; 8]));
        let config = config();
        let queue = MessageQueue::new("T", "b", 0);
        let header = SendHeader::new(&config, "pg", &prepared, &queue);
        assert_eq!(header.to_typed().batch, Some(true));
        let request = send_request(RemotingCommand::request(RequestCode::SendBatchMessage), &header);
        assert_eq!(request.ext_field("m"), Some("true"));
    }

    #[test]
    fn batches_mixing_topics_or_delays_are_refused() {
        // Goal: MessageBatch rules: one topic, no delay level, not empty.
        let mixed = vec![Message::new("A", &b"1"[..]), Message::new("B", &b"2"[..])];
        assert!(prepare_batch(&config(), &uniq(), mixed).is_err());
        let delayed = vec![Message::new("A", &b"1"[..]).with_property("DELAY", "3")];
        assert!(prepare_batch(&config(), &uniq(), delayed).is_err());
        assert!(prepare_batch(&config(), &uniq(), Vec::new()).is_err());
    }

    #[test]
    fn send_response_maps_status_and_header_fields() {
        // Goal: FLUSH_DISK_TIMEOUT is a stored status with the header's ids and offsets; an
        // error code is a Response error; a success without header fields is a Header error.
        // Method: hand-made responses.
        let prepared = prepare_message(&config(), &uniq(), Message::new("T", &b"x"[..])).unwrap();
        let queue = MessageQueue::new("T", "broker-a", 1);
        let request = RemotingCommand::request(RequestCode::SendMessageV2);
        let mut response = RemotingCommand::response_to(&request, ResponseCode::FlushDiskTimeout);
        response.put_ext_field("msgId", "7F00000100002A9F0000000000000010");
        response.put_ext_field("queueId", "2");
        response.put_ext_field("queueOffset", "41");
        for response in received_both(&response) {
            let result = parse_send_response("b:1", &prepared, &queue, &response).unwrap();
            assert_eq!(result.status, SendStatus::FlushDiskTimeout);
            assert_eq!(result.msg_id, prepared.msg_id);
            assert_eq!(result.offset_msg_id, "7F00000100002A9F0000000000000010");
            assert_eq!(result.queue, MessageQueue::new("T", "broker-a", 2));
            assert_eq!(result.queue_offset, 41);
        }

        let busy = RemotingCommand::response_to(&request, ResponseCode::SystemBusy).with_remark("[OVERLOAD]");
        for busy in received_both(&busy) {
            let error = parse_send_response("b:1", &prepared, &queue, &busy).unwrap_err();
            assert!(error.is_send_retryable());
            assert!(matches!(&error, ClientError::Response { remark: Some(r), .. } if r == "[OVERLOAD]"));
        }
        let bare = RemotingCommand::response_to(&request, ResponseCode::Success);
        for bare in received_both(&bare) {
            assert!(matches!(
                parse_send_response("b:1", &prepared, &queue, &bare),
                Err(ClientError::Header { .. })
            ));
        }
    }
}
