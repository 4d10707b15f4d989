//! Responses that encode their own frame head ([`OutgoingResponse`]): the dispatcher gives them
//! the request's opaque and serialize type, they reach the peer as written, and a oneway
//! request still gets nothing.

mod common;

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use common::*;
use ferromq_protocol::command::FLAG_RESPONSE;
use ferromq_protocol::frame::encode_head_bytes;
use ferromq_protocol::{Body, CodecError, RemotingCommand, ResponseCode, SerializeType};
use ferromq_remoting::{Dispatcher, FnProcessor, OutgoingResponse, Response, ResponseFrame};
use tokio::sync::mpsc;

const ENCODED: i32 = 1100;

/// A response that writes its head itself and reports what the dispatcher gave it.
struct Tagged {
    value: String,
    body: Bytes,
    given: mpsc::UnboundedSender<(i32, SerializeType)>,
}

impl OutgoingResponse for Tagged {
    fn code(&self) -> i32 {
        ResponseCode::Success.as_i32()
    }

    fn into_frame(self: Box<Self>, opaque: i32, serialize_type: SerializeType) -> Result<ResponseFrame, CodecError> {
        let _ = self.given.send((opaque, serialize_type));
        let mut command = RemotingCommand::request_code(self.code());
        command.put_ext_field("value", &self.value);
        command.opaque = opaque;
        command.flag = FLAG_RESPONSE;
        command.serialize_type = serialize_type;
        let body = Body::from(self.body);
        command.body = body.clone();
        Ok(ResponseFrame {
            head: encode_head_bytes(&command)?,
            body,
        })
    }
}

/// A dispatcher with ECHO and ENCODED (answers a [`Tagged`] echoing the request's `value`
/// and body); the receiver reports each (opaque, serialize type) a response was given.
fn encoded_dispatcher() -> (Dispatcher, mpsc::UnboundedReceiver<(i32, SerializeType)>) {
    let mut dispatcher = echo_dispatcher();
    let (given_tx, given_rx) = mpsc::unbounded_channel();
    let processor = FnProcessor::new(move |_ctx, request: RemotingCommand| {
        let given = given_tx.clone();
        async move {
            let tagged = Tagged {
                value: request.ext_field("value").unwrap_or_default().to_owned(),
                body: request.body.to_bytes(),
                given,
            };
            Some(Response::Encoded(Box::new(tagged)))
        }
    });
    dispatcher.register(ENCODED, Arc::new(processor));
    (dispatcher, given_rx)
}

// Goal: a response that encodes itself is given its request's opaque and serialize type and
// arrives as written, in both header serializations. Method: raw socket sends ENCODED with
// chosen opaques as JSON and ROCKETMQ; check what the response was given and the frames that
// come back (opaque, response flag, serialization, value, body).
#[tokio::test]
async fn encoded_response_gets_the_request_opaque_and_serialize_type() -> anyhow::Result<()> {
    let (dispatcher, mut given) = encoded_dispatcher();
    let server = start_server(local_config(), dispatcher).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    for (opaque, serialize_type) in [(7, SerializeType::Json), (-9, SerializeType::RocketMq)] {
        let mut request = RemotingCommand::request_code(ENCODED)
            .with_opaque(opaque)
            .with_body(Bytes::from_static(b"payload"));
        request.put_ext_field("value", format!("v{opaque}"));
        request.serialize_type = serialize_type;
        peer.send(&request).await?;
        let response = peer.recv().await?.context("closed instead of answering")?;
        assert_eq!(given.recv().await, Some((opaque, serialize_type)));
        assert_eq!(response.opaque, opaque);
        assert!(response.is_response() && !response.is_oneway());
        assert_eq!(response.serialize_type, serialize_type);
        assert_eq!(response.ext_field("value"), Some(format!("v{opaque}").as_str()));
        assert_eq!(response.body.to_bytes(), Bytes::from_static(b"payload"));
    }
    server.stop().await
}

// Goal: a oneway request is never answered even when its processor returns a response that
// encodes itself, and that response is never asked to encode. Method: raw socket sends a
// oneway ENCODED, then an ECHO and an ENCODED; the next two frames must be exactly their
// responses and the only encoding asked for is the second ENCODED's.
#[tokio::test]
async fn oneway_request_is_not_answered_by_an_encoded_response() -> anyhow::Result<()> {
    let (dispatcher, mut given) = encoded_dispatcher();
    let server = start_server(local_config(), dispatcher).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    let mut oneway = RemotingCommand::request_code(ENCODED).with_opaque(1);
    oneway.set_oneway();
    peer.send(&oneway).await?;
    assert_eq!(peer.echo(2).await?.opaque, 2);
    peer.send(&RemotingCommand::request_code(ENCODED).with_opaque(3))
        .await?;
    let response = peer.recv().await?.context("closed instead of answering")?;
    assert_eq!(response.opaque, 3);
    assert_eq!(given.recv().await, Some((3, SerializeType::Json)));
    assert!(given.try_recv().is_err(), "the oneway request's response was encoded");
    server.stop().await
}
