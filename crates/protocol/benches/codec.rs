//! Criterion benches for the header codecs — one SEND_MESSAGE_V2 request header (13 ext fields,
//! as a Java producer sends it) encoded and decoded with JSON and ROCKETMQ serialization — and
//! for the stored message record (1 KiB body, three properties) encoded and decoded. The
//! `typed_*` benches add the typed-header step on each side: a producer building the request
//! from a `SendMessageRequestHeaderV2` and encoding it, a broker decoding the frame and then the
//! typed header, and the broker building and encoding its `SendMessageResponseHeader`.
//! Run: `cargo bench -p ferromq-protocol --bench codec`. With `FERROMQ_BENCH_CPU_TIME=1` the
//! benches measure the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) instead of wall
//! time, which other load on the machine inflates much less.

use bytes::{Bytes, BytesMut};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{black_box, Criterion, Throughput};
#[path = "support/send_header.rs"]
mod send_header;
use send_header::typed_send_header;

use ferromq_protocol::command::LanguageCode;
use ferromq_protocol::frame::{decode_command, decode_frame, encode_head, MAX_FRAME_BYTES};
use ferromq_protocol::header::send_message::SendMessageRequestHeaderV2;
use ferromq_protocol::message::{decode_record, encode_record, MessageRecord, DEFAULT_MAX_MESSAGE_BYTES};
use ferromq_protocol::{RemotingCommand, RequestCode, SerializeType};

fn send_v2_request(serialize_type: SerializeType) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_opaque(123_456);
    cmd.language = LanguageCode::Java;
    cmd.serialize_type = serialize_type;
    let props = "UNIQ_KEY\u{1}7F0000010B7C18B4AAC27E3A16C80000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}";
    for (k, v) in [
        ("a", "please_rename_unique_group_name"),
        ("b", "TopicTest"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "3"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("i", props),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        ("n", "broker-a"),
    ] {
        cmd.put_ext_field(k, v);
    }
    cmd.with_body(vec![b'x'; 1024])
}

fn bench_headers<M: Measurement + 'static>(c: &mut Criterion<M>) {
    for (name, st) in [("json", SerializeType::Json), ("rocketmq", SerializeType::RocketMq)] {
        let cmd = send_v2_request(st);
        let mut buf = BytesMut::with_capacity(4096);
        c.bench_function(&format!("header_encode_{name}"), |b| {
            b.iter(|| {
                buf.clear();
                encode_head(black_box(&cmd), &mut buf).unwrap();
                black_box(buf.len())
            })
        });
        let mut frame = BytesMut::new();
        encode_head(&cmd, &mut frame).unwrap();
        frame.extend_from_slice(&cmd.body.to_bytes());
        let frame = frame.freeze();
        let check = decode_frame(&mut BytesMut::from(&frame[..]), MAX_FRAME_BYTES)
            .unwrap()
            .unwrap();
        assert_eq!(check, cmd);
        c.bench_function(&format!("frame_decode_{name}"), |b| {
            // decode_command takes the frame after its length word, zero-copy.
            b.iter(|| black_box(decode_command(frame.slice(4..)).unwrap()))
        });
    }
}

fn bench_typed<M: Measurement + 'static>(c: &mut Criterion<M>) {
    for (name, st) in [("json", SerializeType::Json), ("rocketmq", SerializeType::RocketMq)] {
        let header = typed_send_header();
        let mut buf = BytesMut::with_capacity(4096);
        c.bench_function(&format!("typed_request_encode_{name}"), |b| {
            b.iter(|| {
                let mut cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(black_box(&header));
                cmd.serialize_type = st;
                buf.clear();
                encode_head(&cmd, &mut buf).unwrap();
                black_box(buf.len())
            })
        });
        let mut cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(&header);
        cmd.serialize_type = st;
        let mut frame = BytesMut::new();
        encode_head(&cmd, &mut frame).unwrap();
        let frame = frame.freeze();
        let decoded = decode_command(frame.slice(4..)).unwrap();
        assert_eq!(decoded.decode_header::<SendMessageRequestHeaderV2>().unwrap(), header);
        c.bench_function(&format!("typed_request_decode_{name}"), |b| {
            b.iter(|| {
                let cmd = decode_command(frame.slice(4..)).unwrap();
                black_box(cmd.decode_header::<SendMessageRequestHeaderV2>().unwrap())
            })
        });
        let response_header = send_header::typed_send_response_header();
        c.bench_function(&format!("typed_response_encode_{name}"), |b| {
            b.iter(|| {
                let response = RemotingCommand::response_to(&decoded, ferromq_protocol::ResponseCode::Success)
                    .with_header(black_box(&response_header));
                buf.clear();
                encode_head(&response, &mut buf).unwrap();
                black_box(buf.len())
            })
        });
    }
}

fn sample_record() -> MessageRecord {
    let mut record = MessageRecord::new("TopicTest", Bytes::from(vec![b'x'; 1024]));
    record.queue_id = 3;
    record.queue_offset = 1_000_000;
    record.phy_offset = 1_073_741_824;
    record.born_timestamp = 1_700_000_000_000;
    record.store_timestamp = 1_700_000_000_001;
    record.born_host = "127.0.0.1:50000".parse().unwrap();
    record.store_host = "10.0.0.1:10911".parse().unwrap();
    record.properties = "UNIQ_KEY\u{1}7F0000010B7C18B4AAC27E3A16C80000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}".into();
    record
}

fn bench_records<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let record = sample_record();
    let mut buf = BytesMut::with_capacity(4096);
    c.bench_function("record_encode_1k", |b| {
        b.iter(|| {
            buf.clear();
            black_box(encode_record(black_box(&record), DEFAULT_MAX_MESSAGE_BYTES, &mut buf).unwrap())
        })
    });
    let mut encoded = BytesMut::new();
    encode_record(&record, DEFAULT_MAX_MESSAGE_BYTES, &mut encoded).unwrap();
    let encoded = encoded.freeze();
    assert_eq!(decode_record(&encoded, true).unwrap(), {
        let mut r = record.clone();
        r.body_crc = decode_record(&encoded, false).unwrap().body_crc;
        r
    });
    c.bench_function("record_decode_1k_crc", |b| {
        b.iter(|| black_box(decode_record(black_box(&encoded), true).unwrap()))
    });
    c.bench_function("record_decode_1k_nocrc", |b| {
        b.iter(|| black_box(decode_record(black_box(&encoded), false).unwrap()))
    });
}

/// CPU time of the calling thread (the bench loop runs on it), as a criterion measurement.
struct ThreadCpuTime;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY (bench): `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

/// Formats CPU nanoseconds like criterion's wall-time formatter, with a `cpu` marker.
struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e-3, "µs cpu"),
            t if t < 1e9 => (1e-6, "ms cpu"),
            _ => (1e-9, "s cpu"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => *n as f64,
        };
        values.iter_mut().for_each(|v| *v = per * 1e9 / *v);
        "per cpu second"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns cpu"
    }
}

fn run<M: Measurement + 'static>(mut c: Criterion<M>) {
    bench_headers(&mut c);
    bench_typed(&mut c);
    bench_records(&mut c);
    c.final_summary();
}

fn main() {
    if std::env::var_os("FERROMQ_BENCH_CPU_TIME").is_some() {
        run(Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args());
    } else {
        run(Criterion::default().configure_from_args());
    }
}
