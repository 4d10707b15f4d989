//! Store micro-benchmarks (PERFORMANCE.md). Each group puts the store's figure next to the raw
//! disk figure measured in the same run:
//! - `append_async_1k`: 1 KiB async appends vs a plain page-cache `pwrite` loop;
//! - `sync_group_commit`: SYNC_FLUSH appends with 1 / 16 / 256 appender threads vs a
//!   `write + fdatasync` loop;
//! - `read`: ConsumeQueue read (32 messages per get) over a backlog (catch-up read);
//! - `recovery_rescan`: full rescan of a CommitLog (torn checkpoint forces it), bytes/s;
//! - `queues_50k`: appends spread over 50,000 queues vs one queue; memory per idle queue
//!   (RSS delta / queues) is printed.
//!
//! Run: `cargo bench -p ferromq-store --bench store` (set FERROMQ_BENCH_DIR to pick the disk).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferromq_protocol::message::MessageRecord;
use ferromq_store::fs::real::RealFs;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessageStatus};

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("FERROMQ_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn config(root: PathBuf, sync: bool) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = 256 << 20;
    c.max_hash_slot_num = 500_000;
    c.max_index_num = 2_000_000;
    c.flush_disk_type = if sync {
        FlushDiskType::SyncFlush
    } else {
        FlushDiskType::AsyncFlush
    };
    c
}

fn msg(queue_id: i32, topic: &str) -> MessageRecord {
    let mut r = MessageRecord::new(topic, Bytes::from(vec![7u8; 1024]));
    r.queue_id = queue_id;
    r
}

fn append_async(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_async_1k");
    g.throughput(Throughput::Bytes(1024));
    g.measurement_time(Duration::from_secs(5));
    let dir = bench_dir();
    let store = MessageStore::open(config(dir.path().join("s"), false), Arc::new(RealFs::new())).unwrap();
    let m = msg(0, "BenchTopic");
    g.bench_function("store_put", |b| b.iter(|| store.put_message(&m).unwrap()));
    drop(store);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(dir.path().join("raw"))
        .unwrap();
    let buf = vec![7u8; 1024];
    let mut off = 0u64;
    g.bench_function("raw_pwrite_page_cache", |b| {
        b.iter(|| {
            f.write_all_at(&buf, off).unwrap();
            off = (off + 1024) % (1 << 30);
        })
    });
    g.finish();
}

fn sync_group_commit(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_group_commit");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    let dir = bench_dir();
    let store = Arc::new(MessageStore::open(config(dir.path().join("s"), true), Arc::new(RealFs::new())).unwrap());
    for appenders in [1usize, 16, 256] {
        g.throughput(Throughput::Elements(appenders as u64));
        g.bench_with_input(BenchmarkId::new("store_put_sync", appenders), &appenders, |b, &n| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for t in 0..n {
                        let store = Arc::clone(&store);
                        s.spawn(move || {
                            let r = store.put_message(&msg(t as i32 % 8, "Sync")).unwrap();
                            assert_eq!(r.wait_status(), PutMessageStatus::PutOk);
                        });
                    }
                })
            })
        });
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(dir.path().join("raw"))
        .unwrap();
    let buf = vec![7u8; 1024];
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_write_fdatasync", |b| {
        b.iter(|| {
            f.write_all(&buf).unwrap();
            f.sync_data().unwrap();
        })
    });
    g.finish();
}

fn read(c: &mut Criterion) {
    let mut g = c.benchmark_group("read");
    let dir = bench_dir();
    let store = MessageStore::open(config(dir.path().join("s"), false), Arc::new(RealFs::new())).unwrap();
    let m = msg(0, "ReadTopic");
    let n = 200_000i64;
    for _ in 0..n {
        store.put_message(&m).unwrap();
    }
    store.dispatch_now().unwrap();
    g.throughput(Throughput::Elements(32));
    let mut off = 0i64;
    g.bench_function("get_32_catch_up", |b| {
        b.iter(|| {
            let r = store.get_messages("ReadTopic", 0, off, 32, 1 << 20, None).unwrap();
            off = if r.next_begin_offset >= n {
                0
            } else {
                r.next_begin_offset
            };
            r.messages.len()
        })
    });
    g.finish();
}

fn recovery(c: &mut Criterion) {
    let mut g = c.benchmark_group("recovery_rescan");
    g.sample_size(10);
    let dir = bench_dir();
    let root = dir.path().join("s");
    {
        let store = MessageStore::open(config(root.clone(), false), Arc::new(RealFs::new())).unwrap();
        let m = msg(0, "Rec");
        for _ in 0..200_000 {
            store.put_message(&m).unwrap();
        }
    }
    let total = {
        let store = MessageStore::open(config(root.clone(), false), Arc::new(RealFs::new())).unwrap();
        store.max_phy_offset() as u64
    };
    g.throughput(Throughput::Bytes(total));
    g.bench_function("full_rescan_torn_checkpoint", |b| {
        b.iter(|| {
            std::fs::write(root.join("checkpoint"), [0xFFu8; 64]).unwrap();
            let store = MessageStore::open(config(root.clone(), false), Arc::new(RealFs::new())).unwrap();
            store.max_phy_offset()
        })
    });
    g.finish();
}

/// Anonymous resident memory (heap etc.), excluding file-backed mapped pages.
fn rss_anon_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn queues_50k(c: &mut Criterion) {
    let mut g = c.benchmark_group("queues_50k");
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    let dir = bench_dir();
    let mut cfg = config(dir.path().join("s"), false);
    cfg.mapped_file_size_consume_queue = 1000 * 20;
    let store = MessageStore::open(cfg, Arc::new(RealFs::new())).unwrap();
    let before = rss_anon_bytes();
    let start = Instant::now();
    for q in 0..50_000 {
        store.put_message(&msg(q % 1000, &format!("Q{}", q / 1000))).unwrap();
    }
    store.dispatch_now().unwrap();
    store.checkpoint_now().unwrap();
    let after = rss_anon_bytes();
    eprintln!(
        "50,000 queues created in {:?}; RssAnon delta {} B => {} B per idle queue; open CQ files {}",
        start.elapsed(),
        after.saturating_sub(before),
        after.saturating_sub(before) / 50_000,
        store.open_consume_queue_files()
    );
    let mut q = 0i32;
    g.bench_function("put_spread_50k_queues", |b| {
        b.iter(|| {
            q = (q + 1) % 50_000;
            store.put_message(&msg(q % 1000, &format!("Q{}", q / 1000))).unwrap()
        })
    });
    g.bench_function("put_one_queue", |b| {
        b.iter(|| store.put_message(&msg(0, "Q0")).unwrap())
    });
    g.finish();
}

criterion_group!(benches, append_async, sync_group_commit, read, recovery, queues_50k);
criterion_main!(benches);
