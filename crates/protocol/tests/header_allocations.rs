//! Allocation counts of the per-request header paths (a counting global allocator, counted
//! per thread so the test harness's own threads do not interfere). These are the numbers the
//! arena-backed `ExtFields` exists for: a header costs a fixed number of allocations whatever
//! its field count.

#[path = "../benches/support/send_header.rs"]
mod send_header;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use ferromq_protocol::command::LanguageCode;
use ferromq_protocol::frame::{decode_command, encode_head};
use ferromq_protocol::header::send_message::SendMessageRequestHeaderV2;
use ferromq_protocol::header_binary::decode_binary_header;
use ferromq_protocol::header_json::decode_json_header;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode, SerializeType};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY (test): forwards every call to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations (including reallocations) made by `f` on this thread, and its result.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

fn send_header() -> SendMessageRequestHeaderV2 {
    // 14 ext fields: the sample plus `maxReconsumeTimes`.
    SendMessageRequestHeaderV2 {
        max_reconsume_times: Some(16),
        ..send_header::typed_send_header()
    }
}

/// A SEND_MESSAGE_V2 frame (length word removed) as a Java producer would send it.
fn send_frame(serialize_type: SerializeType) -> Bytes {
    let mut cmd = RemotingCommand::request(RequestCode::SendMessageV2).with_header(&send_header());
    cmd.language = LanguageCode::Java;
    cmd.serialize_type = serialize_type;
    let mut frame = BytesMut::new();
    encode_head(&cmd, &mut frame).unwrap();
    frame.extend_from_slice(&[b'x'; 1024]);
    frame.freeze().slice(4..)
}

#[test]
fn decoding_a_send_header_allocates_twice_whatever_the_serialization() {
    // Goal: a 14-field SEND_MESSAGE_V2 header (properties with `\u0001` escapes in JSON)
    // decodes into its ext fields with two allocations (arena and spans), not one or two per
    // field; the whole frame adds one for the body's segment list. Method: count around the
    // header decoders and around decode_command, for JSON and ROCKETMQ.
    for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
        let frame = send_frame(serialize_type);
        let header_len = usize::try_from(u32::from_be_bytes(frame[..4].try_into().unwrap()) & 0xFF_FFFF).unwrap();
        let header = &frame[4..4 + header_len];
        let (n, cmd) = allocations(|| match serialize_type {
            SerializeType::Json => decode_json_header(header).unwrap(),
            SerializeType::RocketMq => decode_binary_header(header).unwrap(),
        });
        eprintln!(
            "header decode {serialize_type:?}: {n} allocations for {} fields",
            cmd.ext_fields.len()
        );
        assert_eq!(cmd.ext_fields.len(), 14);
        assert_eq!(cmd.ext_field("i"), send_header().properties.as_deref());
        assert!(n <= 2, "{serialize_type:?} header decode made {n} allocations");
        let (n, _) = allocations(|| decode_command(frame.clone()).unwrap());
        eprintln!("frame decode {serialize_type:?}: {n} allocations");
        assert!(n <= 3, "{serialize_type:?} frame decode made {n} allocations");
    }
}

#[test]
fn encoding_a_typed_request_allocates_a_fixed_few_times() {
    // Goal: building a SEND_MESSAGE_V2 request from its typed header and encoding its head
    // costs two allocations for the fields (reserved once) and one for the header bytes.
    // Method: count around with_header, then around encode_head into a reused buffer.
    let header = send_header();
    let mut buf = BytesMut::with_capacity(4096);
    for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
        let (build, mut cmd) =
            allocations(|| RemotingCommand::request(RequestCode::SendMessageV2).with_header(&header));
        cmd.serialize_type = serialize_type;
        buf.clear();
        let (encode, ()) = allocations(|| encode_head(&cmd, &mut buf).unwrap());
        eprintln!("typed request {serialize_type:?}: build {build}, encode {encode} allocations");
        assert!(build <= 2, "building the fields made {build} allocations");
        assert!(encode <= 1, "encoding the head made {encode} allocations");
    }
}

#[test]
fn typed_header_decode_allocates_only_its_owned_strings() {
    // Goal: reading the typed header from decoded fields allocates only the header's own
    // `String` fields (5 for SEND_MESSAGE_V2 here), and the response header is built with
    // two allocations. Method: count around decode_header and around a response with_header.
    let cmd = decode_command(send_frame(SerializeType::Json)).unwrap();
    let (n, header) = allocations(|| cmd.decode_header::<SendMessageRequestHeaderV2>().unwrap());
    eprintln!("typed decode: {n} allocations");
    assert_eq!(header, send_header());
    assert!(n <= 5, "typed decode made {n} allocations");
    let response_header = send_header::typed_send_response_header();
    let (n, response) =
        allocations(|| RemotingCommand::response_to(&cmd, ResponseCode::Success).with_header(&response_header));
    eprintln!("typed response build: {n} allocations");
    assert_eq!(response.ext_field("queueOffset"), Some("1000000"));
    assert!(n <= 2, "response build made {n} allocations");
}
