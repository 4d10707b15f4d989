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
        false,
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
