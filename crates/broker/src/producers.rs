//! `ProducerManager`: connected producers per group, as told by heartbeats
//! (`broker/.../client/ProducerManager.java`). Used by GET_PRODUCER_CONNECTION_LIST (and, once
//! transactions exist, to find a channel for CHECK_TRANSACTION_STATE).
//!
//! Invariants: a group with no channel left is removed; the lock is never held across an
//! `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferromq_protocol::body::{Connection as ConnectionBody, ProducerConnection};
use ferromq_remoting::Connection;

use crate::consumers::ClientChannel;

/// Producers per group.
#[derive(Debug, Default)]
pub struct ProducerManager {
    groups: Mutex<HashMap<String, HashMap<u64, ClientChannel>>>,
}

impl ProducerManager {
    /// An empty table.
    pub fn new() -> Self {
        ProducerManager::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<u64, ClientChannel>>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records (or refreshes) a producer channel.
    pub fn register(&self, group: &str, channel: ClientChannel) {
        self.lock()
            .entry(group.to_owned())
            .or_default()
            .insert(channel.connection.id(), channel);
    }

    /// Removes a channel from a group (UNREGISTER_CLIENT).
    pub fn unregister(&self, group: &str, connection_id: u64) {
        let mut groups = self.lock();
        if let Some(channels) = groups.get_mut(group) {
            channels.remove(&connection_id);
            if channels.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// Removes a closed channel from every group.
    pub fn remove_connection(&self, connection_id: u64) {
        let mut groups = self.lock();
        for channels in groups.values_mut() {
            channels.remove(&connection_id);
        }
        groups.retain(|_, channels| !channels.is_empty());
    }

    /// Connections whose last heartbeat is older than `now_ms - timeout_ms`.
    pub fn expired_connections(&self, now_ms: i64, timeout_ms: i64) -> Vec<Connection> {
        self.lock()
            .values()
            .flat_map(HashMap::values)
            .filter(|c| now_ms.saturating_sub(c.last_update_ms) > timeout_ms)
            .map(|c| c.connection.clone())
            .collect()
    }

    /// GET_PRODUCER_CONNECTION_LIST answer; `None` if no producer of the group is connected.
    pub fn connection_body(&self, group: &str) -> Option<ProducerConnection> {
        let groups = self.lock();
        let channels = groups.get(group)?;
        let mut connection_set: Vec<ConnectionBody> = channels.values().map(ClientChannel::to_body).collect();
        connection_set.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Some(ProducerConnection { connection_set })
    }

    /// A live connection of the group (for broker-initiated requests).
    pub fn any_connection(&self, group: &str) -> Option<Connection> {
        self.lock()
            .get(group)
            .and_then(|channels| channels.values().map(|c| c.connection.clone()).find(|c| !c.is_closed()))
    }
}
