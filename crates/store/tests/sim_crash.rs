//! RELIABILITY.md T2: simulated power loss over `SimFs`, thousands of seeds.
//!
//! Each seed appends random records (sizes, queues, batches) through the real store with
//! SYNC_FLUSH or ASYNC_FLUSH, sometimes checkpointing, then crashes the file system with the
//! same seed (dropping or tearing unsynced writes), reopens and checks:
//! - every record acknowledged under SYNC_FLUSH is present and byte-identical;
//! - the recovered CommitLog is a prefix of what was appended (no holes, no reordering);
//! - every ConsumeQueue entry points at its record and each queue holds exactly the prefix;
//! - reopening again changes nothing (idempotent recovery); no panic.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::MessageRecord;
use ferromq_store::fs::sim::{SimFs, SimRng};
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessageStatus};

fn config(sync: bool) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/store");
    c.mapped_file_size_commit_log = 80 * 1024;
    c.mapped_file_size_consume_queue = 30 * 20;
    c.max_message_size = 8 * 1024;
    c.max_hash_slot_num = 32;
    c.max_index_num = 200;
    c.max_open_consume_queue_files = 4;
    c.flush_disk_type = if sync {
        FlushDiskType::SyncFlush
    } else {
        FlushDiskType::AsyncFlush
    };
    c.flush_interval_commit_log = 1;
    c.flush_commit_log_least_pages = 1;
    c.flush_interval_consume_queue = 3;
    c
}

struct Appended {
    phy: i64,
    bytes: Bytes,
    topic: String,
    queue_id: i32,
    acked: bool,
}

fn run_seed(seed: u64) {
    let mut rng = SimRng::new(seed);
    let sync = rng.below(4) != 0;
    let fs = SimFs::new();
    let store = MessageStore::open(config(sync), Arc::new(fs.clone())).unwrap();
    let mut appended: Vec<Appended> = Vec::new();
    let n = 1 + rng.below(40);
    for i in 0..n {
        let batch = 1 + if rng.below(5) == 0 { rng.below(4) } else { 0 };
        let topic = format!("T{}", rng.below(2));
        let queue_id = rng.below(3) as i32;
        let records: Vec<MessageRecord> = (0..batch)
            .map(|j| {
                let cap = if rng.below(8) == 0 { 7000 } else { 600 };
                let len = 1 + rng.below(cap) as usize;
                let body: Vec<u8> = (0..len)
                    .map(|k| (seed as usize + i as usize * 7 + j as usize + k) as u8)
                    .collect();
                let mut r = MessageRecord::new(topic.clone(), Bytes::from(body));
                r.queue_id = queue_id;
                r.properties = format!("UNIQ_KEY\u{1}S{seed}-{i}-{j}\u{2}");
                r
            })
            .collect();
        let put = store.put_messages(&records).unwrap();
        let acked = sync && put.wait_status() == PutMessageStatus::PutOk;
        let mut phy = put.append.phy_offset;
        for _ in 0..records.len() {
            let bytes = store.get_record_at(phy).unwrap();
            let size = bytes.len();
            appended.push(Appended {
                phy,
                bytes,
                topic: topic.clone(),
                queue_id,
                acked,
            });
            phy += size as i64;
        }
        if rng.below(10) == 0 {
            store.checkpoint_now().unwrap();
        }
    }
    if rng.below(3) == 0 {
        store.dispatch_now().unwrap();
    }
    let crashed = fs.crash(seed);
    drop(store);

    let store = MessageStore::open(config(sync), Arc::new(crashed.clone())).unwrap();
    let end = store.max_phy_offset();
    let mut per_queue: HashMap<(String, i32), i64> = HashMap::new();
    let mut hole = false;
    for a in &appended {
        let present = a.phy + a.bytes.len() as i64 <= end;
        if a.acked {
            assert!(
                present,
                "seed {seed}: acknowledged record at {} lost (end {end})",
                a.phy
            );
        }
        if !present {
            hole = true;
            continue;
        }
        assert!(!hole, "seed {seed}: record at {} present after a missing one", a.phy);
        let got = store.get_record_bytes(a.phy, a.bytes.len()).unwrap();
        assert_eq!(got, a.bytes, "seed {seed}: record at {} differs", a.phy);
        *per_queue.entry((a.topic.clone(), a.queue_id)).or_default() += 1;
    }
    assert!(
        appended.iter().any(|a| a.phy + a.bytes.len() as i64 == end) || end % (80 * 1024) == 0 || end == 0,
        "seed {seed}: recovered end {end} is not a record boundary"
    );
    store.dispatch_now().unwrap();
    let check_queues = |store: &MessageStore| {
        for t in 0..2 {
            for q in 0..3 {
                let topic = format!("T{t}");
                let expect = per_queue.get(&(topic.clone(), q)).copied().unwrap_or(0);
                assert_eq!(
                    store.max_offset_in_queue(&topic, q),
                    expect,
                    "seed {seed}: queue {topic}/{q}"
                );
                let got = store.get_messages(&topic, q, 0, 1000, usize::MAX, None).unwrap();
                assert_eq!(
                    got.messages.len() as i64,
                    expect,
                    "seed {seed}: queue {topic}/{q} entries"
                );
                let want: Vec<&Bytes> = appended
                    .iter()
                    .filter(|a| a.topic == topic && a.queue_id == q)
                    .map(|a| &a.bytes)
                    .take(expect as usize)
                    .collect();
                for (i, (g, w)) in got.messages.iter().zip(want).enumerate() {
                    assert_eq!(g, w, "seed {seed}: queue {topic}/{q} offset {i}");
                }
            }
        }
    };
    check_queues(&store);
    // Recovery is idempotent: crash again right away (nothing unsynced) and reopen.
    let again = crashed.crash(seed.wrapping_add(1));
    drop(store);
    let store = MessageStore::open(config(sync), Arc::new(again)).unwrap();
    assert_eq!(
        store.max_phy_offset(),
        end,
        "seed {seed}: second recovery moved the end"
    );
    store.dispatch_now().unwrap();
    check_queues(&store);
}

// Goal: T2 — acknowledged records survive simulated power loss and recovery yields a prefix.
// Method: 1,000 seeded runs of append / crash(seed) / recover / verify.
#[test]
fn acknowledged_records_survive_simulated_power_loss_for_1000_seeds() {
    for seed in 0..1000 {
        run_seed(seed);
    }
}
