//! The answer to a stored send: [`SendResult`], the SEND_MESSAGE response header
//! (`SendMessageResponseHeader`: msgId (a [`MsgId`]), queueId, queueOffset, transactionId, plus the
//! `MSG_REGION` and `TRACE_ON` fields Java clients read) as remoting's [`OutgoingResponse`].
//!
//! To a JSON request it writes its header straight into the frame head once the dispatcher
//! gives it the opaque: no typed header with owned strings, no ext-field map, no generic
//! encoder pass per send. To a ROCKETMQ request it answers through the generic encoder.
//!
//! Invariant: whichever way it is encoded, its bytes on the wire are those of the generic
//! encoding of [`SendResult::command`] finished as the dispatcher finishes a command (opaque,
//! response flag, serialize type); tested over arbitrary values.

use std::net::SocketAddr;

use ferromq_protocol::command::{LanguageCode, CURRENT_VERSION};
use ferromq_protocol::frame::{encode_head_bytes, finish_head, HEAD_PREFIX_BYTES};
use ferromq_protocol::header::send_message::SendMessageResponseHeader;
use ferromq_protocol::header_json::{push_int, push_json_str};
use ferromq_protocol::message::{create_offset_msg_id, push_offset_msg_id};
use ferromq_protocol::{CodecError, RemotingCommand, ResponseCode, SerializeType};
use ferromq_remoting::{OutgoingResponse, ResponseFrame};

/// `MSG_REGION` answered with every send (Java's default region).
pub const DEFAULT_REGION: &str = "DefaultRegion";

/// Header bytes of a JSON send response besides its strings and numbers (about 190), rounded up.
const JSON_HEAD_FIXED_BYTES: usize = 256;

/// The `msgId` of a send response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgId {
    /// The offsetMsgId of one stored record, written as hex straight into the response
    /// header (no `String` per send).
    Offset {
        /// This broker's store host.
        store_host: SocketAddr,
        /// The record's CommitLog offset.
        phy_offset: i64,
    },
    /// Any other text (a batch's comma-joined offsetMsgIds).
    Text(String),
}

impl MsgId {
    /// The id as text.
    pub fn to_text(&self) -> String {
        match self {
            MsgId::Offset { store_host, phy_offset } => create_offset_msg_id(*store_host, *phy_offset),
            MsgId::Text(text) => text.clone(),
        }
    }

    /// Upper bound of its JSON string's length (quotes included), for sizing the header.
    fn json_len(&self) -> usize {
        match self {
            MsgId::Offset { .. } => 2 + 56,
            MsgId::Text(text) => 2 + text.len(),
        }
    }

    /// Appends it as a JSON string.
    fn push_json(&self, out: &mut Vec<u8>) {
        match self {
            // Hex digits: nothing to escape.
            MsgId::Offset { store_host, phy_offset } => {
                out.push(b'"');
                push_offset_msg_id(out, *store_host, *phy_offset);
                out.push(b'"');
            }
            MsgId::Text(text) => push_json_str(out, text),
        }
    }
}

/// Where a send landed, answered as SUCCESS or FLUSH_DISK_TIMEOUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// SUCCESS, or FLUSH_DISK_TIMEOUT / FLUSH_SLAVE_TIMEOUT style outcomes that still stored.
    pub code: ResponseCode,
    /// Offset message id (comma-joined for a batch).
    pub msg_id: MsgId,
    /// Queue the message(s) went to.
    pub queue_id: i32,
    /// Queue offset (of the first message of a batch).
    pub queue_offset: i64,
    /// The UNIQ_KEY of a single message; `None` for a batch.
    pub transaction_id: Option<String>,
}

impl SendResult {
    /// The typed response header: the result plus `MSG_REGION` and `TRACE_ON`.
    pub fn header(&self) -> SendMessageResponseHeader {
        SendMessageResponseHeader {
            msg_id: self.msg_id.to_text(),
            queue_id: self.queue_id,
            queue_offset: self.queue_offset,
            transaction_id: self.transaction_id.clone(),
            msg_region: Some(DEFAULT_REGION.to_owned()),
            trace_on: Some(true),
            ..Default::default()
        }
    }

    /// The same response as a command answering `request` (the generic path).
    pub fn command(&self, request: &RemotingCommand) -> RemotingCommand {
        RemotingCommand::response_to(request, self.code).with_header(&self.header())
    }

    /// The frame head (length word, header tag, JSON header; no body) of the response with
    /// `opaque`: what the generic encoder writes for [`SendResult::command`], its ext fields in
    /// ascending key byte order (`MSG_REGION`, `TRACE_ON`, `msgId`, `queueId`, `queueOffset`,
    /// `transactionId`), as fastjson sorts them.
    fn json_head(&self, opaque: i32) -> Result<bytes::Bytes, CodecError> {
        let strings = self.msg_id.json_len() + self.transaction_id.as_ref().map_or(0, String::len);
        let mut out = Vec::with_capacity(HEAD_PREFIX_BYTES + JSON_HEAD_FIXED_BYTES + strings);
        out.extend_from_slice(&[0u8; HEAD_PREFIX_BYTES]);
        out.extend_from_slice(b"{\"code\":");
        push_int(&mut out, i64::from(self.code.as_i32()));
        // MSG_REGION is DEFAULT_REGION (no escapes), TRACE_ON true: constant text.
        out.extend_from_slice(b",\"extFields\":{\"MSG_REGION\":\"DefaultRegion\",\"TRACE_ON\":\"true\",\"msgId\":");
        self.msg_id.push_json(&mut out);
        out.extend_from_slice(b",\"queueId\":\"");
        push_int(&mut out, i64::from(self.queue_id));
        out.extend_from_slice(b"\",\"queueOffset\":\"");
        push_int(&mut out, self.queue_offset);
        out.push(b'"');
        if let Some(transaction_id) = &self.transaction_id {
            out.extend_from_slice(b",\"transactionId\":");
            push_json_str(&mut out, transaction_id);
        }
        // A response (flag 1), from a broker (language JAVA, as every response says).
        out.extend_from_slice(b"},\"flag\":1,\"language\":\"");
        out.extend_from_slice(LanguageCode::Java.name().as_bytes());
        out.extend_from_slice(b"\",\"opaque\":");
        push_int(&mut out, i64::from(opaque));
        out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
        push_int(&mut out, i64::from(CURRENT_VERSION));
        out.push(b'}');
        finish_head(out, SerializeType::Json, 0)
    }
}

impl OutgoingResponse for SendResult {
    fn code(&self) -> i32 {
        self.code.as_i32()
    }

    fn into_frame(self: Box<Self>, opaque: i32, serialize_type: SerializeType) -> Result<ResponseFrame, CodecError> {
        let head = match serialize_type {
            SerializeType::Json => self.json_head(opaque)?,
            SerializeType::RocketMq => {
                // The request as far as a response reads it: opaque and serialize type.
                let request = RemotingCommand {
                    opaque,
                    serialize_type,
                    ..Default::default()
                };
                encode_head_bytes(&self.command(&request))?
            }
        };
        Ok(ResponseFrame {
            head,
            body: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_protocol::command::FLAG_RESPONSE;
    use ferromq_protocol::frame::decode_frame;
    use proptest::prelude::*;

    /// The frame the dispatcher writes for `command` answering a request with `opaque` and
    /// `serialize_type` (its finishing steps, then the generic encoder).
    fn generic_head(mut command: RemotingCommand, opaque: i32, serialize_type: SerializeType) -> bytes::Bytes {
        command.opaque = opaque;
        command.flag |= FLAG_RESPONSE;
        command.serialize_type = serialize_type;
        encode_head_bytes(&command).unwrap()
    }

    proptest! {
        // Goal: the head a send result writes itself is byte for byte the generic encoding of
        // the same response, whatever the message id (escapes, non-ASCII, a batch's commas),
        // queue id, offset, transaction id, opaque, response code and the request's
        // version, language and serialization. Method: encode both ways, compare heads and
        // bodies; the request's opaque and serialization are scrambled before the generic
        // path, as the dispatcher overrides them.
        #[test]
        fn send_result_frame_is_the_generic_encoding_of_the_same_response(
            msg_id in prop_oneof![
                ".{0,80}".prop_map(MsgId::Text),
                (any::<[u8; 16]>(), any::<bool>(), any::<u16>(), any::<i64>()).prop_map(|(ip, v6, port, phy_offset)| {
                    let ip = if v6 {
                        std::net::IpAddr::from(ip)
                    } else {
                        std::net::IpAddr::from([ip[0], ip[1], ip[2], ip[3]])
                    };
                    MsgId::Offset { store_host: SocketAddr::new(ip, port), phy_offset }
                }),
            ],
            queue_id in any::<i32>(),
            queue_offset in any::<i64>(),
            transaction_id in proptest::option::of(".{0,40}"),
            opaque in any::<i32>(),
            version in any::<i32>(),
            language_index in any::<u8>(),
            flush_timeout in any::<bool>(),
            rocketmq in any::<bool>(),
        ) {
            let code = if flush_timeout { ResponseCode::FlushDiskTimeout } else { ResponseCode::Success };
            let result = SendResult { code, msg_id, queue_id, queue_offset, transaction_id };
            let serialize_type = if rocketmq { SerializeType::RocketMq } else { SerializeType::Json };
            let mut request = RemotingCommand::request_code(310);
            request.version = version;
            request.language = LanguageCode::from_u8(language_index);
            request.opaque = opaque.wrapping_add(1);
            let generic = generic_head(result.command(&request), opaque, serialize_type);
            prop_assert_eq!(OutgoingResponse::code(&result), code.as_i32());
            let own = Box::new(result).into_frame(opaque, serialize_type).unwrap();
            prop_assert_eq!(own.head, generic);
            prop_assert!(own.body.is_empty());
        }
    }

    #[test]
    fn json_send_result_decodes_to_the_response_a_client_reads() {
        // Goal: the self-written head is a valid frame whose header a client reads as the
        // typed send response with region and trace switch. Method: encode, decode the frame.
        let result = SendResult {
            code: ResponseCode::Success,
            msg_id: MsgId::Offset {
                store_host: "10.0.0.1:10911".parse().unwrap(),
                phy_offset: 0,
            },
            queue_id: 3,
            queue_offset: 42,
            transaction_id: Some("7F000001\"UNIQ".into()),
        };
        let frame = Box::new(result.clone()).into_frame(77, SerializeType::Json).unwrap();
        let mut wire = bytes::BytesMut::from(&frame.head[..]);
        let decoded = decode_frame(&mut wire, 1 << 20).unwrap().unwrap();
        assert!(wire.is_empty());
        assert_eq!((decoded.opaque, decoded.flag, decoded.code), (77, FLAG_RESPONSE, 0));
        assert_eq!(decoded.serialize_type, SerializeType::Json);
        let header: SendMessageResponseHeader = decoded.decode_header().unwrap();
        assert_eq!(header, result.header());
        assert_eq!(header.msg_id, "0A00000100002A9F0000000000000000");
    }
}
