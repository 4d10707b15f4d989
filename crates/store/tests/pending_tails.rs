//! ConsumeQueue entries pending in memory (coalesced tails) through the whole store, over
//! `SimFs`: the checkpoint never covers them, a power loss with pending entries loses none
//! (recovery re-dispatches them), and idleness and shutdown write them out.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferromq_protocol::message::MessageRecord;
use ferromq_store::checkpoint::{CheckpointData, CheckpointState, StoreCheckpoint};
use ferromq_store::fs::sim::SimFs;
use ferromq_store::fs::Fs;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig};

fn config() -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/store");
    c.mapped_file_size_commit_log = 1 << 20;
    c.max_message_size = 8 * 1024;
    c.mapped_file_size_consume_queue = 100 * 20;
    c.max_hash_slot_num = 64;
    c.max_index_num = 4000;
    c.max_open_consume_queue_files = 8;
    c.flush_disk_type = FlushDiskType::AsyncFlush;
    c.flush_interval_commit_log = 1;
    c.flush_commit_log_least_pages = 1;
    c.flush_commit_log_thorough_interval = 1;
    c.flush_interval_consume_queue = 1;
    c
}

fn msg(topic: &str, queue_id: i32, i: usize) -> MessageRecord {
    let mut r = MessageRecord::new(topic, Bytes::from(format!("body {topic}/{queue_id} {i}")));
    r.queue_id = queue_id;
    r
}

fn checkpoint(fs: &SimFs) -> Option<CheckpointData> {
    match StoreCheckpoint::open(fs, Path::new("/store/checkpoint")).ok()?.loaded() {
        CheckpointState::Valid(cp) => Some(cp),
        _ => None,
    }
}

/// Polls `cond` until it holds (10 s at most).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// Goal: a periodic checkpoint stops its dispatched offset at the oldest entry still pending in
// memory, and a power loss with pending entries loses none of them: recovery re-dispatches
// them from the CommitLog. Method: 64 messages to one queue in one put (its tail fills and is
// written), then one message to each of 300 queues (they stay pending); wait until a
// checkpoint records them as flushed; check its dispatched offset; crash the file system
// (unsynced writes dropped) and reopen.
#[test]
fn checkpoint_stops_at_the_oldest_pending_entry_and_a_crash_loses_none() {
    let fs = SimFs::new();
    let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
    let hot: Vec<MessageRecord> = (0..64).map(|i| msg("Hot", 0, i)).collect();
    store.put_messages(&hot).unwrap();
    store.dispatch_now().unwrap();
    assert_eq!(store.pending_consume_queue_bytes(), 0, "the full tail was written");
    let first_pending = store.max_phy_offset();
    for q in 0..300 {
        store.put_message(&msg("Many", q, 0)).unwrap();
    }
    store.dispatch_now().unwrap();
    assert_eq!(store.pending_consume_queue_bytes(), 300 * 20);
    let many_end = store.max_phy_offset();
    // Keep the store busy (one more message to the hot queue per poll), so it never counts as
    // idle and drains its tails: the 300 tails stay the oldest pending ones.
    let mut ticks = 0;
    wait_until("a checkpoint after the flush", || {
        store.put_message(&msg("Hot", 0, 64 + ticks)).unwrap();
        ticks += 1;
        checkpoint(&fs).is_some_and(|cp| cp.physic_flushed_offset >= many_end)
    });
    let cp = checkpoint(&fs).unwrap();
    assert_eq!(
        cp.dispatched_phy_offset, first_pending,
        "stops at the oldest pending entry"
    );
    assert!(store.pending_consume_queue_bytes() >= 300 * 20);
    store.dispatch_now().unwrap();
    let end = store.max_phy_offset();

    let crashed = fs.crash(7);
    drop(store);
    let store = MessageStore::open(config(), Arc::new(crashed)).unwrap();
    assert!(store.max_phy_offset() >= many_end && store.max_phy_offset() <= end);
    store.dispatch_now().unwrap();
    assert!(store.max_offset_in_queue("Hot", 0) >= 64);
    for q in 0..300 {
        let got = store.get_messages("Many", q, 0, 10, usize::MAX, None).unwrap();
        assert_eq!(got.messages.len(), 1, "queue {q}");
        assert_eq!(store.max_offset_in_queue("Many", q), 1);
    }
    let next = store.put_message(&msg("Many", 5, 1)).unwrap();
    assert_eq!(next.append.queue_offset, 1, "queue offsets continue after recovery");
}

// Goal: once dispatch has been idle for a moment every pending tail is written, so the next
// checkpoint covers everything dispatched. Method: one message to each of 50 queues, then wait
// (on observable state) for no pending bytes and a checkpoint at the end of the CommitLog.
#[test]
fn idle_store_writes_pending_tails_and_checkpoints_everything() {
    let fs = SimFs::new();
    let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
    for q in 0..50 {
        store.put_message(&msg("T", q, 0)).unwrap();
    }
    store.dispatch_now().unwrap();
    let end = store.max_phy_offset();
    wait_until("pending tails written", || store.pending_consume_queue_bytes() == 0);
    wait_until("a checkpoint covering everything", || {
        checkpoint(&fs).is_some_and(|cp| cp.dispatched_phy_offset == end)
    });
    // Power loss right now: nothing needs re-dispatching, every queue is on disk.
    let crashed = fs.crash(3);
    drop(store);
    assert!(crashed.exists(Path::new("/store/consumequeue/T/49/00000000000000000000")));
    let store = MessageStore::open(config(), Arc::new(crashed)).unwrap();
    for q in 0..50 {
        assert_eq!(store.max_offset_in_queue("T", q), 1, "queue {q}");
    }
}

// Goal: a clean shutdown writes every pending tail and checkpoints the end of the CommitLog.
// Method: pending entries in 20 queues, shutdown, read the checkpoint, crash the file system
// (nothing unsynced should remain) and reopen.
#[test]
fn shutdown_writes_pending_tails() {
    let fs = SimFs::new();
    let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
    for i in 0..3 {
        for q in 0..20 {
            store.put_message(&msg("T", q, i)).unwrap();
        }
    }
    store.dispatch_now().unwrap();
    assert!(store.pending_consume_queue_bytes() > 0);
    let end = store.max_phy_offset();
    store.shutdown().unwrap();
    assert_eq!(store.pending_consume_queue_bytes(), 0);
    assert_eq!(checkpoint(&fs).map(|cp| cp.dispatched_phy_offset), Some(end));
    drop(store);
    let store = MessageStore::open(config(), Arc::new(fs.crash(11))).unwrap();
    for q in 0..20 {
        let got = store.get_messages("T", q, 0, 10, usize::MAX, None).unwrap();
        assert_eq!(got.messages.len(), 3, "queue {q}");
    }
}
