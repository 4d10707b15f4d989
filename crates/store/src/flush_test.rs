use super::*;
use std::sync::atomic::AtomicU64;

fn settings(sync: bool) -> FlushSettings {
    FlushSettings {
        sync,
        interval: Duration::from_millis(5),
        least_pages: 0,
        thorough_interval: Duration::from_secs(10),
        sync_timeout: Duration::from_millis(300),
    }
}

// Goal: a sync ticket completes Flushed only after a flush covering it; callbacks fire once.
// Method: flush fn returns a settable durable offset.
#[test]
fn sync_ticket_completes_only_after_a_covering_flush() {
    let durable = Arc::new(AtomicU64::new(0));
    let d = Arc::clone(&durable);
    let svc = FlushService::start(settings(true), Arc::new(move |_| Ok(d.load(Ordering::SeqCst))));
    let t = svc.request(100);
    let (tx, rx) = std::sync::mpsc::channel();
    t.on_complete(move |o| tx.send(o).unwrap());
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(t.outcome(), None, "not durable yet");
    durable.store(100, Ordering::SeqCst);
    assert_eq!(t.wait(), FlushOutcome::Flushed);
    assert_eq!(rx.recv().unwrap(), FlushOutcome::Flushed);
}

// Goal: ASYNC_FLUSH tickets are complete at once, each with its own offset, and a callback
// registered on one runs immediately. Method: two requests on an async service.
#[test]
fn async_tickets_are_complete_at_once_with_their_own_offsets() {
    let svc = FlushService::start(settings(false), Arc::new(|_| Ok(0)));
    let (a, b) = (svc.request(10), svc.request(20));
    assert_eq!((a.offset(), b.offset()), (10, 20));
    assert_eq!(a.outcome(), Some(FlushOutcome::Flushed));
    assert_eq!(b.wait(), FlushOutcome::Flushed);
    let (tx, rx) = std::sync::mpsc::channel();
    a.on_complete(move |o| tx.send(o).unwrap());
    assert_eq!(rx.try_recv().unwrap(), FlushOutcome::Flushed);
}

// Goal: requests queued while the flush thread is busy (not signalled) are still flushed,
// and a blocked waiter and a callback on the same ticket both see the outcome. Method: a
// slow flush function, many requests from threads during it.
#[test]
fn requests_during_a_flush_ride_on_the_next_one() {
    let durable = Arc::new(AtomicU64::new(0));
    let d = Arc::clone(&durable);
    let svc = Arc::new(FlushService::start(
        settings(true),
        Arc::new(move |_| {
            std::thread::sleep(Duration::from_millis(5));
            Ok(d.fetch_add(100, Ordering::SeqCst) + 100)
        }),
    ));
    let handles: Vec<_> = (1..=8u64)
        .map(|i| {
            let svc = Arc::clone(&svc);
            std::thread::spawn(move || {
                let t = svc.request(i * 10);
                let (tx, rx) = std::sync::mpsc::channel();
                t.on_complete(move |o| tx.send(o).unwrap());
                (t.wait(), rx.recv().unwrap())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), (FlushOutcome::Flushed, FlushOutcome::Flushed));
    }
}

// Goal: a ticket times out after syncFlushTimeout; a failed fsync fails every later ticket.
#[test]
fn ticket_times_out_and_failed_fsync_fails_later_tickets() {
    let svc = FlushService::start(settings(true), Arc::new(|_| Ok(0)));
    assert_eq!(svc.request(10).wait(), FlushOutcome::Timeout);
    drop(svc);
    let svc = FlushService::start(
        settings(true),
        Arc::new(|_| Err(crate::StoreError::NotAvailable("simulated fsync failure"))),
    );
    assert_eq!(svc.request(10).wait(), FlushOutcome::Failed);
    assert!(svc.has_failed());
    assert_eq!(svc.request(20).wait(), FlushOutcome::Failed);
}

/// A flush function that counts calls and running calls, and runs `body(call number)`.
fn instrumented(
    body: impl Fn(u64) -> StoreResult<u64> + Send + Sync + 'static,
) -> (FlushFn, Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (calls, running, max_running) = (Arc::default(), Arc::default(), Arc::default());
    let (c, r, m): (Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) =
        (Arc::clone(&calls), Arc::clone(&running), Arc::clone(&max_running));
    let f: FlushFn = Arc::new(move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        let out = body(n);
        r.fetch_sub(1, Ordering::SeqCst);
        out
    });
    (f, calls, running, max_running)
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(5), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// Goal: a request arriving while a group commit runs starts a second, overlapping one once the
// first has run for OVERLAP_AFTER (it does not wait for the first to end, nor overlap a fast
// one at once), and both tickets complete Flushed. Method: a flush function that holds its first
// call until a second call has started, and records when each call started.
#[test]
fn a_request_during_a_running_group_commit_starts_an_overlapping_one() {
    let second_started = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&second_started);
    let starts = Arc::new(Mutex::new(Vec::new()));
    let st = Arc::clone(&starts);
    let (f, calls, _, max_running) = instrumented(move |n| {
        st.lock().unwrap().push(Instant::now());
        if n == 0 {
            let start = Instant::now();
            while !s.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            s.store(true, Ordering::SeqCst);
        }
        Ok(100)
    });
    let svc = FlushService::start(settings(true), f);
    // The service times a group commit from just before it calls the flush function, so under
    // load the first call's own clock read can come later than that: the instant before the
    // first request is the earliest the first group commit can have started. The second
    // request follows the first call's start without a sleep, so an overlap started at once
    // would still come well within OVERLAP_AFTER of that instant.
    let before_first = Instant::now();
    let first = svc.request(10);
    while calls.load(Ordering::SeqCst) != 1 {
        assert!(
            before_first.elapsed() < Duration::from_secs(5),
            "timed out waiting for the first group commit"
        );
        std::thread::yield_now();
    }
    let second = svc.request(20);
    assert_eq!(second.wait(), FlushOutcome::Flushed);
    assert_eq!(first.wait(), FlushOutcome::Flushed);
    assert_eq!(
        max_running.load(Ordering::SeqCst),
        2,
        "the two group commits overlapped"
    );
    let starts = starts.lock().unwrap();
    assert!(
        starts[1].duration_since(before_first) >= OVERLAP_AFTER,
        "the second started only once the first had run for OVERLAP_AFTER"
    );
}

// Goal: a group commit that succeeds while an earlier-started one fails does not report its
// tickets durable (the two share the file's write-back error state), and later requests fail.
// Method: the first call sleeps then fails; the second returns at once with a covering offset.
#[test]
fn success_of_a_later_group_commit_does_not_hide_an_earlier_failure() {
    let (f, calls, running, _) = instrumented(|n| {
        if n == 0 {
            std::thread::sleep(Duration::from_millis(50));
            Err(crate::StoreError::NotAvailable("simulated fsync failure"))
        } else {
            Ok(1000)
        }
    });
    let svc = FlushService::start(settings(true), f);
    let first = svc.request(10);
    wait_until("the first group commit", || running.load(Ordering::SeqCst) == 1);
    let second = svc.request(20);
    wait_until("the second group commit", || calls.load(Ordering::SeqCst) == 2);
    assert_eq!(second.wait(), FlushOutcome::Failed, "must not be Flushed");
    assert_eq!(first.wait(), FlushOutcome::Failed);
    assert_eq!(svc.request(30).wait(), FlushOutcome::Failed);
}

// Goal: at most SYNC_WORKERS group commits run at once, however many requests arrive.
// Method: slow flush function, 50 requests from threads, track the peak of running calls.
#[test]
fn no_more_than_the_configured_group_commits_run_at_once() {
    let (f, _, _, max_running) = instrumented(|_| {
        std::thread::sleep(Duration::from_millis(3));
        Ok(u64::MAX)
    });
    let svc = Arc::new(FlushService::start(settings(true), f));
    let handles: Vec<_> = (0..50u64)
        .map(|i| {
            let svc = Arc::clone(&svc);
            std::thread::spawn(move || svc.request(i + 1).wait())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), FlushOutcome::Flushed);
    }
    assert!(max_running.load(Ordering::SeqCst) <= SYNC_WORKERS);
}

// Goal: a request whose offset an already applied group commit covered (appenders request
// after releasing the put lock, so requests arrive out of offset order) completes at once
// instead of waiting for a group commit that never comes. Method: flush up to 1000 for a
// request at 200, then request 100 with no later request behind it.
#[test]
fn a_late_request_below_the_durable_offset_completes_at_once() {
    let svc = FlushService::start(settings(true), Arc::new(|_| Ok(1000)));
    assert_eq!(svc.request(200).wait(), FlushOutcome::Flushed);
    let late = svc.request(100);
    assert_eq!(
        late.outcome(),
        Some(FlushOutcome::Flushed),
        "complete without another fsync"
    );
}
