//! A fixed number of SEND_MESSAGE_V2 header encodes or decodes (typed header <-> JSON frame
//! head), for instruction counts under callgrind, which are repeatable on this shared VM where
//! timings swing by tens of percent:
//!
//! ```text
//! cargo build --release -p ferromq-protocol --example icount
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/icount enc 10000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/icount enc 20000
//! ```
//! The difference of the two totals divided by 10,000 is the count per operation (`enc` or `dec`).

#[path = "../benches/support/send_header.rs"]
mod send_header;

use bytes::BytesMut;
use ferromq_protocol::frame::{decode_command, encode_head};
use ferromq_protocol::header::send_message::SendMessageRequestHeaderV2;
use ferromq_protocol::{RemotingCommand, RequestCode};
use std::hint::black_box;

fn main() {
    let usage = "usage: icount enc|dec COUNT";
    let what = std::env::args().nth(1).expect(usage);
    let n: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).expect(usage);
    let header = send_header::typed_send_header();
    let mut buf = BytesMut::new();
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
