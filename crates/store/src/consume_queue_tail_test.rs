use super::*;
use crate::fs::sim::SimFs;
use crate::fs::Fs;
use std::path::{Path, PathBuf};

/// A table over `fs` with `per_file` entries per segment.
fn table(fs: &SimFs, per_file: u64) -> ConsumeQueueTable {
    ConsumeQueueTable::new(
        Arc::new(fs.clone()),
        PathBuf::from("/s/consumequeue"),
        per_file * CQ_UNIT_SIZE,
        4,
    )
}

fn entry(i: i64) -> CqEntry {
    CqEntry {
        phy_offset: i * 100,
        size: 100,
        tags_code: i,
    }
}

fn first_segment(topic: &str, queue_id: i32) -> PathBuf {
    PathBuf::from(format!("/s/consumequeue/{topic}/{queue_id}/00000000000000000000"))
}

/// Every entry from `from` on, read the way a pull does (repeated gets until empty).
fn read_all(t: &ConsumeQueueTable, from: i64) -> Vec<CqEntry> {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let got = t.get_entries("T", 0, next, 7).unwrap();
        if got.is_empty() {
            return out;
        }
        next += got.len() as i64;
        out.extend(got);
    }
}

fn tail_capacity(t: &ConsumeQueueTable, topic: &str, queue_id: i32) -> usize {
    t.state(topic, queue_id).map_or(0, |s| lock(&s).tail.capacity())
}

// Goal: every read sees pending entries exactly as written ones: entries, min / max offset,
// time search and retention. Method: the same 25 entries (from queue offset 3, over three
// segments of 10) stay pending in one table and are written in another; compare all reads.
#[test]
fn pending_entries_read_exactly_like_written_ones() {
    let (fs_p, fs_w) = (SimFs::new(), SimFs::new());
    let (pending, written) = (table(&fs_p, 10), table(&fs_w, 10));
    let (mut bp, mut bw) = (CqBatch::new(&pending), CqBatch::new(&written));
    for i in 3..28 {
        bp.push(&pending, "T", 0, i, entry(i), i * 1000).unwrap();
        bw.push(&written, "T", 0, i, entry(i), i * 1000).unwrap();
    }
    assert_eq!(written.write_all_pending().unwrap(), 1);
    assert_eq!((pending.pending_bytes(), pending.pending_queues()), (25 * 20, 1));
    assert_eq!((written.pending_bytes(), written.pending_queues()), (0, 0));
    assert!(
        !fs_p.exists(&first_segment("T", 0)),
        "pending entries are not in a file"
    );
    assert!(fs_w.exists(&first_segment("T", 0)));
    for t in [&pending, &written] {
        assert_eq!((t.min_offset("T", 0), t.max_offset("T", 0)), (3, 28));
    }
    for from in 0..30 {
        assert_eq!(read_all(&pending, from), read_all(&written, from), "from {from}");
    }
    assert_eq!(read_all(&pending, 3), (3..28).map(entry).collect::<Vec<_>>());
    let time = |e: &CqEntry| Some(e.phy_offset * 10);
    for ts in [0, 5000, 5001, 12_000, 27_000, 1_000_000] {
        assert_eq!(
            pending.offset_by_time("T", 0, ts, time).unwrap(),
            written.offset_by_time("T", 0, ts, time).unwrap(),
            "time {ts}"
        );
    }
    // Retention writes the tails first, then deletes the same segments in both.
    assert_eq!(pending.delete_below(2050).unwrap(), written.delete_below(2050).unwrap());
    assert_eq!(pending.min_offset("T", 0), written.min_offset("T", 0));
    assert_eq!(pending.pending_bytes(), 0);
    assert_eq!(read_all(&pending, 20), read_all(&written, 20));
}

// Goal: a tail is written with one write once it holds TAIL_FILL_ENTRIES at the end of a batch,
// and its buffer is freed. Method: fill a queue to one entry short, end the batch, add one.
#[test]
fn full_tail_is_written_at_batch_end_and_its_buffer_freed() {
    let fs = SimFs::new();
    let t = table(&fs, 1000);
    let mut b = CqBatch::new(&t);
    let full = TAIL_FILL_ENTRIES as i64;
    for i in 0..full - 1 {
        b.push(&t, "T", 0, i, entry(i), 0).unwrap();
    }
    b.finish(&t).unwrap();
    assert_eq!(t.pending_queues(), 1);
    assert!(!fs.exists(&first_segment("T", 0)));
    b.push(&t, "T", 0, full - 1, entry(full - 1), 0).unwrap();
    b.finish(&t).unwrap();
    assert_eq!((t.pending_bytes(), t.pending_queues()), (0, 0));
    assert_eq!(tail_capacity(&t, "T", 0), 0, "the buffer of a written tail is freed");
    assert_eq!(t.oldest_pending(), None);
    t.flush().unwrap();
    let reopened = table(&fs, 1000);
    reopened.load_and_recover(i64::MAX, &|_, _, _, _| true).unwrap();
    assert_eq!(read_all(&reopened, 0), (0..full).map(entry).collect::<Vec<_>>());
}

// Goal: a batch's lookup cache (its most recent queues) never mixes queues up and never reports
// a queue twice: entries cycling over more queues than the cache holds, of two topics with the
// same queue ids, land in their own queues, each queue arrives once with its new max offset.
// Method: 3 rounds over 2 topics x (RECENT_QUEUES + 3) queues in one batch, then read back.
#[test]
fn batch_cache_keeps_queues_apart_beyond_its_window() {
    let fs = SimFs::new();
    let t = table(&fs, 1000);
    let mut b = CqBatch::new(&t);
    let queues = RECENT_QUEUES as i32 + 3;
    for round in 0..3 {
        for queue_id in 0..queues {
            for (k, topic) in ["T", "U"].into_iter().enumerate() {
                let tag = i64::from(queue_id) * 10 + k as i64;
                let e = CqEntry {
                    phy_offset: round * 1000 + tag,
                    size: 1,
                    tags_code: tag,
                };
                b.push(&t, topic, queue_id, round, e, 0).unwrap();
            }
        }
    }
    b.finish(&t).unwrap();
    assert_eq!(b.arrived.len(), 2 * queues as usize, "each queue arrives once");
    assert!(b.arrived.iter().all(|(_, _, max)| *max == 3));
    for queue_id in 0..queues {
        for (k, topic) in ["T", "U"].into_iter().enumerate() {
            let tag = i64::from(queue_id) * 10 + k as i64;
            let got = t.get_entries(topic, queue_id, 0, 10).unwrap();
            let want: Vec<_> = (0..3)
                .map(|round| CqEntry {
                    phy_offset: round * 1000 + tag,
                    size: 1,
                    tags_code: tag,
                })
                .collect();
            assert_eq!(got, want, "{topic}/{queue_id}");
        }
    }
}

// Goal: past the memory cap the oldest tails are written first until the rest fits, and
// `oldest_pending` then names the first tail still pending. Method: a 5-entry cap, one entry to
// each of 8 queues in one batch.
#[test]
fn over_the_cap_oldest_tails_are_written_first() {
    let fs = SimFs::new();
    let mut t = table(&fs, 10);
    t.set_pending_limits(5 * CQ_UNIT_SIZE as usize, Duration::from_secs(3600));
    let mut b = CqBatch::new(&t);
    for q in 0..8 {
        b.push(&t, "T", q, 0, entry(i64::from(q)), i64::from(q)).unwrap();
    }
    assert_eq!(t.pending_queues(), 8);
    b.finish(&t).unwrap();
    assert_eq!(t.pending_queues(), 5);
    assert_eq!(t.pending_bytes(), 5 * CQ_UNIT_SIZE as usize);
    for q in 0..8 {
        assert_eq!(fs.exists(&first_segment("T", q)), q < 3, "queue {q}");
        assert_eq!(t.get_entries("T", q, 0, 1).unwrap(), vec![entry(i64::from(q))]);
    }
    assert_eq!(tail_capacity(&t, "T", 0), 0);
    assert_eq!(
        t.oldest_pending(),
        Some(OldestPending {
            phy_offset: 300,
            store_timestamp: 3
        })
    );
}

// Goal: a tail older than the max age is written even if small; `oldest_pending` follows the
// first live tail as tails are written and restarted. Method: two queues; fill one; move the
// clock past the age.
#[test]
fn old_tails_are_written_and_oldest_pending_follows_the_first_live_tail() {
    let fs = SimFs::new();
    let mut t = table(&fs, 1000);
    t.set_pending_limits(1 << 20, Duration::from_secs(60));
    let mut b = CqBatch::new(&t);
    b.push(&t, "A", 0, 0, entry(0), 10).unwrap();
    b.push(&t, "B", 0, 0, entry(1), 11).unwrap();
    b.finish(&t).unwrap();
    assert_eq!(t.oldest_pending().map(|o| o.phy_offset), Some(0));
    assert_eq!(t.write_due_tails(Instant::now()).unwrap(), 0, "nothing is old yet");
    // A's tail fills and is written; its next tail starts after B's.
    for i in 1..=TAIL_FILL_ENTRIES as i64 {
        b.push(&t, "A", 0, i, entry(100 + i), 20).unwrap();
    }
    b.finish(&t).unwrap();
    assert_eq!(t.pending_queues(), 1);
    let next = TAIL_FILL_ENTRIES as i64 + 1;
    b.push(&t, "A", 0, next, entry(100 + next), 30).unwrap();
    assert_eq!(t.pending_queues(), 2);
    assert_eq!(t.oldest_pending().map(|o| o.phy_offset), Some(100), "B's tail");
    let later = Instant::now() + Duration::from_secs(61);
    assert_eq!(t.write_due_tails(later).unwrap(), 2);
    assert_eq!(t.oldest_pending(), None);
    assert_eq!((t.pending_bytes(), t.pending_queues()), (0, 0));
    assert_eq!(t.max_offset("A", 0), next + 1);
    assert!(fs.exists(&first_segment("B", 0)));
}

// Goal: the start order stays bounded when full tails, written outside it, leave stale
// references behind. Method: 3,000 batches that each fill one queue's tail.
#[test]
fn start_order_stays_bounded_when_full_tails_leave_stale_references() {
    let fs = SimFs::new();
    let t = table(&fs, 300_000);
    let mut b = CqBatch::new(&t);
    let mut next = 0;
    for _ in 0..3000 {
        for _ in 0..TAIL_FILL_ENTRIES {
            b.push(&t, "T", 0, next, entry(next), 0).unwrap();
            next += 1;
        }
        b.finish(&t).unwrap();
    }
    assert_eq!(t.pending_queues(), 0);
    assert!(lock(&t.pending.order).len() <= 1024 + 1);
    assert_eq!(t.max_offset("T", 0), next);
    assert_eq!(t.get_entries("T", 0, next - 1, 1).unwrap(), vec![entry(next - 1)]);
}

// Goal: deleting a topic drops its pending tails and their bytes; other queues keep theirs.
#[test]
fn deleting_a_topic_drops_its_pending_tails() {
    let fs = SimFs::new();
    let t = table(&fs, 10);
    let mut b = CqBatch::new(&t);
    for i in 0..3 {
        b.push(&t, "Gone", 0, i, entry(i), 0).unwrap();
        b.push(&t, "Kept", 0, i, entry(i), 0).unwrap();
    }
    b.finish(&t).unwrap();
    t.write_tail(&mut lock(&t.state("Gone", 0).unwrap())).unwrap();
    b.push(&t, "Gone", 0, 3, entry(3), 0).unwrap();
    assert_eq!(t.pending_bytes(), 4 * CQ_UNIT_SIZE as usize);
    assert_eq!(t.delete_topic("Gone").unwrap(), 1);
    assert_eq!((t.pending_bytes(), t.pending_queues()), (3 * CQ_UNIT_SIZE as usize, 1));
    assert_eq!(t.max_offset("Gone", 0), 0);
    assert_eq!(t.write_all_pending().unwrap(), 1);
    assert!(!fs.exists(Path::new("/s/consumequeue/Gone")));
    assert_eq!(
        t.get_entries("Kept", 0, 0, 10).unwrap(),
        (0..3).map(entry).collect::<Vec<_>>()
    );
}
