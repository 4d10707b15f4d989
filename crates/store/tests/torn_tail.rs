//! RELIABILITY.md T3: torn, truncated or corrupted tails, one case per test, over `SimFs`.
//!
//! Each test writes 20 acknowledged SYNC_FLUSH messages, stops the store (cleanly or not),
//! damages the store directory, reopens, and checks: the store opens; the CommitLog ends at the
//! last record that passes validation; every message before the cut is pulled intact (CRC
//! checked); nothing past it is served; a second reopen changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::{decode_record, MessageRecord};
use ferromq_store::fs::sim::SimFs;
use ferromq_store::fs::Fs;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessageStatus};

const CL: &str = "/store/commitlog/00000000000000000000";
const CQ: &str = "/store/consumequeue/T/0/00000000000000000000";

fn config() -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/store");
    c.mapped_file_size_commit_log = 80 * 1024;
    c.mapped_file_size_consume_queue = 100 * 20;
    c.max_message_size = 8 * 1024;
    c.max_hash_slot_num = 32;
    c.max_index_num = 200;
    c.flush_disk_type = FlushDiskType::SyncFlush;
    c
}

struct Written {
    fs: SimFs,
    records: Vec<(i64, usize)>,
}

fn write(clean: bool) -> Written {
    let fs = SimFs::new();
    let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
    let mut records = Vec::new();
    for i in 0..20u8 {
        let mut r = MessageRecord::new("T", Bytes::from(vec![i; 100 + usize::from(i)]));
        r.properties = format!("KEYS\u{1}k{i}\u{2}");
        let put = store.put_message(&r).unwrap();
        assert_eq!(put.wait_status(), PutMessageStatus::PutOk);
        records.push((put.append.phy_offset, put.append.wrote_bytes));
    }
    store.dispatch_now().unwrap();
    let fs = if clean {
        store.shutdown().unwrap();
        drop(store);
        fs
    } else {
        let crashed = fs.crash(0);
        drop(store);
        crashed
    };
    Written { fs, records }
}

/// Reopens, checks the store holds exactly the first `keep` records, twice.
fn check(fs: &SimFs, w: &Written, keep: usize) {
    for round in 0..2 {
        let store = MessageStore::open(config(), Arc::new(fs.clone())).unwrap();
        let end = w.records.get(keep.wrapping_sub(1)).map_or(0, |(p, l)| p + *l as i64);
        assert_eq!(store.max_phy_offset(), end, "round {round}: end of log");
        assert_eq!(
            store.max_offset_in_queue("T", 0),
            keep as i64,
            "round {round}: queue length"
        );
        let got = store.get_messages("T", 0, 0, 100, usize::MAX, None).unwrap();
        assert_eq!(got.messages.len(), keep);
        for (i, m) in got.messages.iter().enumerate() {
            let rec = decode_record(m, true).unwrap();
            assert_eq!(
                rec.body.as_ref(),
                &vec![i as u8; 100 + i][..],
                "round {round}: message {i}"
            );
        }
        assert_eq!(
            store.query_message("T", "k19", 10, 0, i64::MAX).unwrap().len(),
            usize::from(keep == 20)
        );
        // New appends continue right after the cut with the next queue offset (first round only).
        if round == 0 && keep < 20 {
            store.shutdown().unwrap();
        }
    }
}

fn last(w: &Written) -> (usize, usize) {
    let (p, l) = *w.records.last().unwrap();
    (p as usize, l)
}

// Goal: case 1 — the file is cut inside the last record.
#[test]
fn truncated_last_record_is_cut_to_the_previous_record() {
    for clean in [true, false] {
        let w = write(clean);
        let (p, l) = last(&w);
        w.fs.tamper(Path::new(CL), |b| b.truncate(p + l / 2));
        check(&w.fs, &w, 19);
    }
}

// Goal: case 2 — the last k bytes of the last record read back as zeros.
#[test]
fn zeroed_tail_is_cut_to_the_last_complete_record() {
    for k in [1usize, 7, 30, 200] {
        let w = write(true);
        let (p, l) = last(&w);
        w.fs.tamper(Path::new(CL), |b| {
            b[p + l - k.min(l)..p + l].iter_mut().for_each(|x| *x = 0)
        });
        check(&w.fs, &w, 19);
    }
}

// Goal: case 3 — one flipped body byte fails the CRC; the record and its CQ entry are dropped.
#[test]
fn flipped_body_byte_fails_crc_and_is_never_served() {
    let w = write(false);
    let (p, _) = w.records[17];
    w.fs.tamper(Path::new(CL), |b| b[p as usize + 100] ^= 0x01);
    check(&w.fs, &w, 17);
}

// Goal: case 4 — garbage after the last valid record is cut.
#[test]
fn garbage_after_the_tail_is_removed() {
    for len in [1usize, 9, 4096] {
        let w = write(true);
        let (p, l) = last(&w);
        w.fs.tamper(Path::new(CL), |b| {
            for (i, x) in b[p + l..p + l + len].iter_mut().enumerate() {
                *x = (i as u8).wrapping_mul(31).wrapping_add(7) | 1;
            }
        });
        check(&w.fs, &w, 20);
    }
}

// Goal: case 5 — a size field pointing past the end of the file is rejected.
#[test]
fn size_field_past_the_file_end_is_rejected() {
    let w = write(true);
    let (p, _) = last(&w);
    w.fs.tamper(Path::new(CL), |b| {
        b[p..p + 4].copy_from_slice(&0x7FFF_0000i32.to_be_bytes())
    });
    check(&w.fs, &w, 19);
}

// Goal: case 6 — ConsumeQueue entries beyond the CommitLog are dropped.
#[test]
fn consume_queue_ahead_of_commit_log_is_trimmed() {
    let w = write(true);
    let (p, l) = last(&w);
    w.fs.tamper(Path::new(CQ), |b| {
        for i in 20..25usize {
            let mut e = [0u8; 20];
            e[0..8].copy_from_slice(&((p + l + (i - 20) * 50) as i64).to_be_bytes());
            e[8..12].copy_from_slice(&50i32.to_be_bytes());
            b[i * 20..i * 20 + 20].copy_from_slice(&e);
        }
    });
    check(&w.fs, &w, 20);
    // And with the CommitLog cut too: the CQ follows the cut.
    let w = write(true);
    let (p, l) = last(&w);
    w.fs.tamper(Path::new(CL), |b| b[p..p + l].iter_mut().for_each(|x| *x = 0));
    check(&w.fs, &w, 19);
}

// Goal: case 7 — a partial 20-byte ConsumeQueue entry is dropped.
#[test]
fn partial_consume_queue_entry_is_dropped() {
    let w = write(false);
    let (p, l) = last(&w);
    w.fs.tamper(Path::new(CQ), |b| {
        b[400..408].copy_from_slice(&((p + l) as i64).to_be_bytes())
    });
    check(&w.fs, &w, 20);
}

// Goal: case 8 — a torn or deleted checkpoint, with or without the abort marker, forces a
// full rebuild that gives the same result.
#[test]
fn torn_or_missing_checkpoint_rebuilds_from_the_commit_log() {
    for (clean, delete) in [(true, false), (false, false), (true, true), (false, true)] {
        let w = write(clean);
        let cp = PathBuf::from("/store/checkpoint");
        if delete {
            w.fs.remove_file(&cp).unwrap();
        } else {
            w.fs.tamper(&cp, |b| b[3] ^= 0xFF);
        }
        // Also drop the ConsumeQueue tail so only a rebuild can restore it.
        w.fs.tamper(Path::new(CQ), |b| b[200..].iter_mut().for_each(|x| *x = 0));
        check(&w.fs, &w, 20);
    }
}
