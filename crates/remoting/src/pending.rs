//! The opaque table: requests this side sent on one connection and still waits for, each
//! with its deadline.
//!
//! Timeouts: one expiry loop per connection ([`PendingTable::run_expiry`], run by the
//! connection's driver) sleeps until the earliest deadline in the table and fails the invokes
//! that are due with [`Expired`]; an invoke waits on its reply alone, without a timer of its
//! own. The loop knows the earliest deadline because inserting an earlier one wakes it;
//! completions leave it stale, which at worst wakes the loop for nothing (it rescans and
//! sleeps until the new earliest). Deadlines of one connection mostly increase, so under load
//! the loop wakes about once per timeout period.
//!
//! A waiter is either a channel (an invoke awaiting its reply) or a callback (an invoke that
//! returned once its request was queued, [`crate::Connection::invoke_with`]); a callback runs
//! exactly once, on the task that ends its entry (the connection's reader for a response, the
//! expiry loop for a timeout, the closing driver or the failed writer for a close), never
//! under the table's lock.
//!
//! Invariants:
//! - at most `limit` entries; inserting into a full table fails with `TooManyInFlight`;
//! - once closed, the table stays empty: every waiter is woken (its sender dropped) and no new
//!   entry is accepted, so no invoke can wait on a dead connection past its own timeout;
//! - an entry is removed exactly once: by its response, by expiry, by its waiter giving up
//!   (cancellation), or by closing; whichever comes first decides the reply;
//! - `earliest` is at most the smallest deadline in the table (equal after each sweep).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferromq_protocol::ReceivedCommand;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// A response nobody waited for (its request timed out or was never sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Orphan {
    pub(crate) opaque: i32,
    pub(crate) code: i32,
}

/// Why an entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// The table holds `limit` entries.
    Full,
    /// The opaque is already waiting (the counter wrapped onto a still-pending request).
    Duplicate,
    /// The connection is closed.
    Closed,
}

/// The deadline of a waiting request passed before its response came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired;

/// What a waiter receives: its response (a JSON one with its header only scanned, read by
/// the waiter as far as it needs), or [`Expired`]. A dropped sender means the connection
/// closed.
pub(crate) type Reply = Result<ReceivedCommand, Expired>;

/// How a callback's entry ended without a response.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Its deadline passed.
    Expired,
    /// The connection closed (or the request could not be queued on it).
    Closed,
    /// The invoke failed before its request was queued (not made by the table).
    Failed(crate::RemotingError),
}

/// A callback waiter: called once with its opaque and the response or why there is none.
pub(crate) type Callback = Box<dyn FnOnce(i32, Result<ReceivedCommand, Ended>) + Send>;

/// Hashes opaques with one multiplication: they come from this side's own counter, so
/// SipHash's defence against chosen keys buys nothing here, and consecutive opaques spread
/// over consecutive buckets. The dispatch table's request codes use it too.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OpaqueHasher(u64);

impl Hasher for OpaqueHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, n: i32) {
        // Reinterpreting the bits: negative opaques hash like any other.
        self.0 = u64::from(n as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Where an entry's reply goes.
pub(crate) enum ReplyTo {
    Channel(oneshot::Sender<Reply>),
    Callback(Callback),
}

struct Waiter {
    to: ReplyTo,
    deadline: Instant,
}

impl Waiter {
    /// Hands the entry's end to its waiter; false when it was a response nobody took (a
    /// channel whose invoke gave up). Closing hands a channel nothing: dropping its sender
    /// says "closed".
    fn finish(self, opaque: i32, reply: Result<ReceivedCommand, Ended>) -> bool {
        match (self.to, reply) {
            (ReplyTo::Callback(callback), reply) => {
                callback(opaque, reply);
                true
            }
            (ReplyTo::Channel(tx), Ok(response)) => tx.send(Ok(response)).is_ok(),
            (ReplyTo::Channel(tx), Err(Ended::Expired)) => {
                let _ = tx.send(Err(Expired));
                true
            }
            (ReplyTo::Channel(_), Err(Ended::Closed | Ended::Failed(_))) => true,
        }
    }
}

#[derive(Default)]
struct Waiters {
    map: HashMap<i32, Waiter, BuildHasherDefault<OpaqueHasher>>,
    /// At most the smallest deadline in `map`; `None` when the expiry loop has nothing to do.
    earliest: Option<Instant>,
}

/// Waiters keyed by opaque; `None` once the connection closed.
pub(crate) struct PendingTable {
    limit: usize,
    waiters: Mutex<Option<Waiters>>,
    /// Wakes the expiry loop when an entry's deadline is earlier than the one it sleeps for.
    earlier: Notify,
}

impl std::fmt::Debug for PendingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingTable")
            .field("limit", &self.limit)
            .field("len", &self.len())
            .finish()
    }
}

impl PendingTable {
    pub(crate) fn new(limit: usize) -> Self {
        assert!(limit > 0, "opaque table limit must be positive");
        PendingTable {
            limit,
            waiters: Mutex::new(Some(Waiters::default())),
            earlier: Notify::new(),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    // A panic while holding this lock cannot leave the map inconsistent (single-call updates),
    // so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Option<Waiters>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a waiter for `opaque`, failed with [`Expired`] once `deadline` passes.
    #[cfg(test)]
    pub(crate) fn insert(&self, opaque: i32, deadline: Instant) -> Result<oneshot::Receiver<Reply>, InsertError> {
        let (tx, rx) = oneshot::channel();
        match self.insert_waiter(opaque, ReplyTo::Channel(tx), deadline) {
            Ok(()) => Ok(rx),
            Err((error, _)) => Err(error),
        }
    }

    /// Registers `callback` for `opaque`, called with [`Ended::Expired`] once `deadline`
    /// passes; a refused callback is handed back, not called.
    #[cfg(test)]
    pub(crate) fn insert_callback(
        &self,
        opaque: i32,
        deadline: Instant,
        callback: Callback,
    ) -> Result<(), (InsertError, Callback)> {
        self.insert_waiter(opaque, ReplyTo::Callback(callback), deadline)
            .map_err(|(error, to)| match to {
                ReplyTo::Callback(callback) => (error, callback),
                ReplyTo::Channel(_) => unreachable!("a callback was inserted"),
            })
    }

    /// Registers `to` for `opaque`: a channel's sender gets [`Expired`], a callback
    /// [`Ended::Expired`], once `deadline` passes; a refused waiter is handed back untouched.
    pub(crate) fn insert_waiter(
        &self,
        opaque: i32,
        to: ReplyTo,
        deadline: Instant,
    ) -> Result<(), (InsertError, ReplyTo)> {
        let mut guard = self.lock();
        let Some(waiters) = guard.as_mut() else {
            return Err((InsertError::Closed, to));
        };
        if waiters.map.len() >= self.limit {
            return Err((InsertError::Full, to));
        }
        if waiters.map.contains_key(&opaque) {
            return Err((InsertError::Duplicate, to));
        }
        waiters.map.insert(opaque, Waiter { to, deadline });
        let earlier = waiters.earliest.is_none_or(|earliest| deadline < earliest);
        if earlier {
            waiters.earliest = Some(deadline);
        }
        drop(guard);
        if earlier {
            self.earlier.notify_one();
        }
        Ok(())
    }

    /// Hands a response to its waiter; names the response (dropped) when nobody waits for it.
    pub(crate) fn complete(&self, response: ReceivedCommand) -> Result<(), Orphan> {
        let orphan = Orphan {
            opaque: response.opaque(),
            code: response.code(),
        };
        let waiter = self.lock().as_mut().and_then(|w| w.map.remove(&orphan.opaque));
        match waiter {
            // The waiter may have just given up; then the response is dropped like an unknown one.
            Some(waiter) => match waiter.finish(orphan.opaque, Ok(response)) {
                true => Ok(()),
                false => Err(orphan),
            },
            None => Err(orphan),
        }
    }

    /// Forgets `opaque` (its waiter gave up).
    pub(crate) fn remove(&self, opaque: i32) {
        let removed = self.lock().as_mut().and_then(|waiters| waiters.map.remove(&opaque));
        // Dropped outside the lock (a callback's captures may be anything).
        drop(removed);
    }

    /// Ends `opaque`'s entry, if it is still there, as [`Ended::Closed`]: its request could
    /// not be queued.
    pub(crate) fn abandon(&self, opaque: i32) {
        self.end(opaque, Ended::Closed);
    }

    /// Ends `opaque`'s entry, if it is still there, with `error`: its request could not be
    /// encoded.
    pub(crate) fn fail(&self, opaque: i32, error: crate::RemotingError) {
        self.end(opaque, Ended::Failed(error));
    }

    fn end(&self, opaque: i32, ended: Ended) {
        let removed = self.lock().as_mut().and_then(|waiters| waiters.map.remove(&opaque));
        if let Some(waiter) = removed {
            waiter.finish(opaque, Err(ended));
        }
    }

    /// Number of waiting requests.
    pub(crate) fn len(&self) -> usize {
        self.lock().as_ref().map_or(0, |w| w.map.len())
    }

    /// Wakes every waiter with "closed" and refuses further entries.
    pub(crate) fn close(&self) {
        let drained = self.lock().take();
        for (opaque, waiter) in drained.into_iter().flat_map(|waiters| waiters.map) {
            waiter.finish(opaque, Err(Ended::Closed));
        }
    }

    /// Fails every entry whose deadline is at or before `now` with [`Expired`]; returns the
    /// earliest deadline left (also kept as the table's `earliest`).
    pub(crate) fn expire(&self, now: Instant) -> Option<Instant> {
        let mut expired = Vec::new();
        let earliest = {
            let mut guard = self.lock();
            let waiters = guard.as_mut()?;
            let due: Vec<i32> = waiters
                .map
                .iter()
                .filter(|(_, waiter)| waiter.deadline <= now)
                .map(|(&opaque, _)| opaque)
                .collect();
            expired.extend(
                due.into_iter()
                    .filter_map(|opaque| waiters.map.remove(&opaque).map(|waiter| (opaque, waiter))),
            );
            waiters.earliest = waiters.map.values().map(|waiter| waiter.deadline).min();
            waiters.earliest
        };
        // Outside the lock: a waiter that gave up meanwhile just misses its reply.
        for (opaque, waiter) in expired {
            waiter.finish(opaque, Err(Ended::Expired));
        }
        earliest
    }

    /// The expiry loop of the connection's driver: never returns. Sleeps until the earliest
    /// deadline (or until an earlier one is inserted), then expires what is due.
    pub(crate) async fn run_expiry(&self) {
        loop {
            let earlier = self.earlier.notified();
            tokio::pin!(earlier);
            earlier.as_mut().enable();
            let next = self.lock().as_ref().and_then(|w| w.earliest);
            match next {
                Some(when) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(when) => {
                            self.expire(Instant::now());
                        }
                        _ = earlier => {}
                    }
                }
                None => earlier.await,
            }
        }
    }
}

impl Drop for PendingTable {
    /// A table dropped without being closed still ends its callbacks: each runs exactly once.
    fn drop(&mut self) {
        self.close();
    }
}

/// Removes its opaque from the table when dropped, so a timed-out or cancelled invoke leaves
/// nothing behind.
pub(crate) struct PendingGuard<'a> {
    pub(crate) table: &'a PendingTable,
    pub(crate) opaque: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.table.remove(self.opaque);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

    fn far() -> Instant {
        Instant::now() + std::time::Duration::from_secs(3600)
    }

    fn response(opaque: i32) -> ReceivedCommand {
        let request = RemotingCommand::request(RequestCode::HeartBeat).with_opaque(opaque);
        ReceivedCommand::from(RemotingCommand::response_to(&request, ResponseCode::Success))
    }

    // Goal: the table is bounded and rejects duplicates. Method: fill a table of 2.
    #[test]
    fn full_table_rejects_and_duplicate_opaque_is_refused() {
        let table = PendingTable::new(2);
        let _a = table.insert(1, far()).expect("first");
        assert_eq!(table.insert(1, far()).err(), Some(InsertError::Duplicate));
        let _b = table.insert(2, far()).expect("second");
        assert_eq!(table.insert(3, far()).err(), Some(InsertError::Full));
        table.remove(1);
        assert!(table.insert(3, far()).is_ok());
    }

    // Goal: responses reach their waiter and unknown ones are handed back. Method: complete a
    // registered and an unregistered opaque.
    #[test]
    fn response_reaches_its_waiter_and_unknown_opaque_is_returned() {
        let table = PendingTable::new(4);
        let mut rx = table.insert(7, far()).expect("insert");
        assert!(table.complete(response(7)).is_ok());
        assert_eq!(rx.try_recv().expect("delivered").map(|r| r.opaque()), Ok(7));
        assert_eq!(table.complete(response(8)).err().map(|r| r.opaque), Some(8));
        assert_eq!(table.len(), 0);
    }

    // Goal: closing wakes waiters and refuses new ones. Method: close with one waiter.
    #[test]
    fn close_wakes_waiters_and_refuses_new_entries() {
        let table = PendingTable::new(4);
        let mut rx = table.insert(1, far()).expect("insert");
        table.close();
        assert!(matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed)));
        assert_eq!(table.insert(2, far()).err(), Some(InsertError::Closed));
    }

    // Goal: a guard removes its entry when dropped. Method: drop a guard, check the length.
    #[test]
    fn guard_removes_entry_on_drop() {
        let table = PendingTable::new(4);
        let _rx = table.insert(5, far()).expect("insert");
        drop(PendingGuard {
            table: &table,
            opaque: 5,
        });
        assert_eq!(table.len(), 0);
    }

    // Goal: expiry fails exactly the entries that are due, leaves the others waiting, reports
    // the next deadline, and a response coming after its entry expired is an orphan.
    // Method: three deadlines, expire at the second.
    #[test]
    fn expire_fails_only_due_entries_and_reports_the_next_deadline() {
        let table = PendingTable::new(4);
        let t0 = Instant::now();
        let second = std::time::Duration::from_secs(1);
        let mut rx1 = table.insert(1, t0 + second).expect("1");
        let mut rx2 = table.insert(2, t0 + 2 * second).expect("2");
        let mut rx3 = table.insert(3, t0 + 3 * second).expect("3");
        assert_eq!(table.expire(t0 + 2 * second), Some(t0 + 3 * second));
        assert_eq!(rx1.try_recv().map(|r| r.err()), Ok(Some(Expired)));
        assert_eq!(rx2.try_recv().map(|r| r.err()), Ok(Some(Expired)));
        assert!(matches!(rx3.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        assert_eq!(table.len(), 1);
        assert_eq!(table.complete(response(1)).err().map(|o| o.opaque), Some(1));
        assert!(table.complete(response(3)).is_ok());
        assert_eq!(table.expire(t0 + 10 * second), None);
    }

    /// Calls of [`recorder`] callbacks: opaque, and the response's opaque or how it ended.
    type Log = std::sync::Arc<Mutex<Vec<(i32, Result<i32, String>)>>>;

    /// A callback that records its outcome (the opaque, and the response's opaque or how the
    /// entry ended) in `log`.
    fn recorder(log: &Log) -> Callback {
        let log = std::sync::Arc::clone(log);
        Box::new(move |opaque, reply| {
            let outcome = reply.map(|r| r.opaque()).map_err(|ended| format!("{ended:?}"));
            log.lock().unwrap().push((opaque, outcome));
        })
    }

    // Goal: a callback entry is called exactly once with its own end: the response, expiry,
    // an abandoned or failed request, or the table's close (or drop); a refused insert hands
    // the callback back uncalled; removing it (no waiter) drops it uncalled.
    // Method: one table per ending; the log lists every call.
    #[test]
    fn callbacks_run_once_with_their_own_end() {
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let second = std::time::Duration::from_secs(1);
        let table = PendingTable::new(3);
        assert!(table.insert_callback(1, t0 + second, recorder(&log)).is_ok());
        assert!(table.insert_callback(2, t0 + 3 * second, recorder(&log)).is_ok());
        let (refusal, _) = table.insert_callback(2, far(), recorder(&log)).expect_err("duplicate");
        assert_eq!(refusal, InsertError::Duplicate);
        assert!(table.insert_callback(3, far(), recorder(&log)).is_ok());
        let (refusal, back) = table.insert_callback(4, far(), recorder(&log)).expect_err("full");
        assert_eq!(refusal, InsertError::Full);
        drop(back);
        assert!(table.complete(response(3)).is_ok());
        assert_eq!(table.expire(t0 + 2 * second), Some(t0 + 3 * second));
        table.abandon(2);
        table.abandon(2);
        assert_eq!(table.len(), 0);
        assert!(table.insert_callback(5, far(), recorder(&log)).is_ok());
        table.fail(5, crate::RemotingError::TooManyInFlight { limit: 3 });
        assert!(table.insert_callback(6, far(), recorder(&log)).is_ok());
        table.remove(6);
        assert!(table.insert_callback(7, far(), recorder(&log)).is_ok());
        table.close();
        let (refusal, _) = table.insert_callback(8, far(), recorder(&log)).expect_err("closed");
        assert_eq!(refusal, InsertError::Closed);
        let dropped = PendingTable::new(1);
        assert!(dropped.insert_callback(9, far(), recorder(&log)).is_ok());
        drop(dropped);
        let log = log.lock().unwrap().clone();
        let expected: Vec<(i32, Result<i32, String>)> = vec![
            (3, Ok(3)),
            (1, Err("Expired".to_owned())),
            (2, Err("Closed".to_owned())),
            (5, Err("Failed(TooManyInFlight { limit: 3 })".to_owned())),
            (7, Err("Closed".to_owned())),
            (9, Err("Closed".to_owned())),
        ];
        assert_eq!(log, expected);
    }

    // Goal: the expiry loop fails each waiter at its own deadline, also when an earlier
    // deadline arrives while it sleeps for a later one, and an answered waiter is untouched.
    // Method: paused clock; deadlines 10 s, then 1 s, then 5 s (answered at once); check
    // when each expiry is seen.
    #[tokio::test(start_paused = true)]
    async fn expiry_loop_fails_each_waiter_at_its_own_deadline() {
        let table = std::sync::Arc::new(PendingTable::new(8));
        let expiry = tokio::spawn({
            let table = std::sync::Arc::clone(&table);
            async move { table.run_expiry().await }
        });
        let start = Instant::now();
        let second = std::time::Duration::from_secs(1);
        let late = table.insert(1, start + 10 * second).expect("late");
        tokio::task::yield_now().await;
        let early = table.insert(2, start + second).expect("early");
        let answered = table.insert(3, start + 5 * second).expect("answered");
        assert!(table.complete(response(3)).is_ok());
        assert_eq!(early.await.expect("reply").err(), Some(Expired));
        assert_eq!(start.elapsed(), second);
        assert_eq!(answered.await.expect("reply").map(|r| r.opaque()), Ok(3));
        assert_eq!(late.await.expect("reply").err(), Some(Expired));
        assert_eq!(start.elapsed(), 10 * second);
        assert_eq!(table.len(), 0);
        expiry.abort();
    }
}
