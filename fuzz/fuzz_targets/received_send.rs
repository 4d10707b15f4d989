//! The server reader's send decoder (`ReceivedSend::decode`, the specialised decode of a JSON
//! SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE header) on arbitrary headers, against the general
//! decode of the same frame.
//! Invariants: no panic; the send decoder takes only frames the general decoder accepts, and
//! only requests; its command (ext fields rebuilt) is the general decoder's; its typed header
//! equals the one read from the general decoder's ext fields, errors included.
#![no_main]

use bytes::Bytes;
use ferromq_protocol::frame::decode_command;
use ferromq_protocol::header::send_message::{decode_send_request_header_ref, SendMessageRequestHeaderRef};
use ferromq_protocol::ReceivedSend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 0xFF_FFFF {
        return;
    }
    let mut frame = Vec::with_capacity(data.len() + 8);
    // Serialize type JSON (0) in the top byte, the header length in the low three.
    frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
    frame.extend_from_slice(data);
    frame.extend_from_slice(b"body");
    let frame = Bytes::from(frame);
    let Some(send) = ReceivedSend::decode(&frame) else { return };
    let full = decode_command(frame).expect("the send decoder took a frame the general decoder refuses");
    assert!(!full.is_response(), "a response taken as a send request");
    assert_eq!(
        send.header().map(SendMessageRequestHeaderRef::into_owned),
        decode_send_request_header_ref(&full).map(SendMessageRequestHeaderRef::into_owned)
    );
    assert_eq!(send.into_command(), full);
});
