use super::*;
use crate::config::FlushDiskType;
use crate::fs::sim::SimFs;
use bytes::Bytes;
use ferromq_protocol::message::decode_record;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

pub(crate) fn small_config(sync: bool) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root("/store");
    c.mapped_file_size_commit_log = 128 * 1024;
    c.mapped_file_size_consume_queue = 100 * 20;
    c.max_message_size = 16 * 1024;
    c.max_hash_slot_num = 64;
    c.max_index_num = 1000;
    c.max_open_consume_queue_files = 16;
    c.flush_disk_type = if sync {
        FlushDiskType::SyncFlush
    } else {
        FlushDiskType::AsyncFlush
    };
    c.flush_interval_commit_log = 5;
    c.flush_interval_consume_queue = 20;
    c
}

pub(crate) fn msg(topic: &str, qid: i32, body: &[u8], props: &str) -> MessageRecord {
    let mut r = MessageRecord::new(topic, Bytes::copy_from_slice(body));
    r.queue_id = qid;
    r.properties = props.to_string();
    r
}

fn fixed_clock(t: i64) -> (Clock, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(t));
    let n = Arc::clone(&now);
    (Arc::new(move || n.load(Ordering::SeqCst)), now)
}

// Goal: put / get round trip through CommitLog and ConsumeQueue, with filters and limits.
// Method: put 20 messages with two tags, dispatch, read back by queue offset.
#[test]
fn put_then_get_returns_records_in_queue_order_with_filter_and_limits() {
    let fs = SimFs::new();
    let (clock, _) = fixed_clock(1_000_000);
    let store = MessageStore::open_with_clock(small_config(false), Arc::new(fs.clone()), clock).unwrap();
    for i in 0..20u8 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        let props = format!("TAGS\u{1}{tag}\u{2}KEYS\u{1}k{i} all\u{2}");
        let r = store.put_message(&msg("T", 0, &[i; 50], &props)).unwrap();
        assert_eq!(r.wait_status(), PutMessageStatus::PutOk);
        assert_eq!(r.append.queue_offset, i64::from(i));
    }
    store.dispatch_now().unwrap();
    assert_eq!(store.max_offset_in_queue("T", 0), 20);
    let got = store.get_messages("T", 0, 0, 32, 1 << 20, None).unwrap();
    assert_eq!(got.status, GetMessageStatus::Found);
    assert_eq!(got.messages.len(), 20);
    assert_eq!(got.next_begin_offset, 20);
    let rec = decode_record(&got.messages[7], true).unwrap();
    assert_eq!(rec.body.as_ref(), &[7u8; 50][..]);
    let tag_a = i64::from(ferromq_protocol::message::java_hash("A"));
    let only_a = |c: i64| c == tag_a;
    let got = store.get_messages("T", 0, 0, 32, 1 << 20, Some(&only_a)).unwrap();
    assert_eq!(got.messages.len(), 10);
    let got = store.get_messages("T", 0, 5, 3, 1 << 20, None).unwrap();
    assert_eq!((got.messages.len(), got.next_begin_offset), (3, 8));
    let one_size = got.messages[0].len();
    let got = store.get_messages("T", 0, 0, 32, one_size * 2, None).unwrap();
    assert_eq!(got.messages.len(), 2, "max bytes");
    assert_eq!(
        store.get_messages("T", 0, 20, 32, 1 << 20, None).unwrap().status,
        GetMessageStatus::OffsetOverflowOne
    );
    assert_eq!(
        store.get_messages("T", 0, 99, 32, 1 << 20, None).unwrap().status,
        GetMessageStatus::OffsetOverflowBadly
    );
    assert_eq!(
        store.get_messages("U", 0, 0, 32, 1 << 20, None).unwrap().status,
        GetMessageStatus::NoMessageInQueue
    );
    let found = store.query_message("T", "k3", 10, 0, i64::MAX).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].queue_offset, 3);
    assert_eq!(store.query_message("T", "all", 100, 0, i64::MAX).unwrap().len(), 20);
    assert_eq!(store.offset_in_queue_by_time("T", 0, 0).unwrap(), 0);
}

// Goal: a clean shutdown and reopen keeps every message, queue offsets continue, and the
// abort marker is removed. Method: put, shutdown, reopen, put more, get all.
#[test]
fn clean_restart_keeps_messages_and_continues_queue_offsets() {
    let fs = SimFs::new();
    let store = MessageStore::open(small_config(true), Arc::new(fs.clone())).unwrap();
    for i in 0..300u32 {
        let r = store
            .put_message(&msg("T", (i % 3) as i32, &i.to_be_bytes().repeat(100), ""))
            .unwrap();
        assert_eq!(r.wait_status(), PutMessageStatus::PutOk);
    }
    store.shutdown().unwrap();
    assert!(!fs.exists(std::path::Path::new("/store/abort")));
    drop(store);
    let store = MessageStore::open(small_config(true), Arc::new(fs.clone())).unwrap();
    assert_eq!(store.max_offset_in_queue("T", 1), 100);
    let r = store.put_message(&msg("T", 1, b"next", "")).unwrap();
    assert_eq!(r.append.queue_offset, 100);
    store.dispatch_now().unwrap();
    let got = store.get_messages("T", 1, 0, 1000, 1 << 30, None).unwrap();
    assert_eq!(got.messages.len(), 101);
}

// Goal: arrival listeners hear about new ConsumeQueue entries (long-polling hook).
#[test]
fn arrival_listener_is_called_with_new_max_offset() {
    let fs = SimFs::new();
    let store = MessageStore::open(small_config(false), Arc::new(fs)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    store.register_arrival_listener(Arc::new(move |t: &str, q: i32, max: i64| {
        let _ = tx.lock().unwrap().send((t.to_string(), q, max));
    }));
    store.put_message(&msg("T", 2, b"x", "")).unwrap();
    let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got, ("T".to_string(), 2, 1));
}

// Goal: a put dispatches on the putting thread when no other thread is dispatching, so its
// entry is readable (and listeners were told) when the put returns, without a thread hop.
// Method: hold nothing else; after each put, read the queue at once, with no dispatch_now and
// no waiting; the arrival listener must already have been called on this very thread.
#[test]
fn put_dispatches_inline_so_the_entry_is_readable_when_it_returns() {
    let store = MessageStore::open(small_config(false), Arc::new(SimFs::new())).unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&heard);
    store.register_arrival_listener(Arc::new(move |_: &str, _: i32, max: i64| {
        h.lock().unwrap().push((std::thread::current().id(), max));
    }));
    for i in 0..50i64 {
        store.put_message(&msg("Inline", 0, b"body", "")).unwrap();
        assert_eq!(store.max_offset_in_queue("Inline", 0), i + 1, "put {i}");
        let got = store.get_messages("Inline", 0, i, 1, 1 << 20, None).unwrap();
        assert_eq!(got.status, GetMessageStatus::Found, "put {i}");
        let last = *heard.lock().unwrap().last().expect("listener called");
        assert_eq!(last, (std::thread::current().id(), i + 1), "put {i}");
    }
}

// Goal: unpublished puts (ASYNC_FLUSH) stay unreadable until `publish`, which makes all of them
// readable at once, in order, across a CommitLog segment boundary, dispatching on the calling
// thread. Method: flush service effectively off (1 h interval); 300 puts of ~1 KiB (more than
// the 128 KiB segment) without publishing, check nothing is visible, publish, read them all.
#[test]
fn unpublished_puts_become_readable_together_on_publish() {
    let mut c = small_config(false);
    c.flush_interval_commit_log = 3_600_000;
    let store = MessageStore::open(c, Arc::new(SimFs::new())).unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&heard);
    store.register_arrival_listener(Arc::new(move |_: &str, _: i32, max: i64| {
        h.lock().unwrap().push((std::thread::current().id(), max));
    }));
    let body = vec![7u8; 1000];
    for i in 0..300i64 {
        let put = store.put_messages_unpublished(&[msg("Later", 0, &body, "")]).unwrap();
        assert_eq!(put.append.queue_offset, i, "offsets are assigned at append");
    }
    assert_eq!(store.max_phy_offset(), 0, "nothing committed: the bytes are buffered");
    assert_eq!(
        store.max_offset_in_queue("Later", 0),
        0,
        "nothing readable before publish"
    );
    store.publish();
    assert_eq!(store.max_offset_in_queue("Later", 0), 300);
    let last = *heard.lock().unwrap().last().expect("listener called");
    assert_eq!(
        last,
        (std::thread::current().id(), 300),
        "dispatched by the publishing thread"
    );
    let mut next = 0;
    while next < 300 {
        let got = store.get_messages("Later", 0, next, 32, 1 << 20, None).unwrap();
        assert_eq!(got.status, GetMessageStatus::Found, "at {next}");
        for (record, offset) in got.messages.iter().zip(&got.queue_offsets) {
            assert_eq!(*offset, next);
            assert_eq!(
                decode_record(record, true).unwrap().body.as_ref(),
                &body[..],
                "record {next}"
            );
            next += 1;
        }
    }
    store.publish();
    assert_eq!(
        store.max_offset_in_queue("Later", 0),
        300,
        "a second publish finds nothing new"
    );
}

// Goal: 50,000 queues do not hold one open file (or mapping) each: the ConsumeQueue file cache
// stays within maxOpenConsumeQueueFiles, and every queue is still readable.
// Method: one message per queue over SimFs with 1-entry CQ files, then read a sample back.
#[test]
fn fifty_thousand_queues_stay_within_the_open_file_bound() {
    let fs = SimFs::new();
    let mut c = small_config(false);
    c.mapped_file_size_consume_queue = 20;
    c.max_open_consume_queue_files = 64;
    c.mapped_file_size_commit_log = 8 << 20;
    c.message_index_enable = false;
    let store = MessageStore::open(c, Arc::new(fs.clone())).unwrap();
    let topics: Vec<String> = (0..50).map(|t| format!("T{t}")).collect();
    let batch: Vec<MessageRecord> = (0..50_000)
        .map(|q| msg(&topics[q / 1000], (q % 1000) as i32, b"x", ""))
        .collect();
    for chunk in batch.chunks(1000) {
        store.put_messages(chunk).unwrap();
    }
    store.dispatch_now().unwrap();
    assert!(
        store.open_consume_queue_files() <= 64,
        "open files {}",
        store.open_consume_queue_files()
    );
    for q in (0..50_000).step_by(997) {
        let got = store
            .get_messages(&topics[q / 1000], (q % 1000) as i32, 0, 4, usize::MAX, None)
            .unwrap();
        assert_eq!(got.messages.len(), 1, "queue {q}");
        assert!(store.open_consume_queue_files() <= 64);
    }
}

// Goal: a batch put reports the exact offset and stored size of every record (the store adds
// the `__CRC32#` property, so the sizes handed in are not the sizes stored).
// Method: put a batch of 3 with different bodies (ASYNC_FLUSH, and SYNC_FLUSH, where the bytes
// are readable only once the flush committed them); read each reported location back.
#[test]
fn batch_put_reports_offset_and_size_of_every_stored_record() {
    for sync in [false, true] {
        batch_put_locations(sync);
    }
}

fn batch_put_locations(sync: bool) {
    let fs = SimFs::new();
    let store = MessageStore::open(small_config(sync), Arc::new(fs)).unwrap();
    store.put_message(&msg("T", 0, b"first", "")).unwrap();
    let batch: Vec<MessageRecord> = (0..3u8)
        .map(|i| msg("T", 0, &vec![i; 10 + usize::from(i) * 7], "KEYS\u{1}k\u{2}"))
        .collect();
    let put = store.put_messages(&batch).unwrap();
    assert_eq!(put.wait_status(), PutMessageStatus::PutOk);
    assert_eq!(put.records.len(), 3);
    assert_eq!(put.records[0].phy_offset, put.append.phy_offset);
    assert_eq!(
        put.records.iter().map(|r| r.size).sum::<usize>(),
        put.append.wrote_bytes
    );
    for (i, (stored, sent)) in put.records.iter().zip(&batch).enumerate() {
        let rec = store.look_message_by_offset(stored.phy_offset).unwrap();
        assert_eq!(rec.body, sent.body, "record {i}");
        assert_eq!(rec.queue_offset, 1 + i as i64);
        assert_eq!(store.get_record_at(stored.phy_offset).unwrap().len(), stored.size);
        assert!(stored.size > sent.total_size(), "the store appended a property");
    }
}

// Goal: under SYNC_FLUSH (appends buffered until a flush commits them) a put becomes readable
// and is dispatched without any explicit commit: the group commit commits the bytes and
// notifies the dispatch thread. Method: put, wait for the ticket, then wait (bounded) for the
// dispatch thread to reach the end and read the message back.
#[test]
fn sync_flush_put_is_dispatched_after_its_group_commit() {
    let fs = SimFs::new();
    let store = MessageStore::open(small_config(true), Arc::new(fs)).unwrap();
    for i in 0..5u8 {
        let put = store.put_message(&msg("T", 1, &[i; 64], "")).unwrap();
        assert_eq!(put.wait_status(), PutMessageStatus::PutOk);
        assert!(
            store.max_phy_offset() >= put.append.end_offset() as i64,
            "durable implies readable"
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.max_offset_in_queue("T", 1) < 5 {
        assert!(std::time::Instant::now() < deadline, "dispatch never caught up");
        std::thread::yield_now();
    }
    let got = store.get_messages("T", 1, 0, 32, 1 << 20, None).unwrap();
    assert_eq!(got.messages.len(), 5);
    assert_eq!(
        decode_record(&got.messages[4], true).unwrap().body.as_ref(),
        &[4u8; 64][..]
    );
}

// Goal: deleting a topic removes its ConsumeQueue files and queues (other topics untouched);
// the topic starts again at queue offset 0 (RocketMQ `deleteTopics`), also after a restart.
// Method: put to two topics, delete one, check files, queue offsets and reads; put again;
// reopen and check both topics.
#[test]
fn delete_topic_removes_its_consume_queues_and_restarts_its_offsets() {
    let fs = SimFs::new();
    let store = MessageStore::open(small_config(true), Arc::new(fs.clone())).unwrap();
    for i in 0..150u32 {
        let topic = if i % 2 == 0 { "Gone" } else { "Kept" };
        let put = store
            .put_message(&msg(topic, (i % 3) as i32, &i.to_be_bytes(), ""))
            .unwrap();
        assert_eq!(put.wait_status(), PutMessageStatus::PutOk);
    }
    store.checkpoint_now().unwrap();
    let cq = std::path::Path::new("/store/consumequeue");
    assert!(fs.exists(&cq.join("Gone/0")));
    // Entries still pending in memory go with the topic too.
    for q in 0..3 {
        store
            .put_message(&msg("Gone", q, b"pending", ""))
            .unwrap()
            .wait_status();
    }
    store.dispatch_now().unwrap();
    assert_eq!(store.max_offset_in_queue("Gone", 2), 26);
    assert!(store.pending_consume_queue_bytes() > 0);
    assert!(store.delete_topic("../Kept").is_err(), "a path is not a topic");

    assert!(store.delete_topic("Gone").unwrap() > 0);
    assert!(!fs.exists(&cq.join("Gone")), "topic directory removed");
    assert!(fs.list_dir(cq).unwrap().iter().all(|t| t != "Gone"));
    for q in 0..3 {
        assert_eq!(store.max_offset_in_queue("Gone", q), 0);
        assert_eq!(
            store.get_messages("Gone", q, 0, 10, usize::MAX, None).unwrap().status,
            GetMessageStatus::NoMessageInQueue
        );
        assert_eq!(store.max_offset_in_queue("Kept", q), 25);
    }
    assert_eq!(store.delete_topic("Never").unwrap(), 0);
    assert_eq!(store.pending_consume_queue_bytes(), 0);

    let put = store.put_message(&msg("Gone", 1, b"again", "")).unwrap();
    assert_eq!(put.append.queue_offset, 0, "the topic starts over");
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(small_config(true), Arc::new(fs)).unwrap();
    assert_eq!(store.max_offset_in_queue("Gone", 0), 0);
    assert_eq!(store.max_offset_in_queue("Gone", 1), 1);
    let got = store.get_messages("Gone", 1, 0, 10, usize::MAX, None).unwrap();
    assert_eq!(decode_record(&got.messages[0], true).unwrap().body.as_ref(), b"again");
    assert_eq!(
        store
            .get_messages("Kept", 2, 0, 100, usize::MAX, None)
            .unwrap()
            .messages
            .len(),
        25
    );
}

// Goal: under SYNC_FLUSH the first segment's zero-fill and sync happen while the store opens,
// not inside the first put (a 1 GiB segment took seconds, past clients' 3 s send timeout).
// Method: open a fresh SYNC_FLUSH store and check the segment exists before any put; an
// ASYNC_FLUSH store still creates it lazily.
#[test]
fn sync_flush_store_prewrites_its_first_segment_while_opening() {
    let fs = SimFs::new();
    let config = small_config(true);
    let dir = config.commit_log_dir();
    let store = MessageStore::open(config, Arc::new(fs.clone())).unwrap();
    let files = fs.list_dir(&dir).unwrap();
    assert!(files.contains(&"00000000000000000000".to_string()), "{files:?}");
    store.shutdown().unwrap();

    let fs = SimFs::new();
    let config = small_config(false);
    let dir = config.commit_log_dir();
    let store = MessageStore::open(config, Arc::new(fs.clone())).unwrap();
    assert!(!fs
        .list_dir(&dir)
        .unwrap_or_default()
        .contains(&"00000000000000000000".to_string()));
    store.shutdown().unwrap();
}

// Goal: SEARCH_OFFSET_BY_TIMESTAMP's two boundaries (RocketMQ BoundaryType LOWER / UPPER).
// Method: three messages stored at t = 1000, 2000, 3000 ms; probe exact, between and outside.
#[test]
fn offset_by_time_lower_and_upper_boundaries() {
    let fs = SimFs::new();
    let (clock, now) = fixed_clock(1_000);
    let store = MessageStore::open_with_clock(small_config(false), Arc::new(fs.clone()), clock).unwrap();
    for t in [1_000, 2_000, 3_000] {
        now.store(t, Ordering::SeqCst);
        store.put_message(&msg("T", 0, b"x", "")).unwrap();
    }
    store.dispatch_now().unwrap();
    let lower = |ts| store.offset_in_queue_by_time("T", 0, ts).unwrap();
    let upper = |ts| store.offset_in_queue_by_time_upper("T", 0, ts).unwrap();
    assert_eq!((lower(2_000), upper(2_000)), (1, 1));
    assert_eq!((lower(2_500), upper(2_500)), (2, 1));
    assert_eq!((lower(500), upper(500)), (0, 0));
    assert_eq!((lower(4_000), upper(4_000)), (3, 2));
    store.shutdown().unwrap();
}

// Goal: get_messages reads the ConsumeQueue in growing rounds yet still finds sparse matches
// across CQ files and stops at max_count with the right next offset. Method: 300 messages in
// one queue (CQ files of 100 entries), a filter matching only offsets 250 and every 7th one,
// reads with max_count 1 and 3.
#[test]
fn filtered_get_finds_sparse_matches_across_consume_queue_files() {
    let fs = SimFs::new();
    let store = MessageStore::open(small_config(false), Arc::new(fs.clone())).unwrap();
    for i in 0..300u32 {
        let tag = if i == 250 {
            "far".to_owned()
        } else {
            format!("t{}", i % 7)
        };
        let props = format!("TAGS\u{1}{tag}\u{2}");
        let r = store.put_message(&msg("T", 0, &i.to_be_bytes(), &props)).unwrap();
        assert_eq!(r.wait_status(), PutMessageStatus::PutOk);
    }
    store.dispatch_now().unwrap();
    let far = i64::from(ferromq_protocol::message::java_hash("far"));
    let only_far = |c: i64| c == far;
    let got = store.get_messages("T", 0, 0, 1, 1 << 20, Some(&only_far)).unwrap();
    assert_eq!(got.status, GetMessageStatus::Found);
    assert_eq!(got.queue_offsets, vec![250]);
    assert_eq!(got.next_begin_offset, 251);

    let t3 = i64::from(ferromq_protocol::message::java_hash("t3"));
    let only_t3 = |c: i64| c == t3;
    let got = store.get_messages("T", 0, 90, 3, 1 << 20, Some(&only_t3)).unwrap();
    assert_eq!(got.queue_offsets, vec![94, 101, 108]);
    assert_eq!(got.next_begin_offset, 109);
    let got = store.get_messages("T", 0, 251, 32, 1 << 20, Some(&only_far)).unwrap();
    assert_eq!(got.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(got.next_begin_offset, 300);
}
