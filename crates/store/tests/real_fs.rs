//! The real file system path (mmap writes, `Bytes` views, msync) end to end: SYNC_FLUSH puts
//! across segment boundaries, reads, a clean restart and an unclean one (no shutdown, abort
//! marker left), each followed by full verification.

use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::{decode_record, MessageRecord};
use ferromq_store::fs::real::RealFs;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessageStatus};

fn config(root: &std::path::Path) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = 128 * 1024;
    c.mapped_file_size_consume_queue = 50 * 20;
    c.max_message_size = 16 * 1024;
    c.max_hash_slot_num = 64;
    c.max_index_num = 1000;
    c.flush_disk_type = FlushDiskType::SyncFlush;
    // This test is about the mmap path, not retention: keep the host disk's fill level (which
    // other work on the machine changes) from triggering forced segment deletion mid-test.
    c.disk_max_used_space_ratio = 95;
    c.disk_space_clean_forcibly_ratio = 0.99;
    c.disk_space_warning_level_ratio = 0.99;
    c
}

fn verify(store: &MessageStore, n: usize) {
    store.dispatch_now().unwrap();
    assert_eq!(store.max_offset_in_queue("T", 0), n as i64);
    let mut off = 0;
    let mut i = 0usize;
    while off < n as i64 {
        let got = store.get_messages("T", 0, off, 32, usize::MAX, None).unwrap();
        for m in &got.messages {
            let rec = decode_record(m, true).unwrap();
            assert_eq!(rec.body.as_ref(), format!("message-{i}").repeat(20).as_bytes());
            i += 1;
        }
        off = got.next_begin_offset;
    }
    assert_eq!(i, n);
}

// Goal: the mmap-backed store stores, serves, and recovers after clean and unclean stops.
#[test]
fn real_fs_store_survives_clean_and_unclean_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(RealFs::new());
    let store = MessageStore::open(config(dir.path()), fs.clone()).unwrap();
    let mut views = Vec::new();
    for i in 0..600 {
        let r = MessageRecord::new("T", Bytes::from(format!("message-{i}").repeat(20)));
        let put = store.put_message(&r).unwrap();
        assert_eq!(put.wait_status(), PutMessageStatus::PutOk);
        if i % 100 == 0 {
            views.push((
                put.append.phy_offset,
                store.get_record_at(put.append.phy_offset).unwrap(),
            ));
        }
    }
    verify(&store, 600);
    store.shutdown().unwrap();
    drop(store);
    // Views handed out earlier stay valid after the store is gone (they own the mapping).
    for (phy, v) in &views {
        assert_eq!(decode_record(v, true).unwrap().phy_offset, *phy);
    }
    let store = MessageStore::open(config(dir.path()), fs.clone()).unwrap();
    verify(&store, 600);
    for i in 600..700 {
        let r = MessageRecord::new("T", Bytes::from(format!("message-{i}").repeat(20)));
        assert_eq!(store.put_message(&r).unwrap().wait_status(), PutMessageStatus::PutOk);
    }
    // Unclean stop: threads halted, no final flush, checkpoint or abort removal.
    store.halt();
    drop(store); // halt() already stopped everything; drop does no shutdown work
    assert!(dir.path().join("abort").exists());
    let store = MessageStore::open(config(dir.path()), fs).unwrap();
    verify(&store, 700);
}
