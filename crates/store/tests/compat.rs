//! Compatibility (item 11): a store directory written by another RocketMQ broker — V1 records
//! without the `__CRC32#` property, a RocketMQ checkpoint (timestamps only), no ConsumeQueue —
//! opens: ConsumeQueue and IndexFile are rebuilt from the CommitLog and later appends continue.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::{decode_record, encode_record, patch_record, MessageRecord};
use ferromq_store::fs::sim::SimFs;
use ferromq_store::fs::Fs;
use ferromq_store::{MessageStore, MessageStoreConfig};

fn config() -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/rmq");
    c.mapped_file_size_commit_log = 80 * 1024;
    c.mapped_file_size_consume_queue = 100 * 20;
    c.max_message_size = 8 * 1024;
    c.max_hash_slot_num = 32;
    c.max_index_num = 200;
    c
}

// Goal: open a RocketMQ-written store. Method: lay out commitlog/ and checkpoint by hand with
// the protocol codec, open, pull, query by key, append, reopen.
#[test]
fn store_written_by_rocketmq_opens_and_continues() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("/rmq/commitlog")).unwrap();
    let mut log = vec![0u8; 80 * 1024];
    let mut pos = 0usize;
    for i in 0..10i64 {
        let mut r = MessageRecord::new("TopicA", Bytes::from(format!("body-{i}")));
        r.queue_id = (i % 2) as i32;
        r.properties = format!("KEYS\u{1}key{i}\u{2}TAGS\u{1}t\u{2}UNIQ_KEY\u{1}U{i}\u{2}");
        let mut buf = Vec::new();
        encode_record(&r, 4 << 20, &mut buf).unwrap();
        patch_record(&mut buf, i / 2, pos as i64, 1_700_000_000_000 + i).unwrap();
        log[pos..pos + buf.len()].copy_from_slice(&buf);
        pos += buf.len();
    }
    let f = fs.open(Path::new("/rmq/commitlog/00000000000000000000"), true).unwrap();
    f.write_at(0, &log).unwrap();
    f.sync_range(0, log.len() as u64).unwrap();
    let mut cp = vec![0u8; 4096];
    cp[0..8].copy_from_slice(&1_700_000_000_009i64.to_be_bytes());
    cp[8..16].copy_from_slice(&1_700_000_000_009i64.to_be_bytes());
    let c = fs.open(Path::new("/rmq/checkpoint"), true).unwrap();
    c.write_at(0, &cp).unwrap();
    c.sync_range(0, 4096).unwrap();

    let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
    assert_eq!(store.max_phy_offset(), pos as i64);
    assert_eq!(store.max_offset_in_queue("TopicA", 0), 5);
    let got = store.get_messages("TopicA", 1, 0, 10, usize::MAX, None).unwrap();
    assert_eq!(got.messages.len(), 5);
    assert_eq!(decode_record(&got.messages[2], true).unwrap().body.as_ref(), b"body-5");
    assert_eq!(store.query_message("TopicA", "key7", 5, 0, i64::MAX).unwrap().len(), 1);
    assert_eq!(store.query_message("TopicA", "U3", 5, 0, i64::MAX).unwrap().len(), 1);
    let put = store
        .put_message(&MessageRecord::new("TopicA", Bytes::from_static(b"ours")))
        .unwrap();
    assert_eq!(put.append.queue_offset, 5);
    drop(store);
    let store = MessageStore::open(config(), Arc::new(fs)).unwrap();
    assert_eq!(store.max_offset_in_queue("TopicA", 0), 6);
    assert_eq!(store.max_phy_offset(), put.append.end_offset() as i64);
}
