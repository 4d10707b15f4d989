use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::{decode_record, peek_record_header, MessageRecord, RecordKind};

use crate::config::FlushDiskType;
use crate::fs::sim::SimFs;
use crate::{MessageStore, MessageStoreConfig};

const SEGMENT: u64 = 80 * 1024;

fn config() -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/store");
    c.mapped_file_size_commit_log = SEGMENT;
    c.mapped_file_size_consume_queue = 200 * 20;
    c.max_message_size = 8 * 1024;
    c.max_hash_slot_num = 32;
    c.max_index_num = 400;
    c.flush_disk_type = FlushDiskType::AsyncFlush;
    // Neither background thread flushes or checkpoints on its own during the test: the test
    // drives both, so the unsynced window is exactly what it wrote after the explicit flush.
    c.flush_interval_commit_log = 600_000;
    c.flush_commit_log_thorough_interval = 600_000;
    c.flush_commit_log_least_pages = 1_000_000;
    c.flush_interval_consume_queue = 600_000;
    c
}

fn record(queue_id: i32, n: usize) -> MessageRecord {
    let body: Vec<u8> = (0..1500 + n % 700).map(|k| (n * 31 + k) as u8).collect();
    let mut r = MessageRecord::new("T", Bytes::from(body));
    r.queue_id = queue_id;
    r.properties = format!("UNIQ_KEY\u{1}R{n}\u{2}");
    r
}

/// Walks `[min, max)` of the recovered CommitLog; every record must pass its CRC and every
/// segment must end in a BLANK marker (or be the last one).
fn assert_log_is_valid(store: &MessageStore, seed: u64) {
    let (min, max) = (store.min_phy_offset(), store.max_phy_offset());
    let mut phy = min;
    while phy < max {
        let head = store.get_record_bytes(phy, 8).unwrap();
        let header = peek_record_header(&head).unwrap();
        match header.kind() {
            RecordKind::Blank => {
                phy = (phy / SEGMENT as i64 + 1) * SEGMENT as i64;
            }
            RecordKind::Message(_) => {
                let bytes = store.get_record_at(phy).unwrap();
                let rec = decode_record(&bytes, true)
                    .unwrap_or_else(|e| panic!("seed {seed}: record at {phy} below the recovered end is bad: {e}"));
                assert_eq!(rec.phy_offset, phy, "seed {seed}");
                phy += bytes.len() as i64;
            }
            other => panic!("seed {seed}: {other:?} at {phy} below the recovered end {max}"),
        }
    }
}

// Goal: a power loss around a CommitLog segment rollover, with unsynced data in the previous
// segment, never leaves a ConsumeQueue entry pointing at a torn record, and the recovered log
// is valid end to end. The dispatch thread's checkpoint runs while the CommitLog flush lags
// (ASYNC_FLUSH), so the checkpoint must not claim a dispatched offset past the flushed one.
// Method: fill part of segment 0 and flush it; write more (unsynced) into segment 0, roll over
// into segment 1; dispatch and run the dispatcher's ConsumeQueue sync + checkpoint; crash with
// 200 seeds (dropping, keeping some pages of, or tearing the unsynced writes); reopen and
// check every record below the recovered end and every ConsumeQueue entry with its CRC.
#[test]
fn power_loss_after_rollover_never_leaves_entries_into_an_unsynced_previous_segment() {
    for seed in 0..200u64 {
        let fs = SimFs::new();
        let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
        let mut n = 0usize;
        while store.max_phy_offset() < 40 * 1024 {
            store.put_message(&record((n % 3) as i32, n)).unwrap();
            n += 1;
        }
        store.checkpoint_now().unwrap();
        let flushed = store.flushed_phy_offset();
        assert!(flushed >= 40 * 1024);
        while store.max_phy_offset() < SEGMENT as i64 + 8 * 1024 {
            store.put_message(&record((n % 3) as i32, n)).unwrap();
            n += 1;
        }
        store.dispatch_now().unwrap();
        crate::dispatch::flush_and_checkpoint(&store.inner).unwrap();
        assert_eq!(
            store.flushed_phy_offset(),
            flushed,
            "the CommitLog was not flushed again"
        );

        let crashed = fs.crash(seed);
        drop(store);
        let store = MessageStore::open(config(), Arc::new(crashed.clone())).unwrap();
        assert!(store.max_phy_offset() >= flushed, "seed {seed}: flushed data lost");
        assert_log_is_valid(&store, seed);
        let mut seen: HashMap<i32, i64> = HashMap::new();
        for q in 0..3 {
            let got = store.get_messages("T", q, 0, 10_000, usize::MAX, None).unwrap();
            for (m, qo) in got.messages.iter().zip(&got.queue_offsets) {
                let rec = decode_record(m, true)
                    .unwrap_or_else(|e| panic!("seed {seed}: ConsumeQueue T/{q}@{qo} points at a bad record: {e}"));
                assert_eq!((rec.queue_id, rec.queue_offset), (q, *qo), "seed {seed}");
                assert!(rec.phy_offset < store.max_phy_offset(), "seed {seed}");
            }
            seen.insert(q, got.messages.len() as i64);
        }
        // Idempotent: a second reopen keeps the same end and queues.
        let end = store.max_phy_offset();
        let again = crashed.crash(seed + 1);
        drop(store);
        let store = MessageStore::open(config(), Arc::new(again)).unwrap();
        assert_eq!(store.max_phy_offset(), end, "seed {seed}");
        for (q, len) in seen {
            assert_eq!(store.max_offset_in_queue("T", q), len, "seed {seed}");
        }
    }
}

proptest::proptest! {
    // Goal: the recovery scan's TAGS lookup agrees with the protocol's property lookup (which
    // dispatch uses) on any properties string. Method: random strings over an alphabet dense
    // in separators and name fragments.
    #[test]
    fn fast_property_lookup_agrees_with_property_value(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("TAGS"),
                proptest::strategy::Just("TAG"),
                proptest::strategy::Just("S"),
                proptest::strategy::Just("\u{1}"),
                proptest::strategy::Just("\u{2}"),
                proptest::strategy::Just("a"),
            ],
            0..14,
        )
    ) {
        let s: String = parts.concat();
        proptest::prop_assert_eq!(
            super::property_value_fast(&s, "TAGS"),
            ferromq_protocol::message::property_value(&s, "TAGS"),
            "{:?}", s
        );
    }
}
