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
