use super::*;
use crate::fs::sim::SimFs;
use std::path::PathBuf;

pub(crate) fn msg(topic: &str, qid: i32, body: &[u8]) -> MessageRecord {
    let mut r = MessageRecord::new(topic, Bytes::copy_from_slice(body));
    r.queue_id = qid;
    r.born_timestamp = 1;
    r
}

fn log(fs: &SimFs, size: u64) -> CommitLog {
    CommitLog::load(
        Arc::new(fs.clone()),
        PathBuf::from("/s/commitlog"),
        size,
        SegmentOptions::default(),
        4096,
        true,
    )
    .unwrap()
}

// Goal: appends get dense per-queue offsets, contiguous physical offsets and are read back
// byte-identical with the patched fields. Method: append to two queues, decode views.
#[test]
fn appends_assign_queue_offsets_and_read_back_identically() {
    let fs = SimFs::new();
    let cl = log(&fs, 64 * 1024);
    let mut expected_phy = 0;
    for i in 0..10 {
        let r = cl.put(&msg("T", i % 2, &[i as u8; 100]), 1000 + i64::from(i)).unwrap();
        assert_eq!(r.phy_offset, expected_phy);
        assert_eq!(r.queue_offset, i64::from(i / 2));
        expected_phy += r.wrote_bytes as i64;
        // Appends are readable once committed (the store's publish or flush does it).
        cl.commit().unwrap();
        let (rec, _) = cl.read_record(r.phy_offset).unwrap();
        assert_eq!(rec.body.as_ref(), &[i as u8; 100][..]);
        assert_eq!(rec.queue_offset, i64::from(i / 2));
        assert_eq!(rec.phy_offset, r.phy_offset);
        assert_eq!(rec.store_timestamp, 1000 + i64::from(i));
    }
    assert_eq!(cl.next_queue_offset("T", 0), 5);
    assert_eq!(cl.max_offset(), expected_phy as u64);
}

// Goal: a record never spans segments: a BLANK marker fills the tail and the next record starts
// at the next segment. Method: 4 KiB segments, 1 KiB records, recover and count.
#[test]
fn records_never_span_segments_and_recovery_crosses_blank_markers() {
    let fs = SimFs::new();
    let cl = log(&fs, 4096);
    let mut offsets = Vec::new();
    for i in 0..9u8 {
        let r = cl.put(&msg("T", 0, &[i; 900]), 5).unwrap();
        let seg_start = r.phy_offset as u64 / 4096 * 4096;
        assert!(r.end_offset() <= seg_start + 4096, "record crosses a segment end");
        offsets.push(r.phy_offset);
    }
    assert_eq!(offsets[4], 4096, "fifth record starts the second segment");
    cl.flush(0).unwrap();
    let end = cl.max_offset();
    drop(cl);
    let cl = log(&fs, 4096);
    let mut seen = Vec::new();
    let s = cl
        .recover(
            0,
            true,
            |r, phy, _| {
                seen.push((phy, r.queue_offset));
                Ok(())
            },
            0,
            Some(0),
        )
        .unwrap();
    assert_eq!(s.end_offset, end);
    assert_eq!(s.cut_reason, None);
    assert_eq!(seen.len(), 9);
    assert_eq!(seen.iter().map(|(p, _)| *p).collect::<Vec<_>>(), offsets);
}

// Goal: batches are contiguous with consecutive queue offsets; oversized messages are refused.
#[test]
fn batch_gets_consecutive_queue_offsets_and_oversized_message_is_refused() {
    let fs = SimFs::new();
    let cl = log(&fs, 64 * 1024);
    cl.put(&msg("T", 1, b"x"), 1).unwrap();
    let batch: Vec<_> = (0..5).map(|i| msg("T", 1, &[i; 10])).collect();
    let r = cl.put_batch(&batch, 2).unwrap();
    assert_eq!((r.queue_offset, r.msg_num), (1, 5));
    cl.commit().unwrap();
    let mut phy = r.phy_offset;
    for i in 0..5 {
        let (rec, bytes) = cl.read_record(phy).unwrap();
        assert_eq!(rec.queue_offset, 1 + i);
        phy += bytes.len() as i64;
    }
    assert_eq!(cl.next_queue_offset("T", 1), 6);
    assert!(matches!(
        cl.put(&msg("T", 1, &[0; 5000]), 3),
        Err(StoreError::MessageTooLarge { .. })
    ));
}

// Goal: prepared/rollback transaction records take no queue offset.
#[test]
fn prepared_records_do_not_consume_queue_offsets() {
    let fs = SimFs::new();
    let cl = log(&fs, 64 * 1024);
    let mut half = msg("T", 0, b"h");
    half.sys_flag = sys_flag::TRANSACTION_PREPARED_TYPE;
    assert_eq!(cl.put(&half, 1).unwrap().queue_offset, 0);
    assert_eq!(cl.put(&msg("T", 0, b"n"), 1).unwrap().queue_offset, 0);
    assert_eq!(cl.put(&msg("T", 0, b"n"), 1).unwrap().queue_offset, 1);
}

// Goal: the per-thread encode buffer never leaks bytes of an earlier put, and a failed put (too
// large) leaves neither bytes nor queue offsets behind. Method: a big put, a rejected put, then a
// small one; read every record back with full CRC checks and compare bodies and offsets.
#[test]
fn reused_encode_buffer_leaves_no_stale_bytes_and_failed_puts_leave_no_trace() {
    let fs = SimFs::new();
    let cl = log(&fs, 64 * 1024);
    let big = cl.put(&msg("T", 0, &[1u8; 3000]), 10).unwrap();
    assert!(matches!(
        cl.put(&msg("T", 0, &[2u8; 5000]), 11),
        Err(StoreError::MessageTooLarge { .. })
    ));
    let small = cl.put(&msg("T", 0, b"tiny"), 12).unwrap();
    assert_eq!(small.phy_offset, big.phy_offset + big.wrote_bytes as i64);
    assert_eq!((big.queue_offset, small.queue_offset), (0, 1));
    cl.commit().unwrap();
    let (rec, bytes) = cl.read_record(small.phy_offset).unwrap();
    assert_eq!(rec.body.as_ref(), b"tiny");
    assert_eq!(bytes.len(), small.wrote_bytes);
    assert_eq!(
        cl.read_record(big.phy_offset).unwrap().0.body.as_ref(),
        &[1u8; 3000][..]
    );
    assert_eq!(cl.max_offset(), small.end_offset());
}

// Goal: a batch over several queues gets dense offsets per queue, and single puts afterwards
// continue each queue where the batch left it. Method: batch over (A,0),(B,1),(A,0),(A,1), then
// single puts, checking the decoded queue offsets.
#[test]
fn batch_over_several_queues_and_later_single_puts_keep_offsets_dense() {
    let fs = SimFs::new();
    let cl = log(&fs, 64 * 1024);
    cl.put(&msg("A", 0, b"x"), 1).unwrap();
    let batch = [
        msg("A", 0, b"1"),
        msg("B", 1, b"2"),
        msg("A", 0, b"3"),
        msg("A", 1, b"4"),
    ];
    let r = cl.put_batch(&batch, 2).unwrap();
    assert_eq!((r.msg_num, r.queue_offset), (4, 1));
    cl.commit().unwrap();
    let mut at = r.phy_offset;
    let mut got = Vec::new();
    for _ in 0..4 {
        let (rec, bytes) = cl.read_record(at).unwrap();
        got.push((rec.topic.clone(), rec.queue_id, rec.queue_offset));
        at += bytes.len() as i64;
    }
    let expected = [("A", 0, 1), ("B", 1, 0), ("A", 0, 2), ("A", 1, 0)];
    let expected: Vec<_> = expected.iter().map(|(t, q, o)| (t.to_string(), *q, *o)).collect();
    assert_eq!(got, expected);
    assert_eq!(cl.put(&msg("A", 0, b"y"), 3).unwrap().queue_offset, 3);
    assert_eq!(cl.put(&msg("B", 1, b"z"), 3).unwrap().queue_offset, 1);
    assert_eq!(cl.put(&msg("B", 2, b"w"), 3).unwrap().queue_offset, 0);
}

// Goal: a flipped body byte is caught by the scan both with the whole-record CRC property (which
// then stands in for the body CRC) and without it (a foreign record: BODYCRC is checked), and
// the log is cut at exactly that record. Method: three records per log, flip one body byte of
// the second through the file, recover.
#[test]
fn flipped_body_byte_is_cut_with_and_without_the_record_crc_property() {
    for prop_crc in [true, false] {
        let fs = SimFs::new();
        let cl = CommitLog::load(
            Arc::new(fs.clone()),
            PathBuf::from("/s/commitlog"),
            64 * 1024,
            SegmentOptions::default(),
            4096,
            prop_crc,
        )
        .unwrap();
        let puts: Vec<AppendResult> = (0..3).map(|i| cl.put(&msg("T", 0, &[i; 300]), 7).unwrap()).collect();
        cl.flush(0).unwrap();
        let second = puts[1].phy_offset as u64;
        let file = cl.queue().find(second).unwrap();
        // The body ends 2 + topic + 2 + properties bytes before the record end.
        let (rec, _) = cl.read_record(puts[1].phy_offset).unwrap();
        let body_at =
            second + puts[1].wrote_bytes as u64 - 4 - rec.topic.len() as u64 - rec.properties.len() as u64 - 10;
        let mut b = [0u8; 1];
        file.read_raw(body_at, &mut b).unwrap();
        assert_eq!(b[0], 1, "inside the second record's body");
        file.write_at(body_at, &[b[0] ^ 0x10]).unwrap();
        let summary = cl.recover(0, true, |_, _, _| Ok(()), 0, None).unwrap();
        assert_eq!(summary.end_offset, second, "prop_crc={prop_crc}");
        assert_eq!(summary.records, 1);
        let reason = summary.cut_reason.unwrap();
        assert!(reason.contains("CRC"), "prop_crc={prop_crc}: {reason}");
    }
}

// Goal: the flush counters count each sync that made bytes durable with exactly the bytes it
// covered (across a segment end, one sync per segment), count nothing for a flush with nothing
// new, and `since` gives the difference. Method: 4 KiB segments, appends, flushes, compare with
// the durable offsets.
#[test]
fn flush_stats_count_syncs_and_the_bytes_they_covered() {
    let fs = SimFs::new();
    let cl = log(&fs, 4096);
    assert_eq!(cl.flush_stats(), FlushStats::default());
    cl.put(&msg("T", 0, &[1; 900]), 5).unwrap();
    let first = cl.flush(0).unwrap();
    let one = cl.flush_stats();
    assert_eq!((one.syncs, one.synced_bytes), (1, first));
    // Nothing new: no sync counted.
    assert_eq!(cl.flush(0).unwrap(), first);
    assert_eq!(cl.flush_stats().syncs, 1);
    // Four more records fill the first segment (BLANK marker) and start the second: the next
    // flush syncs the rest of the first segment and the head of the second.
    for i in 0..4u8 {
        cl.put(&msg("T", 0, &[i; 900]), 5).unwrap();
    }
    let durable = cl.flush(0).unwrap();
    assert!(durable > 4096, "the second segment was written: {durable}");
    let all = cl.flush_stats();
    let delta = all.since(&one);
    assert_eq!(delta.syncs, 2, "one sync per segment touched");
    assert_eq!(delta.synced_bytes, durable - first);
    assert_eq!(all.synced_bytes, durable);
    assert!(all.sync_ns >= one.sync_ns && all.commit_ns >= one.commit_ns);
}
