//! A fixed number of SEND_MESSAGE_V2 header encodes or decodes (typed header <-> JSON frame
//! head), for instruction counts under callgrind, which are repeatable on this shared VM where
//! timings swing by tens of percent:
//!
//! ```text
//! cargo build --release -p ferromq-protocol --example icount
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/icount enc 10000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/icount enc 20000
//! ```
//! The difference of the two totals divided by 10,000 is the count per operation (`enc` or
//! `dec`; `resp-dec` / `resp-scan`: a SEND response as a broker writes it, decoded and read
//! through `FieldReader`, or scanned and read with `ReceivedCommand::ext_fields_of`; `dec-send`:
//! the send decoder, `ReceivedSend::decode` plus its typed header).

#[path = "../benches/support/send_header.rs"]
mod send_header;

use bytes::BytesMut;
use ferromq_protocol::frame::{decode_command, encode_head};
use ferromq_protocol::header::send_message::SendMessageRequestHeaderV2;
use ferromq_protocol::header::send_message::SendMessageResponseHeader;
use ferromq_protocol::header::FieldReader;
use ferromq_protocol::{ReceivedCommand, RemotingCommand, RequestCode, ResponseCode};
use std::hint::black_box;

fn main() {
    let usage = "usage: icount enc|dec COUNT";
    let what = std::env::args().nth(1).expect(usage);
    let n: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).expect(usage);
    let header = send_header::typed_send_header();
    let mut buf = BytesMut::new();
    if what.starts_with("resp-") {
        let response = send_response();
        encode_head(&response, &mut buf).unwrap();
        let frame = buf.freeze();
        for _ in 0..n {
            if what == "resp-dec" {
                let cmd = decode_command(black_box(frame.slice(4..))).unwrap();
                let fields = FieldReader::new(&cmd.ext_fields);
                black_box((fields.opt_str("MSG_REGION"), fields.opt_str("batchUniqId")));
                black_box((
                    fields.str("msgId").ok(),
                    fields.i32("queueId").ok(),
                    fields.i64("queueOffset").ok(),
                ));
                black_box(fields.opt_str("transactionId"));
            } else {
                let received = ReceivedCommand::decode(black_box(frame.slice(4..)), true).unwrap();
                assert!(received.is_scanned());
                let values = received.ext_fields_of([
                    "MSG_REGION",
                    "batchUniqId",
                    "msgId",
                    "queueId",
                    "queueOffset",
                    "transactionId",
                ]);
                black_box(values.map(|v| v.map(|v| v.into_owned())));
            }
        }
        return;
    }
    if what == "dec-send" {
        let cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(&header);
        encode_head(&cmd, &mut buf).unwrap();
        let frame = buf.freeze().slice(4..);
        for _ in 0..n {
            let send = ferromq_protocol::ReceivedSend::decode(black_box(&frame)).unwrap();
            black_box(send.header().unwrap());
        }
        return;
    }
    if what == "req-scan" || what == "dec-ref" {
        let cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(&header);
        encode_head(&cmd, &mut buf).unwrap();
        let frame = buf.freeze();
        for _ in 0..n {
            if what == "dec-ref" {
                let cmd = decode_command(black_box(frame.slice(4..))).unwrap();
                let h = ferromq_protocol::header::send_message::decode_send_request_header_ref(&cmd).unwrap();
                black_box(h);
            } else {
                let received = ReceivedCommand::decode(black_box(frame.slice(4..)), true).unwrap();
                assert!(received.is_scanned());
                let mut slots: [Option<std::borrow::Cow<'_, str>>; 14] = Default::default();
                for (k, v) in received.raw_ext_fields().unwrap() {
                    let Some(v) = v else { continue };
                    let kb = k.decode();
                    if let [l @ b'a'..=b'n'] = kb.as_bytes() {
                        slots[usize::from(l - b'a')] = Some(v.decode());
                    }
                }
                black_box(&slots);
                let q: i32 = slots[4].as_deref().unwrap().parse().unwrap();
                let b: i64 = slots[6].as_deref().unwrap().parse().unwrap();
                black_box((q, b));
            }
        }
        return;
    }
    if what == "enc" {
        for _ in 0..n {
            let cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(black_box(&header));
            buf.clear();
            encode_head(&cmd, &mut buf).unwrap();
            black_box(buf.len());
        }
    } else {
        let cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(&header);
        encode_head(&cmd, &mut buf).unwrap();
        let frame = buf.freeze();
        for _ in 0..n {
            let cmd = decode_command(frame.slice(4..)).unwrap();
            black_box(cmd.decode_header::<SendMessageRequestHeaderV2>().unwrap());
        }
    }
}

/// A SEND_MESSAGE_V2 response with the fields a broker answers.
fn send_response() -> RemotingCommand {
    let header = SendMessageResponseHeader {
        msg_id: "7F000001000078BF00000000000059F4".to_owned(),
        queue_id: 3,
        queue_offset: 4,
        transaction_id: Some("7F0000014957424F1E786B50C63D0013".to_owned()),
        batch_uniq_id: None,
        recall_handle: None,
        delay_time: None,
        msg_region: Some("DefaultRegion".to_owned()),
        trace_on: Some(true),
    };
    let request = RemotingCommand::request(RequestCode::SendMessageV2).with_opaque(22);
    RemotingCommand::response_to(&request, ResponseCode::Success).with_header(&header)
}
