//! The opaque table: requests this side sent on one connection and still waits for.
//!
//! Invariants:
//! - at most `limit` entries; inserting into a full table fails with `TooManyInFlight`;
//! - once closed, the table stays empty: every waiter is woken (its sender dropped) and no new
//!   entry is accepted, so no invoke can wait on a dead connection past its own timeout;
//! - an entry is removed exactly once: by its response, by its waiter giving up (timeout,
//!   cancellation), or by closing.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferromq_protocol::RemotingCommand;
use tokio::sync::oneshot;

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

/// Waiters keyed by opaque; `None` once the connection closed.
#[derive(Debug)]
pub(crate) struct PendingTable {
    limit: usize,
    waiters: Mutex<Option<HashMap<i32, oneshot::Sender<RemotingCommand>>>>,
}

impl PendingTable {
    pub(crate) fn new(limit: usize) -> Self {
        assert!(limit > 0, "opaque table limit must be positive");
        PendingTable {
            limit,
            waiters: Mutex::new(Some(HashMap::new())),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    // A panic while holding this lock cannot leave the map inconsistent (single-call updates),
    // so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Option<HashMap<i32, oneshot::Sender<RemotingCommand>>>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a waiter for `opaque`.
    pub(crate) fn insert(&self, opaque: i32) -> Result<oneshot::Receiver<RemotingCommand>, InsertError> {
        let mut guard = self.lock();
        let map = guard.as_mut().ok_or(InsertError::Closed)?;
        if map.len() >= self.limit {
            return Err(InsertError::Full);
        }
        if map.contains_key(&opaque) {
            return Err(InsertError::Duplicate);
        }
        let (tx, rx) = oneshot::channel();
        map.insert(opaque, tx);
        Ok(rx)
    }

    /// Hands a response to its waiter; names the response (dropped) when nobody waits for it.
    pub(crate) fn complete(&self, response: RemotingCommand) -> Result<(), Orphan> {
        let orphan = Orphan {
            opaque: response.opaque,
            code: response.code,
        };
        let waiter = self.lock().as_mut().and_then(|map| map.remove(&response.opaque));
        match waiter {
            // The waiter may have just given up; then the response is dropped like an unknown one.
            Some(tx) => tx.send(response).map_err(|_| orphan),
            None => Err(orphan),
        }
    }

    /// Forgets `opaque` (its waiter gave up).
    pub(crate) fn remove(&self, opaque: i32) {
        if let Some(map) = self.lock().as_mut() {
            map.remove(&opaque);
        }
    }

    /// Number of waiting requests.
    pub(crate) fn len(&self) -> usize {
        self.lock().as_ref().map_or(0, HashMap::len)
    }

    /// Wakes every waiter with "closed" and refuses further entries.
    pub(crate) fn close(&self) {
        let drained = self.lock().take();
        drop(drained);
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
    use ferromq_protocol::{RequestCode, ResponseCode};

    fn response(opaque: i32) -> RemotingCommand {
        let request = RemotingCommand::request(RequestCode::HeartBeat).with_opaque(opaque);
        RemotingCommand::response_to(&request, ResponseCode::Success)
    }

    // Goal: the table is bounded and rejects duplicates. Method: fill a table of 2.
    #[test]
    fn full_table_rejects_and_duplicate_opaque_is_refused() {
        let table = PendingTable::new(2);
        let _a = table.insert(1).expect("first");
        assert_eq!(table.insert(1).err(), Some(InsertError::Duplicate));
        let _b = table.insert(2).expect("second");
        assert_eq!(table.insert(3).err(), Some(InsertError::Full));
        table.remove(1);
        assert!(table.insert(3).is_ok());
    }

    // Goal: responses reach their waiter and unknown ones are handed back. Method: complete a
    // registered and an unregistered opaque.
    #[test]
    fn response_reaches_its_waiter_and_unknown_opaque_is_returned() {
        let table = PendingTable::new(4);
        let mut rx = table.insert(7).expect("insert");
        assert!(table.complete(response(7)).is_ok());
        assert_eq!(rx.try_recv().expect("delivered").opaque, 7);
        assert_eq!(table.complete(response(8)).err().map(|r| r.opaque), Some(8));
        assert_eq!(table.len(), 0);
    }

    // Goal: closing wakes waiters and refuses new ones. Method: close with one waiter.
    #[test]
    fn close_wakes_waiters_and_refuses_new_entries() {
        let table = PendingTable::new(4);
        let mut rx = table.insert(1).expect("insert");
        table.close();
        assert!(matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed)));
        assert_eq!(table.insert(2).err(), Some(InsertError::Closed));
    }

    // Goal: a guard removes its entry when dropped. Method: drop a guard, check the length.
    #[test]
    fn guard_removes_entry_on_drop() {
        let table = PendingTable::new(4);
        let _rx = table.insert(5).expect("insert");
        drop(PendingGuard {
            table: &table,
            opaque: 5,
        });
        assert_eq!(table.len(), 0);
    }
}
