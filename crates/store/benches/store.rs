//! Store benchmarks (PERFORMANCE.md): every store figure is printed next to a raw baseline measured
//! in the same run, alternating store and baseline rounds and comparing medians, because the
//! machine is shared and absolute numbers drift.
//!
//! Sections (pass names to run a subset: `async sync read queues recovery`):
//! - `async`: 1 KiB ASYNC_FLUSH `put_message` (each put published: one `pwrite` + dispatch) and
//!   `put_messages_unpublished` published every 32 puts (the broker's way: once per batch of
//!   requests read from a connection) vs a `pwrite` page-cache loop; CPU per put of the put thread
//!   and of the whole process next to the CPU per record of that loop and of a `memcpy` into a
//!   mapping of a fresh file (how the store wrote before it used a write buffer; on this VM page
//!   faults on never-touched file pages cost ~13x a `pwrite` of the same bytes, so that figure
//!   swings); also the rate with dispatch (ConsumeQueue + IndexFile) caught up;
//! - `sync`: SYNC_FLUSH group commit with 1, 16 and 256 long-lived appender threads (each waits for
//!   its ticket), and 256 in flight from one thread completed by ticket callbacks (the broker's
//!   way), vs a `pwrite + fdatasync` loop of the same group size (N records per fdatasync) on a
//!   pre-written file, i.e. the disk's group-commit bandwidth at that concurrency;
//! - `read`: ConsumeQueue catch-up read of 1 KiB messages (32 per get, each copied out as a
//!   response would) vs `pread` of the same bytes from the page cache;
//! - `queues`: put (and put + dispatch) throughput and process CPU per message spread over
//!   50,000 queues vs one queue, and anonymous memory per idle queue. Each 50,000-queue round
//!   runs in steady state: the ConsumeQueue pending tails are first filled to their cap with
//!   small records (unmeasured), so every entry of the round pushes an older tail out to its
//!   file; each one-queue round starts with no pending tail (written out, unmeasured);
//! - `recovery`: full rescan of ~1 GiB of CommitLog (`FERROMQ_BENCH_RECOVERY_MB`) after a torn
//!   checkpoint vs `pread` into one reused buffer + crc32 of the same bytes.
//!
//! Run: `cargo bench -p ferromq-store --bench store [-- section...]`.
//! Knobs: `FERROMQ_BENCH_DIR` (disk to use), `FERROMQ_BENCH_SECS` (seconds per round, default
//! 1.0), `FERROMQ_BENCH_ROUNDS` (rounds per figure, default 3), `FERROMQ_BENCH_STORE_ONLY` (async
//! and sync: skip the baselines, for profiling the put path), `FERROMQ_BENCH_SYNC_CALLBACKS` (sync:
//! run only the "256 in flight, 1 thread + callbacks" row and its single-stream baseline).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferromq_protocol::message::MessageRecord;
use ferromq_store::fs::real::RealFs;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig};

#[path = "store_sections/queues.rs"]
mod queues;
#[path = "store_sections/sync.rs"]
mod sync;
use queues::queues_50k;
use sync::sync_put;

/// The allocator the `ferromq` binary runs with (crates/cli/src/main.rs), so that the put path's
/// allocations cost here what they cost in the broker (glibc's `malloc` was ~10 % of the
/// SYNC_FLUSH put thread's samples).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BODY: usize = 1024;
const SEGMENT: u64 = 256 << 20;

struct Ctx {
    dir: tempfile::TempDir,
    secs: f64,
    rounds: usize,
    rows: Vec<Row>,
}

struct Row {
    figure: String,
    store: String,
    baseline: String,
    ratio: String,
}

impl Ctx {
    fn round(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn row(&mut self, figure: impl Into<String>, store: impl Into<String>, baseline: impl Into<String>, ratio: f64) {
        let row = Row {
            figure: figure.into(),
            store: store.into(),
            baseline: baseline.into(),
            ratio: if ratio.is_finite() {
                format!("{ratio:.2}x")
            } else {
                "-".into()
            },
        };
        eprintln!(
            "  {:<44} {:<30} {:<44} {}",
            row.figure, row.store, row.baseline, row.ratio
        );
        self.rows.push(row);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn kmsg(rate: f64) -> String {
    format!("{:.1}k msg/s", rate / 1e3)
}

fn mbs(bytes_per_sec: f64) -> String {
    format!("{:.0} MB/s", bytes_per_sec / 1e6)
}

fn config(root: PathBuf, sync: bool) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = SEGMENT;
    c.max_hash_slot_num = 500_000;
    c.max_index_num = 2_000_000;
    c.flush_disk_type = if sync {
        FlushDiskType::SyncFlush
    } else {
        FlushDiskType::AsyncFlush
    };
    c
}

fn open(root: PathBuf, sync: bool) -> MessageStore {
    MessageStore::open(config(root, sync), Arc::new(RealFs::new())).unwrap()
}

/// `n` records of `topic`/`queue_id` as the broker builds them (TAGS, a distinct UNIQ_KEY, hosts),
/// sharing one 1 KiB body.
fn records(topic: &str, queue_ids: impl Iterator<Item = i32>) -> Vec<MessageRecord> {
    let body = Bytes::from(vec![7u8; BODY]);
    queue_ids
        .enumerate()
        .map(|(i, q)| {
            let mut r = MessageRecord::new(topic, body.clone());
            r.queue_id = q;
            r.born_timestamp = 1_700_000_000_000;
            r.born_host = "127.0.0.1:50000".parse().unwrap();
            r.store_host = "127.0.0.1:10911".parse().unwrap();
            r.properties =
                format!("TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}7F000001C0DE18B4AAC2{i:012X}\u{2}WAIT\u{1}true\u{2}");
            r
        })
        .collect()
}

fn cpu_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY (bench): `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What a timed loop achieved.
#[derive(Clone, Copy)]
struct Measured {
    /// Operations per wall-clock second.
    rate: f64,
    /// CPU time of the calling thread per operation (insensitive to other load), in us.
    thread_us: f64,
    /// CPU time of the whole process per operation (includes store threads), in us.
    process_us: f64,
}

/// Runs `op` until `dur` passed (checking the clock every 64 calls).
fn measure(dur: Duration, mut op: impl FnMut(u64)) -> Measured {
    let (t0, p0) = (
        cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID),
        cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID),
    );
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..64 {
            op(n);
            n += 1;
        }
        let el = start.elapsed();
        if el >= dur {
            let per_op = |ns: u64| ns as f64 / 1e3 / n as f64;
            return Measured {
                rate: n as f64 / el.as_secs_f64(),
                thread_us: per_op(cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID) - t0),
                process_us: per_op(cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - p0),
            };
        }
    }
}

/// Calls per second of `op` until `dur` passed.
fn run_for(dur: Duration, op: impl FnMut(u64)) -> f64 {
    measure(dur, op).rate
}

/// Median of each field.
fn med(v: &[Measured]) -> Measured {
    Measured {
        rate: median(v.iter().map(|m| m.rate).collect()),
        thread_us: median(v.iter().map(|m| m.thread_us).collect()),
        process_us: median(v.iter().map(|m| m.process_us).collect()),
    }
}

fn wait_dispatched(store: &MessageStore) {
    while store.dispatched_phy_offset() < store.max_phy_offset() {
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn fresh_file(path: &Path, len: u64) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.set_len(0).unwrap();
    std::fs::File::set_len(&f, len).unwrap();
    f
}

fn async_put(ctx: &mut Ctx) {
    eprintln!("async: 1 KiB ASYNC_FLUSH put_message, one thread");
    let recs = records("BenchTopic", std::iter::repeat_n(0, 1024));
    let record_bytes = {
        let probe = open(ctx.path("probe"), false);
        let r = probe.put_message(&recs[0]).unwrap();
        r.append.wrote_bytes as f64
    };
    let store_only = std::env::var_os("FERROMQ_BENCH_STORE_ONLY").is_some();
    let (mut store_r, mut with_dispatch, mut pwrite_r, mut mmap_r) = (vec![], vec![], vec![], vec![]);
    let mut batched_r = vec![];
    let buf = vec![7u8; record_bytes as usize];
    for round in 0..ctx.rounds {
        let path = ctx.path(&format!("raw-{round}"));
        if !store_only {
            let f = fresh_file(&path, 4 << 30);
            pwrite_r.push(measure(ctx.round(), |i| {
                f.write_all_at(&buf, i * buf.len() as u64).unwrap();
            }));
            drop(f);
            std::fs::remove_file(&path).unwrap();

            let f = fresh_file(&path, 4 << 30);
            // SAFETY (bench): the file is ours, fixed-size and not truncated while mapped.
            let mut map = unsafe { memmap2::MmapMut::map_mut(&f) }.unwrap();
            let cap = map.len() / buf.len();
            mmap_r.push(measure(ctx.round(), |i| {
                let at = (i as usize % cap) * buf.len();
                map[at..at + buf.len()].copy_from_slice(&buf);
            }));
            drop(map);
            std::fs::remove_file(&path).unwrap();
        }

        let root = ctx.path(&format!("async-{round}"));
        let store = open(root.clone(), false);
        store.put_message(&recs[0]).unwrap();
        let start = Instant::now();
        let m = measure(ctx.round(), |i| {
            store.put_message(&recs[i as usize % recs.len()]).unwrap();
        });
        let put_time = start.elapsed().as_secs_f64();
        wait_dispatched(&store);
        store_r.push(m);
        with_dispatch.push(m.rate * put_time / start.elapsed().as_secs_f64());
        drop(store);
        std::fs::remove_dir_all(&root).unwrap();

        let root = ctx.path(&format!("async-batched-{round}"));
        let store = open(root.clone(), false);
        store.put_message(&recs[0]).unwrap();
        batched_r.push(measure(ctx.round(), |i| {
            store
                .put_messages_unpublished(std::slice::from_ref(&recs[i as usize % recs.len()]))
                .unwrap();
            if i % 32 == 31 {
                store.publish();
            }
        }));
        store.publish();
        drop(store);
        std::fs::remove_dir_all(&root).unwrap();
    }
    let s = med(&store_r);
    let b = med(&batched_r);
    if store_only {
        eprintln!("  store only: {:.0} msg/s, {:.2} us CPU/put", s.rate, s.thread_us);
        eprintln!(
            "  published every 32: {:.0} msg/s, {:.2} us CPU/put",
            b.rate, b.thread_us
        );
        return;
    }
    let (p, m) = (med(&pwrite_r), med(&mmap_r));
    ctx.row(
        format!("async put, {record_bytes:.0} B records"),
        format!("{} {}", kmsg(s.rate), mbs(s.rate * record_bytes)),
        format!("pwrite loop {} {}", kmsg(p.rate), mbs(p.rate * record_bytes)),
        s.rate / p.rate,
    );
    ctx.row(
        "  CPU per put: put thread / whole process",
        format!("{:.2} / {:.2} us", s.thread_us, s.process_us),
        format!("pwrite {:.2} us, memcpy {:.2} us", p.thread_us, m.thread_us),
        p.thread_us / s.thread_us,
    );
    ctx.row(
        "async put, published every 32 puts",
        format!(
            "{} {}, {:.2} us CPU/put",
            kmsg(b.rate),
            mbs(b.rate * record_bytes),
            b.thread_us
        ),
        format!("pwrite loop {}", kmsg(p.rate)),
        b.rate / p.rate,
    );
    let d = median(with_dispatch);
    ctx.row(
        "  put until dispatch caught up",
        kmsg(d),
        format!("pwrite loop {}", kmsg(p.rate)),
        d / p.rate,
    );
}

fn catch_up_read(ctx: &mut Ctx) {
    eprintln!("read: ConsumeQueue catch-up read, 32 messages per get");
    let root = ctx.path("read");
    let store = open(root.clone(), false);
    let recs = records("ReadTopic", std::iter::repeat_n(0, 1024));
    let n = 200_000usize;
    for i in 0..n {
        store.put_message(&recs[i % recs.len()]).unwrap();
    }
    wait_dispatched(&store);
    let total = store.max_phy_offset() as u64;
    let record_bytes = total as f64 / n as f64;
    let segment = std::fs::File::open(root.join("commitlog").join(format!("{:020}", 0))).unwrap();
    let (mut store_r, mut raw_r) = (vec![], vec![]);
    let mut out = Vec::with_capacity(64 << 10);
    for _ in 0..ctx.rounds {
        let mut at = 0u64;
        let chunk = (32.0 * record_bytes) as usize;
        let mut buf = vec![0u8; chunk];
        raw_r.push(
            32.0 * run_for(ctx.round(), |_| {
                if at + chunk as u64 > total {
                    at = 0;
                }
                segment.read_exact_at(&mut buf, at).unwrap();
                at += chunk as u64;
            }),
        );
        let mut off = 0i64;
        let mut got = 0u64;
        let start = Instant::now();
        run_for(ctx.round(), |_| {
            let r = store.get_messages("ReadTopic", 0, off, 32, 1 << 20, None).unwrap();
            out.clear();
            for m in &r.messages {
                out.extend_from_slice(m);
            }
            got += r.messages.len() as u64;
            off = if r.next_begin_offset >= n as i64 {
                0
            } else {
                r.next_begin_offset
            };
        });
        store_r.push(got as f64 / start.elapsed().as_secs_f64());
    }
    let (s, r) = (median(store_r), median(raw_r));
    ctx.row(
        "catch-up read (get 32, copy out)",
        format!("{} {}", kmsg(s), mbs(s * record_bytes)),
        format!("pread {} {}", kmsg(r), mbs(r * record_bytes)),
        s / r,
    );
    drop(store);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Bytes of CommitLog the recovery section writes and rescans (issue #3: "1 GiB of CommitLog").
fn recovery_bytes() -> u64 {
    std::env::var("FERROMQ_BENCH_RECOVERY_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(1 << 30, |mb| mb << 20)
}

/// Full rescan after an unclean stop with a torn checkpoint: every record CRC-checked, ConsumeQueue
/// and IndexFile checked against the log and rebuilt where they lag. The baseline reads the same
/// segment bytes with `pread` into one reused 1 MiB buffer and CRCs them (the store reads through
/// a mapping and allocates nothing per segment, so the baseline does not count an allocation and
/// zero-fault of a fresh buffer either).
fn recovery(ctx: &mut Ctx) {
    let want = recovery_bytes();
    eprintln!(
        "recovery: full rescan of ~{} MiB of CommitLog after a torn checkpoint",
        want >> 20
    );
    let root = ctx.path("recovery");
    let total = {
        let store = open(root.clone(), false);
        let recs = records("RecoverTopic", (0..1024).map(|i| i % 8));
        let mut i = 0usize;
        while (store.max_phy_offset() as u64) < want {
            store.put_message(&recs[i % recs.len()]).unwrap();
            i += 1;
        }
        wait_dispatched(&store);
        store.max_phy_offset() as u64
    };
    let dir = root.join("commitlog");
    // The segments holding data (not the pre-created next one, which recovery deletes).
    let segments: Vec<PathBuf> = (0..total.div_ceil(SEGMENT))
        .map(|i| dir.join(format!("{:020}", i * SEGMENT)))
        .collect();
    let (mut store_r, mut raw_r, mut cpu_r) = (vec![], vec![], vec![]);
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..ctx.rounds {
        let start = Instant::now();
        let mut left = total;
        for seg in &segments {
            let f = std::fs::File::open(seg).unwrap();
            let mut at = 0u64;
            let mut h = crc32fast::Hasher::new();
            while left > 0 && at < SEGMENT {
                let n = (buf.len() as u64).min(left).min(SEGMENT - at) as usize;
                f.read_exact_at(&mut buf[..n], at).unwrap();
                h.update(&buf[..n]);
                at += n as u64;
                left -= n as u64;
            }
            std::hint::black_box(h.finalize());
        }
        raw_r.push(total as f64 / start.elapsed().as_secs_f64());
        std::fs::write(root.join("checkpoint"), [0xFFu8; 64]).unwrap();
        let cpu0 = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
        let start = Instant::now();
        let store = open(root.clone(), false);
        let el = start.elapsed().as_secs_f64();
        cpu_r.push((cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - cpu0) as f64 / 1e9);
        assert_eq!(store.max_phy_offset() as u64, total);
        store_r.push(total as f64 / el);
        drop(store);
    }
    let (s, r) = (median(store_r), median(raw_r));
    ctx.row(
        format!("recovery full rescan {} MB", total / 1_000_000),
        format!("{} ({:.2} s CPU)", mbs(s), median(cpu_r)),
        format!("pread + crc32 {}", mbs(r)),
        s / r,
    );
    std::fs::remove_dir_all(&root).unwrap();
}

fn selected(name: &str) -> bool {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    wanted.is_empty() || wanted.iter().any(|w| w == name)
}

fn main() {
    let env_f64 = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let dir = match std::env::var_os("FERROMQ_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let mut ctx = Ctx {
        dir,
        secs: env_f64("FERROMQ_BENCH_SECS", 1.0),
        rounds: env_f64("FERROMQ_BENCH_ROUNDS", 3.0).max(1.0) as usize,
        rows: Vec::new(),
    };
    eprintln!(
        "ferromq-store bench: {} s per round, {} rounds (medians), dir {}",
        ctx.secs,
        ctx.rounds,
        ctx.dir.path().display()
    );
    let started = Instant::now();
    type Section = (&'static str, fn(&mut Ctx));
    let sections: [Section; 5] = [
        ("async", async_put),
        ("sync", sync_put),
        ("read", catch_up_read),
        ("recovery", recovery),
        ("queues", queues_50k),
    ];
    for (name, run) in sections {
        if selected(name) {
            let t = Instant::now();
            run(&mut ctx);
            eprintln!("  ({name}: {:.1} s)", t.elapsed().as_secs_f64());
        }
    }
    println!();
    println!("| figure | store | baseline (same run) | ratio |");
    println!("|---|---|---|---|");
    for r in &ctx.rows {
        println!("| {} | {} | {} | {} |", r.figure.trim(), r.store, r.baseline, r.ratio);
    }
    println!(
        "\n{} s per round, {} rounds, medians; total {:.0} s",
        ctx.secs,
        ctx.rounds,
        started.elapsed().as_secs_f64()
    );
}
