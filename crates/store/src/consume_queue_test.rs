use super::*;
use crate::fs::sim::SimFs;

fn table(fs: &SimFs, max_open: usize) -> ConsumeQueueTable {
    ConsumeQueueTable::new(
        Arc::new(fs.clone()),
        PathBuf::from("/s/consumequeue"),
        10 * CQ_UNIT_SIZE,
        max_open,
    )
}

fn entry(i: i64) -> CqEntry {
    CqEntry {
        phy_offset: i * 100,
        size: 100,
        tags_code: i,
    }
}

// Goal: entries round-trip and reads stop at segment ends and at the max offset.
// Method: write 25 entries over 3 segments of 10, read ranges.
#[test]
fn entries_are_read_back_by_queue_offset_across_segments() {
    let fs = SimFs::new();
    let t = table(&fs, 4);
    for i in 0..25 {
        assert_eq!(t.put("T", 0, i, entry(i)).unwrap(), i + 1);
    }
    assert_eq!(t.max_offset("T", 0), 25);
    let got = t.get_entries("T", 0, 8, 32).unwrap();
    assert_eq!(got, vec![entry(8), entry(9)], "stops at the segment end");
    let got = t.get_entries("T", 0, 20, 32).unwrap();
    assert_eq!(got.len(), 5);
    assert!(t.get_entries("T", 0, 25, 32).unwrap().is_empty());
    assert!(t.get_entries("T", 1, 0, 32).unwrap().is_empty());
    let fs2 = fs.crash(0);
    let _ = fs2;
}

// Goal: many queues never hold more open files than the cache capacity, and evicted writes are
// durable. Method: 500 queues with cache 8, flush, crash, reload, count entries.
#[test]
fn idle_queues_hold_no_open_files_and_evicted_writes_are_synced() {
    let fs = SimFs::new();
    let t = table(&fs, 8);
    for q in 0..500 {
        t.put("T", q, 0, entry(i64::from(q))).unwrap();
        assert!(t.open_file_count() <= 8);
    }
    t.flush().unwrap();
    let fs2 = fs.crash(3);
    let t2 = table(&fs2, 8);
    t2.load_and_recover(i64::MAX, &|_, _, _, _| true).unwrap();
    for q in 0..500 {
        assert_eq!(t2.max_offset("T", q), 1, "queue {q}");
    }
}

// Goal: recovery keeps the valid prefix, drops a partial entry and trims entries at or beyond
// the CommitLog cut. Method: tamper with the file image, reload with a cut offset.
#[test]
fn recovery_trims_partial_entries_and_entries_beyond_the_commit_log() {
    let fs = SimFs::new();
    let t = table(&fs, 4);
    for i in 0..15 {
        t.put("T", 3, i, entry(i)).unwrap();
    }
    t.flush().unwrap();
    let path = PathBuf::from("/s/consumequeue/T/3/00000000000000000200");
    // Partial entry 15: only the offset half written.
    fs.tamper(&path, |b| b[100..108].copy_from_slice(&1500i64.to_be_bytes()));
    let t2 = table(&fs, 4);
    t2.load_and_recover(i64::MAX, &|_, _, _, _| true).unwrap();
    assert_eq!(t2.max_offset("T", 3), 15);
    // CommitLog cut at entry 12's record: entries 12.. go.
    let t3 = table(&fs, 4);
    t3.load_and_recover(1200, &|_, _, _, _| true).unwrap();
    assert_eq!(t3.max_offset("T", 3), 12);
    let t4 = table(&fs, 4);
    t4.load_and_recover(1200, &|_, _, _, _| true).unwrap();
    assert_eq!(t4.max_offset("T", 3), 12, "recovery is idempotent");
    t4.load_and_recover(850, &|_, _, _, _| true).unwrap();
    assert_eq!(t4.max_offset("T", 3), 9);
    assert!(!fs.exists(&path), "segment past the cut is deleted");
}

// Goal: time lookup is a binary search over store times. Method: store time = 10 * phy.
#[test]
fn offset_by_time_finds_first_entry_at_or_after_the_time() {
    let fs = SimFs::new();
    let t = table(&fs, 4);
    for i in 0..30 {
        t.put("T", 0, i, entry(i)).unwrap();
    }
    let f = |e: &CqEntry| Some(e.phy_offset * 10);
    assert_eq!(t.offset_by_time("T", 0, 0, f).unwrap(), 0);
    assert_eq!(t.offset_by_time("T", 0, 5000, f).unwrap(), 5);
    assert_eq!(t.offset_by_time("T", 0, 5001, f).unwrap(), 6);
    assert_eq!(t.offset_by_time("T", 0, 1_000_000, f).unwrap(), 30);
}

// Goal: retention deletes whole segments below the CommitLog minimum and raises min offset.
#[test]
fn delete_below_removes_old_segments_and_raises_min_offset() {
    let fs = SimFs::new();
    let t = table(&fs, 4);
    for i in 0..25 {
        t.put("T", 0, i, entry(i)).unwrap();
    }
    assert_eq!(t.delete_below(1250).unwrap(), 1);
    assert_eq!(t.min_offset("T", 0), 13);
    assert!(t.get_entries("T", 0, 5, 10).unwrap().is_empty());
    assert_eq!(t.get_entries("T", 0, 13, 1).unwrap(), vec![entry(13)]);
}

// Goal: batch entries are readable at once from the pending tails (across segment ends),
// each queue is reported once per batch with its new max offset, a gap or a re-dispatch of a
// written entry is written in queue-offset order, and a re-dispatch of a pending entry is a
// no-op. Method: interleave two queues over a segment boundary with one gap, read everything
// back before and after the tails are written.
#[test]
fn batch_entries_are_readable_at_once_and_written_in_queue_order() {
    let fs = SimFs::new();
    let t = table(&fs, 4);
    let mut b = CqBatch::new(&t);
    for i in 0..15 {
        b.push(&t, "T", 0, i, entry(i), i).unwrap();
        b.push(&t, "U", 3, i, entry(100 + i), i).unwrap();
    }
    assert_eq!(t.max_offset("T", 0), 15, "pending entries are visible");
    assert_eq!(
        t.get_entries("T", 0, 3, 4).unwrap(),
        (3..7).map(entry).collect::<Vec<_>>()
    );
    assert_eq!(t.pending_bytes(), 30 * CQ_UNIT_SIZE as usize);
    assert_eq!(t.pending_queues(), 2);
    assert!(
        !fs.exists(Path::new("/s/consumequeue/T/0/00000000000000000000")),
        "nothing written yet"
    );
    // A gap in queue T/0: its tail 0..15 is written first, then entry 17.
    b.push(&t, "T", 0, 17, entry(17), 17).unwrap();
    assert_eq!(t.max_offset("T", 0), 18);
    assert_eq!(t.pending_queues(), 1);
    b.finish(&t).unwrap();
    let mut arrived: Vec<(String, i32, i64)> = b.arrived.iter().map(|(t, q, m)| (t.to_string(), *q, *m)).collect();
    arrived.sort();
    assert_eq!(arrived, vec![("T".into(), 0, 18), ("U".into(), 3, 15)]);
    let got = t.get_entries("T", 0, 0, 32).unwrap();
    assert_eq!(got, (0..10).map(entry).collect::<Vec<_>>());
    let got = t.get_entries("T", 0, 10, 32).unwrap();
    assert_eq!(got.get(..5), Some(&(10..15).map(entry).collect::<Vec<_>>()[..]));
    assert_eq!(got.get(7), Some(&entry(17)));
    assert_eq!(
        t.get_entries("U", 3, 10, 32).unwrap(),
        (10..15).map(|i| entry(100 + i)).collect::<Vec<_>>()
    );
    // Re-dispatched (a retry after an error), a pending entry is left as it is.
    b.arrived.clear();
    b.push(&t, "U", 3, 5, entry(105), 5).unwrap();
    assert_eq!(t.pending_queues(), 1);
    assert_eq!(t.write_all_pending().unwrap(), 1);
    assert_eq!((t.pending_bytes(), t.pending_queues()), (0, 0));
    assert_eq!(t.max_offset("U", 3), 15);
    // Written ones are rewritten in place.
    b.push(&t, "U", 3, 5, entry(105), 5).unwrap();
    b.finish(&t).unwrap();
    assert_eq!(b.arrived, vec![(Arc::from("U"), 3, 15)]);
    assert_eq!(t.get_entries("U", 3, 5, 1).unwrap(), vec![entry(105)]);
    // Reopened from the files alone, both queues read back the same.
    t.flush().unwrap();
    let t2 = table(&fs, 4);
    t2.load_and_recover(i64::MAX, &|_, _, _, _| true).unwrap();
    assert_eq!(t2.max_offset("U", 3), 15);
    assert_eq!(
        t2.get_entries("U", 3, 10, 32).unwrap(),
        t.get_entries("U", 3, 10, 32).unwrap()
    );
    // (Recovery keeps T/0's prefix up to the gap, as for any file.)
    assert_eq!(t2.max_offset("T", 0), 15);
    assert_eq!(
        t2.get_entries("T", 0, 10, 32).unwrap(),
        (10..15).map(entry).collect::<Vec<_>>()
    );
}
