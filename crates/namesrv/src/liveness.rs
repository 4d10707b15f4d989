//! Broker liveness: the periodic dead-broker scan and the connection-close watch
//! (`NamesrvController` scan task, `BrokerHousekeepingService`).
//!
//! - The scan runs every `scanNotActiveBrokerInterval` (read again each round, so a run-time
//!   update applies), drops brokers whose heartbeat timeout passed and closes their
//!   connections, as Java does.
//! - Every connection a broker registered on is watched once; when it closes, the brokers
//!   registered on it leave the route table at once.
//!
//! Invariants: at most one watch task per connection (the watched map holds one entry per
//! connection that registered a broker, so it is bounded by the server's connection limit);
//! the entry goes when the connection closes; every task ends at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ferromq_remoting::{CancellationToken, Connection};
use tokio::time::Instant;

use crate::state::NamesrvState;

/// Connections that carry broker registrations, by connection id.
#[derive(Debug, Default)]
pub struct ConnectionWatch {
    watched: Mutex<HashMap<u64, Connection>>,
}

impl ConnectionWatch {
    /// Watches `connection` (once): when it closes, its brokers are unregistered.
    pub fn watch(self: &Arc<Self>, state: &Arc<NamesrvState>, connection: &Connection, shutdown: &CancellationToken) {
        let id = connection.id();
        {
            let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
            if watched.contains_key(&id) {
                return;
            }
            watched.insert(id, connection.clone());
        }
        let watch = Arc::clone(self);
        let state = Arc::clone(state);
        let connection = connection.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = connection.closed() => {
                    watch.forget(id);
                    let removed = state.route_info.on_connection_closed(id);
                    tracing::debug!(connection = id, removed = removed.len(), "broker connection closed");
                }
            }
        });
    }

    /// Closes a watched connection (an expired broker's).
    pub fn close(&self, connection_id: u64) {
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(connection) = watched.get(&connection_id) {
            connection.close();
        }
    }

    /// Number of watched connections.
    pub fn len(&self) -> usize {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// True when no connection is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn forget(&self, connection_id: u64) {
        self.watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&connection_id);
    }
}

/// The dead-broker scan loop; returns at shutdown.
pub async fn scan_not_active_brokers(
    state: Arc<NamesrvState>,
    watch: Arc<ConnectionWatch>,
    shutdown: CancellationToken,
) {
    loop {
        let period = state.with_config(|config| config.scan_not_active_broker_interval());
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        for broker in state.route_info.scan_not_active_brokers(Instant::now()) {
            if let Some(connection_id) = broker.connection_id {
                watch.close(connection_id);
            }
        }
    }
}
