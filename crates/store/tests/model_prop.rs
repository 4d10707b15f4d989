//! Property test: random append / read / cut / flip / reopen sequences against an in-memory
//! model. After a cut or a byte flip inside record k, recovery must keep exactly records 0..k
//! (the longest valid prefix), with dense queue offsets, and reads must match the model.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::{decode_record, MessageRecord};
use ferromq_store::fs::sim::SimFs;
use ferromq_store::fs::Fs;
use ferromq_store::{MessageStore, MessageStoreConfig};
use proptest::prelude::*;

const SEG: u64 = 80 * 1024;

fn config() -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/store");
    c.mapped_file_size_commit_log = SEG;
    c.mapped_file_size_consume_queue = 10 * 20;
    c.max_message_size = 8 * 1024;
    c.max_hash_slot_num = 16;
    c.max_index_num = 100;
    c.max_open_consume_queue_files = 3;
    c
}

#[derive(Debug, Clone)]
enum Op {
    Append { queue: i32, len: usize, fill: u8 },
    Read { queue: i32, from: usize, count: usize },
    Cut { at: usize },
    Flip { at: usize, byte: usize },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3i32, 1..3000usize, any::<u8>()).prop_map(|(queue, len, fill)| Op::Append { queue, len, fill }),
        2 => (0..3i32, 0..40usize, 1..20usize).prop_map(|(queue, from, count)| Op::Read { queue, from, count }),
        1 => any::<usize>().prop_map(|at| Op::Cut { at }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(at, byte)| Op::Flip { at, byte }),
        1 => Just(Op::Reopen),
    ]
}

struct Rec {
    queue: i32,
    body: Vec<u8>,
    phy: i64,
    len: usize,
}

fn damage(fs: &SimFs, phy: i64, edit: impl FnOnce(&mut Vec<u8>, usize)) {
    let dir = PathBuf::from("/store/commitlog");
    for name in fs.list_dir(&dir).unwrap() {
        let start: u64 = name.parse().unwrap();
        let path = dir.join(&name);
        if start > phy as u64 {
            fs.remove_file(&path).unwrap();
        }
    }
    let seg_start = phy as u64 / SEG * SEG;
    fs.tamper(&dir.join(format!("{seg_start:020}")), |b| {
        edit(b, (phy as u64 - seg_start) as usize)
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    // Goal: the store agrees with a model under random appends, reads, cuts, flips and reopens.
    #[test]
    fn store_matches_model_under_random_operations(ops in proptest::collection::vec(op(), 1..40)) {
        let fs = SimFs::new();
        let mut store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
        let mut model: Vec<Rec> = Vec::new();
        for op in ops {
            match op {
                Op::Append { queue, len, fill } => {
                    let mut r = MessageRecord::new("T", Bytes::from(vec![fill; len]));
                    r.queue_id = queue;
                    let put = store.put_message(&r).unwrap();
                    let expect_qo = model.iter().filter(|m| m.queue == queue).count() as i64;
                    prop_assert_eq!(put.append.queue_offset, expect_qo);
                    model.push(Rec { queue, body: vec![fill; len], phy: put.append.phy_offset, len: put.append.wrote_bytes });
                }
                Op::Read { queue, from, count } => {
                    store.dispatch_now().unwrap();
                    let want: Vec<&Rec> = model.iter().filter(|m| m.queue == queue).skip(from).take(count).collect();
                    let got = store.get_messages("T", queue, from as i64, count, usize::MAX, None).unwrap();
                    prop_assert_eq!(got.messages.len(), want.len());
                    for (g, w) in got.messages.iter().zip(want) {
                        let rec = decode_record(g, true).unwrap();
                        prop_assert_eq!(rec.body.as_ref(), &w.body[..]);
                        prop_assert_eq!(rec.phy_offset, w.phy);
                    }
                }
                Op::Cut { at } | Op::Flip { at, .. } if model.is_empty() => { let _ = at; }
                Op::Cut { at } => {
                    let k = at % model.len();
                    store.shutdown().unwrap();
                    drop(store);
                    damage(&fs, model[k].phy, |b, pos| b[pos..].iter_mut().for_each(|x| *x = 0));
                    model.truncate(k);
                    store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
                }
                Op::Flip { at, byte } => {
                    let k = at % model.len();
                    let (phy, len) = (model[k].phy, model[k].len);
                    store.shutdown().unwrap();
                    drop(store);
                    let dir = PathBuf::from("/store/commitlog");
                    let seg_start = phy as u64 / SEG * SEG;
                    fs.tamper(&dir.join(format!("{seg_start:020}")), |b| {
                        let pos = (phy as u64 - seg_start) as usize + byte % len;
                        b[pos] ^= 0x5A;
                    });
                    // Records after the flipped one are cut with it (longest valid prefix).
                    model.truncate(k);
                    store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
                }
                Op::Reopen => {
                    store.shutdown().unwrap();
                    drop(store);
                    store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
                }
            }
            let end = model.last().map(|m| m.phy + m.len as i64);
            if let Some(end) = end {
                prop_assert_eq!(store.max_phy_offset(), end);
            }
            store.dispatch_now().unwrap();
            for q in 0..3 {
                let n = model.iter().filter(|m| m.queue == q).count() as i64;
                prop_assert_eq!(store.max_offset_in_queue("T", q), n);
            }
        }
    }
}
