//! The `queues` section: 50,000 queues vs one queue (issue #3), in steady state. Besides the
//! rates it reports CPU per message of the whole process and of the dispatch thread alone: the
//! put thread's CPU swings with the kernel's cost of zeroing fresh CommitLog pages (up to half
//! of it in `perf`), whichever round it hits, while the dispatch thread's shows the per-queue cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferromq_protocol::message::MessageRecord;
use ferromq_store::consume_queue::MAX_PENDING_BYTES;
use ferromq_store::fs::real::RealFs;
use ferromq_store::MessageStore;

use super::{config, cpu_ns, kmsg, measure, median, records, wait_dispatched, Ctx};

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

/// Puts `set` round robin until the store holds 95% of its ConsumeQueue pending-tail cap (or
/// 60 s passed), then waits for dispatch: afterwards every entry dispatched pushes the oldest
/// pending tail out to its file, as in a broker that has run with these queues for a while.
fn fill_pending_tails(store: &MessageStore, set: &[MessageRecord]) -> f64 {
    let start = Instant::now();
    let want = MAX_PENDING_BYTES / 20 * 19;
    let mut i = 0usize;
    while store.pending_consume_queue_bytes() < want && start.elapsed() < Duration::from_secs(60) {
        for _ in 0..1024 {
            store.put_message(&set[i % set.len()]).unwrap();
            i += 1;
        }
        if store.dispatched_phy_offset() + (32 << 20) < store.max_phy_offset() {
            wait_dispatched(store);
        }
    }
    wait_dispatched(store);
    start.elapsed().as_secs_f64()
}

/// CPU time so far of this process's threads named `name` (ns, `/proc` schedstat).
fn thread_cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// The dispatch thread's name as `/proc` shows it (15 bytes).
const DISPATCH_THREAD: &str = "ferromq-dispatc";

/// Rate and process CPU per message of putting `set` round robin for `dur`, counted until
/// dispatch caught up.
struct Sustained {
    put_rate: f64,
    sustained_rate: f64,
    process_us: f64,
    dispatch_us: f64,
}

fn sustained(store: &MessageStore, set: &[MessageRecord], dur: Duration) -> Sustained {
    wait_dispatched(store);
    let p0 = cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    let d0 = thread_cpu_ns(DISPATCH_THREAD);
    let start = Instant::now();
    let mut n = 0u64;
    let put = measure(dur, |i| {
        store.put_message(&set[i as usize % set.len()]).unwrap();
        n += 1;
    });
    let put_time = start.elapsed().as_secs_f64();
    wait_dispatched(store);
    let total = start.elapsed().as_secs_f64();
    let process_us = (cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - p0) as f64 / 1e3 / n as f64;
    let dispatch_us = thread_cpu_ns(DISPATCH_THREAD).saturating_sub(d0) as f64 / 1e3 / n as f64;
    eprintln!(
        "    round: {} queue(s): put {} (put thread {:.2} us CPU/put), caught up after {:.2} s of {:.2} s, process {process_us:.2} us, dispatch thread {dispatch_us:.2} us CPU/msg",
        if set.len() > 1024 { "50,000" } else { "1" },
        kmsg(put.rate),
        put.thread_us,
        total - put_time,
        total
    );
    Sustained {
        put_rate: put.rate,
        sustained_rate: put.rate * put_time / total,
        process_us,
        dispatch_us,
    }
}

pub(crate) fn queues_50k(ctx: &mut Ctx) {
    const QUEUES: usize = 50_000;
    eprintln!("queues: 50,000 queues (50 topics x 1,000 queue ids) vs one queue");
    let root = ctx.path("queues");
    let mut cfg = config(root.clone(), false);
    cfg.mapped_file_size_consume_queue = 1000 * 20;
    let store = MessageStore::open(cfg, Arc::new(RealFs::new())).unwrap();
    let spread: Vec<MessageRecord> = (0..QUEUES / 1000)
        .flat_map(|t| records(&format!("Q{t}"), 0..1000))
        .collect();
    // Same queues, 16-byte bodies: only fills the pending tails before a measured round.
    let warm: Vec<MessageRecord> = spread
        .iter()
        .map(|r| {
            let mut w = r.clone();
            w.body = Bytes::from_static(b"0123456789abcdef");
            w
        })
        .collect();
    let one = records("Q0", std::iter::repeat_n(0, 1024));
    let before = rss_anon_bytes();
    let start = Instant::now();
    for r in &spread {
        store.put_message(r).unwrap();
    }
    store.checkpoint_now().unwrap();
    let created = start.elapsed();
    eprintln!("  50,000 queues created in {:.1} s", created.as_secs_f64());
    let idle_rss = rss_anon_bytes();
    let per_queue = idle_rss.saturating_sub(before) as f64 / QUEUES as f64;
    ctx.row(
        "memory per idle queue (RssAnon delta)",
        format!("{per_queue:.0} B"),
        format!("target <= 4096 B; created in {:.1} s", created.as_secs_f64()),
        f64::NAN,
    );
    let (mut one_r, mut spread_r) = (vec![], vec![]);
    let (mut pending, mut fill_s) = (vec![], vec![]);
    for _ in 0..ctx.rounds {
        // One queue, with no pending tail of the 50,000 (written out, unmeasured).
        store.checkpoint_now().unwrap();
        one_r.push(sustained(&store, &one, ctx.round()));
        // 50,000 queues in steady state: pending tails at their cap first (unmeasured), so
        // every entry of the round pushes an older tail out to its file.
        fill_s.push(fill_pending_tails(&store, &warm));
        spread_r.push(sustained(&store, &spread, ctx.round()));
        pending.push(store.pending_consume_queue_bytes() as f64);
    }
    let busy_rss = rss_anon_bytes().saturating_sub(idle_rss) as f64;
    let field = |v: &[Sustained], f: fn(&Sustained) -> f64| median(v.iter().map(f).collect());
    let (o, s) = (field(&one_r, |m| m.put_rate), field(&spread_r, |m| m.put_rate));
    ctx.row(
        "put spread over 50,000 queues",
        kmsg(s),
        format!("one queue {}", kmsg(o)),
        s / o,
    );
    let (o, s) = (
        field(&one_r, |m| m.sustained_rate),
        field(&spread_r, |m| m.sustained_rate),
    );
    ctx.row(
        "  put until dispatch caught up",
        kmsg(s),
        format!("one queue {}", kmsg(o)),
        s / o,
    );
    let (o, s) = (field(&one_r, |m| m.process_us), field(&spread_r, |m| m.process_us));
    ctx.row(
        "  process CPU per message (put + dispatch)",
        format!("{s:.2} us"),
        format!("one queue {o:.2} us"),
        o / s,
    );
    let (o, s) = (field(&one_r, |m| m.dispatch_us), field(&spread_r, |m| m.dispatch_us));
    ctx.row(
        "  dispatch thread CPU per message",
        format!("{s:.2} us"),
        format!("one queue {o:.2} us"),
        o / s,
    );
    ctx.row(
        "  pending ConsumeQueue tails after a round",
        format!("{:.1} MiB", median(pending) / (1 << 20) as f64),
        format!(
            "cap {} MiB, filled in {:.1} s before each round",
            MAX_PENDING_BYTES >> 20,
            median(fill_s)
        ),
        f64::NAN,
    );
    ctx.row(
        "  memory of the busy queues (RssAnon growth)",
        format!("{:.1} MiB", busy_rss / (1 << 20) as f64),
        format!("{:.0} B per queue", busy_rss / QUEUES as f64),
        f64::NAN,
    );
    ctx.row(
        "  open ConsumeQueue files",
        store.open_consume_queue_files().to_string(),
        "",
        f64::NAN,
    );
    let t = Instant::now();
    drop(store);
    eprintln!("  store shut down in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    std::fs::remove_dir_all(&root).unwrap();
    eprintln!("  50,000 queue files removed in {:.1} s", t.elapsed().as_secs_f64());
}
