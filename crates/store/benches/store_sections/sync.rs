//! The `sync` section: SYNC_FLUSH group commit with 1, 16 and 256 long-lived appender threads,
//! and 256 in flight from one thread completed by ticket callbacks (the broker's way), each next
//! to a `pwrite + fdatasync` loop of the same group size on a pre-written file, plus two
//! overlapping such loops (informational). Each callbacks slice also prints what the store's
//! flushes did in it (`MessageStore::flush_stats`: syncs, KiB and time per sync, commit time per
//! sync). `FERROMQ_BENCH_SYNC_CALLBACKS` runs only the callbacks row, `FERROMQ_BENCH_STORE_ONLY`
//! skips the baselines (for profiling).

use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use ferromq_protocol::message::MessageRecord;
use ferromq_store::{FlushOutcome, MessageStore, PutMessageStatus};

use super::{cpu_ns, fresh_file, kmsg, mbs, median, open, records, run_for, Ctx, Measured};

pub fn sync_put(ctx: &mut Ctx) {
    eprintln!("sync: SYNC_FLUSH group commit, long-lived appender threads");
    let root = ctx.path("sync");
    let store = Arc::new(open(root.clone(), true));
    let recs = Arc::new(records("SyncTopic", (0..256).map(|i| i % 8)));
    let record_bytes = store.put_message(&recs[0]).unwrap().append.wrote_bytes;
    let raw_len: u64 = 64 << 20;
    let raw = fresh_file(&ctx.path("sync-raw"), raw_len);
    let zeros = vec![0u8; 1 << 20];
    for at in (0..raw_len).step_by(zeros.len()) {
        raw.write_all_at(&zeros, at).unwrap();
    }
    raw.sync_all().unwrap();
    let store_only = std::env::var_os("FERROMQ_BENCH_STORE_ONLY").is_some();
    let callbacks_only = std::env::var_os("FERROMQ_BENCH_SYNC_CALLBACKS").is_some();
    let sizes: &[usize] = if callbacks_only { &[256] } else { &[1, 16, 256] };
    // fdatasyncs per second of the 1 KiB loop: its inverse is the fixed cost of one fsync.
    let mut one_kib_fsyncs = None;
    for &n in sizes {
        let stop = Arc::new(AtomicBool::new(true));
        let quit = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(Barrier::new(n + 1));
        let threads: Vec<_> = (0..n)
            .map(|t| {
                let (store, recs, stop, quit, done, barrier) = (
                    Arc::clone(&store),
                    Arc::clone(&recs),
                    Arc::clone(&stop),
                    Arc::clone(&quit),
                    Arc::clone(&done),
                    Arc::clone(&barrier),
                );
                std::thread::spawn(move || loop {
                    barrier.wait();
                    if quit.load(Ordering::Acquire) {
                        return;
                    }
                    let mut count = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let r = store.put_message(&recs[t % recs.len()]).unwrap();
                        assert_eq!(r.wait_status(), PutMessageStatus::PutOk);
                        count += 1;
                    }
                    done.fetch_add(count, Ordering::AcqRel);
                    barrier.wait();
                })
            })
            .collect();
        let chunk = vec![7u8; n * record_bytes];
        let (mut store_r, mut raw_r, mut callback_r, mut raw2_r) = (vec![], vec![], vec![], vec![]);
        // The disk's fsync rate swings within seconds (other tenants): alternate in half-length
        // slices, twice as many.
        let slice = ctx.round() / 2;
        for _ in 0..ctx.rounds * 2 - 1 {
            let mut at = 0u64;
            if !store_only {
                raw_r.push(run_for(slice, |_| {
                    if at + chunk.len() as u64 > raw_len {
                        at = 0;
                    }
                    raw.write_all_at(&chunk, at).unwrap();
                    raw.sync_data().unwrap();
                    at += chunk.len() as u64;
                }));
            }
            if !callbacks_only {
                done.store(0, Ordering::Release);
                stop.store(false, Ordering::Release);
                let start = Instant::now();
                barrier.wait();
                std::thread::sleep(slice);
                stop.store(true, Ordering::Release);
                barrier.wait();
                store_r.push(done.load(Ordering::Acquire) as f64 / start.elapsed().as_secs_f64());
            }
            if n == 256 {
                let before = store.flush_stats();
                let m = callbacks_slice(&store, &recs, n, slice);
                let f = store.flush_stats().since(&before);
                let per_sync = |x: u64| x as f64 / f.syncs.max(1) as f64;
                eprintln!(
                    "    slice: callbacks {} {:.2} us CPU/put (put thread {:.2}); {} syncs of {:.0} KiB, \
                     {:.0} us each (+ {:.0} us commit); raw {}",
                    kmsg(m.rate),
                    m.process_us,
                    m.thread_us,
                    f.syncs,
                    per_sync(f.synced_bytes) / 1024.0,
                    per_sync(f.sync_ns) / 1e3,
                    per_sync(f.commit_ns) / 1e3,
                    raw_r.last().map_or("-".into(), |r| mbs(r * chunk.len() as f64))
                );
                callback_r.push(m);
                if !store_only && !callbacks_only {
                    raw2_r.push(overlapping_raw_slice(&raw, raw_len, &chunk, slice));
                }
            }
        }
        quit.store(true, Ordering::Release);
        barrier.wait();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let (s, r) = (median(store_r), median(raw_r));
        if n == 1 && !store_only {
            one_kib_fsyncs = Some(r);
        }
        if !callbacks_only {
            ctx.row(
                format!("sync put, {n} appenders"),
                format!("{} {}", kmsg(s), mbs(s * record_bytes as f64)),
                format!(
                    "{} KiB/fdatasync {:.1}k/s {}",
                    chunk.len() / 1024,
                    r / 1e3,
                    mbs(r * chunk.len() as f64)
                ),
                s * record_bytes as f64 / (r * chunk.len() as f64),
            );
        }
        if !callback_r.is_empty() {
            let c = median_by(&callback_r, |m| m.rate);
            let cpu = median_by(&callback_r, |m| m.process_us);
            let r2 = median(raw2_r.clone());
            ctx.row(
                format!("sync put, {n} in flight, 1 thread + callbacks"),
                format!("{} {}", kmsg(c), mbs(c * record_bytes as f64)),
                format!("{} KiB/fdatasync {}", chunk.len() / 1024, mbs(r * chunk.len() as f64)),
                c * record_bytes as f64 / (r * chunk.len() as f64),
            );
            ctx.row(
                "  CPU per sync put (whole process)",
                format!("{cpu:.2} us"),
                format!("at this rate {:.0}% of one core", cpu * c / 1e4),
                f64::NAN,
            );
            if !store_only {
                // What 0.8x of the disk's group-commit bandwidth would cost at this CPU per put:
                // above the machine's cores, the target is out of reach whatever the pipeline.
                let puts_at_target = 0.8 * r * chunk.len() as f64 / record_bytes as f64;
                ctx.row(
                    "  CPU that 0.8x of the disk needs at this CPU per put",
                    format!("{:.2} cores", cpu * puts_at_target / 1e6),
                    format!("{} needed; this machine has {} cores", kmsg(puts_at_target), cores()),
                    f64::NAN,
                );
            }
            if let Some(r1) = one_kib_fsyncs.filter(|_| !store_only) {
                // What any schedule of serial fsyncs can reach with a closed loop of n requests
                // (time per fsync ~ fixed + bytes / bandwidth, both from this run's loops: the
                // 1 KiB one gives the fixed cost). An fsync covering all n leaves nothing waiting
                // when it returns, so the next waits for n refills (the puts' CPU); fsyncs
                // started at once alternate two groups summing to n and pay the fixed cost twice
                // per n. The better of the two caps the ratio (overlapping fsyncs are slower on
                // this disk: the 2-loop row).
                let (fixed, full) = (1.0 / r1, 1.0 / r);
                let put_thread_us = median_by(&callback_r, |m| m.thread_us);
                ctx.row(
                    format!("  bound at {n} in flight, fsyncs at once (2 groups), free puts"),
                    format!("{:.2}x", full / (full + fixed)),
                    format!(
                        "fsync fixed {:.0} us, {} KiB {:.0} us",
                        fixed * 1e6,
                        chunk.len() / 1024,
                        full * 1e6
                    ),
                    f64::NAN,
                );
                ctx.row(
                    format!("  bound at {n} in flight, full groups, puts at put-thread CPU"),
                    format!("{:.2}x", full / (full + n as f64 * put_thread_us / 1e6)),
                    format!(
                        "{put_thread_us:.2} us per put; 0.8x needs <= {:.2} us",
                        full / 4.0 / n as f64 * 1e6
                    ),
                    f64::NAN,
                );
            }
            if !raw2_r.is_empty() {
                ctx.row(
                    "  same vs 2 overlapping write+fdatasync loops",
                    format!("{} {}", kmsg(c), mbs(c * record_bytes as f64)),
                    format!("2 x {} KiB/fdatasync {}", chunk.len() / 2048, mbs(r2)),
                    c * record_bytes as f64 / r2,
                );
            }
        }
    }
    drop(store);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Median of one field of [`Measured`] values.
fn median_by(v: &[Measured], f: impl Fn(&Measured) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

/// Two threads each looping `write half a window + fdatasync` on their own half of `raw`: the
/// disk's group-commit bandwidth with two fsyncs in flight (how the store's flush service
/// works). Returns bytes per second.
fn overlapping_raw_slice(raw: &std::fs::File, raw_len: u64, chunk: &[u8], dur: Duration) -> f64 {
    let half = &chunk[..chunk.len() / 2];
    let bytes = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let bytes = &bytes;
            s.spawn(move || {
                let (base, len) = (t * raw_len / 2, raw_len / 2);
                let mut at = 0u64;
                while start.elapsed() < dur {
                    if at + half.len() as u64 > len {
                        at = 0;
                    }
                    raw.write_all_at(half, base + at).unwrap();
                    raw.sync_data().unwrap();
                    at += half.len() as u64;
                    bytes.fetch_add(half.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    bytes.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// SYNC_FLUSH puts from one thread keeping `max` in flight, completed by ticket callbacks (how the
/// broker waits); returns completed puts per second and the process CPU time per put.
fn callbacks_slice(store: &MessageStore, recs: &[MessageRecord], max: usize, dur: Duration) -> Measured {
    let in_flight = Arc::new((Mutex::new(0usize), Condvar::new()));
    let wake_at = max * 3 / 4;
    let (t0, p0) = (
        cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID),
        cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID),
    );
    let start = Instant::now();
    let mut puts = 0u64;
    // The clock is read once per 64 puts: it is the bench's cost, not the store's.
    while !puts.is_multiple_of(64) || start.elapsed() < dur {
        {
            let mut n = in_flight.0.lock().unwrap();
            while *n >= max {
                n = in_flight.1.wait(n).unwrap();
            }
            *n += 1;
        }
        let r = store.put_message(&recs[puts as usize % recs.len()]).unwrap();
        puts += 1;
        let counter = Arc::clone(&in_flight);
        r.ticket.on_complete(move |outcome| {
            assert_eq!(outcome, FlushOutcome::Flushed);
            let mut n = counter.0.lock().unwrap();
            *n -= 1;
            if *n == wake_at {
                counter.1.notify_one();
            }
        });
    }
    let mut n = in_flight.0.lock().unwrap();
    while *n > 0 {
        n = in_flight.1.wait_timeout(n, Duration::from_millis(1)).unwrap().0;
    }
    let per_put = |ns: u64| ns as f64 / 1e3 / puts as f64;
    Measured {
        rate: puts as f64 / start.elapsed().as_secs_f64(),
        thread_us: per_put(cpu_ns(libc::CLOCK_THREAD_CPUTIME_ID) - t0),
        process_us: per_put(cpu_ns(libc::CLOCK_PROCESS_CPUTIME_ID) - p0),
    }
}

/// CPUs this process may run on.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
