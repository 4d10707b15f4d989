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

use bytes::BytesMut;
use ferromq_protocol::frame::{decode_command, encode_head};
use ferromq_protocol::header::send_message::SendMessageRequestHeaderV2;
use ferromq_protocol::{RemotingCommand, RequestCode};
use std::hint::black_box;

fn main() {
    let usage = "usage: icount enc|dec COUNT";
    let what = std::env::args().nth(1).expect(usage);
    let n: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).expect(usage);
    let header = SendMessageRequestHeaderV2 {
        producer_group: "please_rename_unique_group_name".into(),
        topic: "TopicTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(
            "UNIQ_KEY\u{1}7F0000010B7C18B4AAC27E3A16C80000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}".into(),
        ),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    };
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
