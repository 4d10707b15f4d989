//! `RemotingClient`: one lazily opened connection per address, with invoke/oneway over it.
//!
//! A connection is opened on first use (bounded by the connect timeout) and re-opened on the
//! next call after it closed (peer restart, idle close, socket error). Requests the server sends
//! on these connections (CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED, ...) go to the
//! client's [`Dispatcher`] exactly like server-side requests; unknown codes are answered
//! REQUEST_CODE_NOT_SUPPORTED unless oneway. A client connection's reader only scans the header
//! of a JSON response (flag, opaque, code; see `ferromq_protocol::received`): its invoke reads
//! what it needs ([`RemotingClient::invoke_received`]) or decodes it all (`invoke`).
//!
//! Invariants:
//! - at most one connection per address, and at most `max_connections` addresses;
//! - concurrent callers to a new address share one connect attempt;
//! - opaques come from one atomic counter shared by all of the client's connections;
//! - an invoke's timeout covers connecting, queueing and waiting for the response (as Java's
//!   `invokeSync` does).

// foldhash: the slot map is looked up once per invoke (seeded per map; SipHash cost ~240
// instructions a lookup of an address).
use foldhash::{HashMap, HashMapExt};
use std::io;
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ferromq_protocol::{ReceivedCommand, RemotingCommand};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::dispatch::Dispatcher;
use crate::driver::{self, ConnectionParams, Side};
use crate::error::RemotingError;
use crate::request::OutgoingRequest;

/// One address: its connection, read without waiting by every call, and the lock a connect
/// attempt holds so that concurrent callers share it.
#[derive(Debug, Default)]
struct Slot {
    current: Mutex<Option<Connection>>,
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The connection, if it is open.
    fn open(&self) -> Option<Connection> {
        // A single assignment or clone under the lock: a poisoned lock holds a whole value.
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    fn set(&self, connection: Connection) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection);
    }

    /// No open connection and nobody connecting: the address can be forgotten.
    fn is_idle(&self) -> bool {
        self.connecting.try_lock().is_ok() && self.open().is_none()
    }
}

/// A remoting client; clones share connections. Dropping the last clone closes them.
#[derive(Clone, Debug)]
pub struct RemotingClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    config: ClientConfig,
    dispatcher: Arc<Dispatcher>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    next_opaque: Arc<AtomicI32>,
    shutdown: CancellationToken,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl RemotingClient {
    /// A client whose connections route server-initiated requests to `dispatcher`.
    pub fn new(config: ClientConfig, dispatcher: Arc<Dispatcher>) -> Result<Self, RemotingError> {
        config.validate()?;
        Ok(RemotingClient {
            inner: Arc::new(ClientInner {
                config,
                dispatcher,
                slots: Mutex::new(HashMap::new()),
                next_opaque: Arc::new(AtomicI32::new(1)),
                shutdown: CancellationToken::new(),
            }),
        })
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        // Map operations are single calls; a poisoned lock holds a consistent map.
        self.inner.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection to `addr` (`host:port`), connecting if there is none.
    pub async fn connection(&self, addr: &str) -> Result<Connection, RemotingError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(RemotingError::ClientShutdown);
        }
        let slot = self.slot(addr)?;
        if let Some(connection) = slot.open() {
            return Ok(connection);
        }
        let _connecting = slot.connecting.lock().await;
        // Whoever held the lock before may have connected.
        if let Some(connection) = slot.open() {
            return Ok(connection);
        }
        // Boxed: the connect state would otherwise be part of every invoke's future.
        let connection = Box::pin(self.connect(addr)).await?;
        slot.set(connection.clone());
        Ok(connection)
    }

    fn slot(&self, addr: &str) -> Result<Arc<Slot>, RemotingError> {
        let mut slots = self.slots();
        if let Some(slot) = slots.get(addr) {
            return Ok(Arc::clone(slot));
        }
        let limit = self.inner.config.max_connections;
        if slots.len() >= limit {
            // Forget addresses whose connection is gone (and nobody is connecting right now).
            let idle: Vec<String> = slots
                .iter()
                .filter(|(_, slot)| slot.is_idle())
                .map(|(addr, _)| addr.clone())
                .collect();
            for addr in idle {
                slots.remove(&addr);
            }
            if slots.len() >= limit {
                return Err(RemotingError::TooManyConnections { limit });
            }
        }
        let slot = Arc::new(Slot::default());
        slots.insert(addr.to_owned(), Arc::clone(&slot));
        Ok(slot)
    }

    async fn connect(&self, addr: &str) -> Result<Connection, RemotingError> {
        let failed = |source: io::Error| RemotingError::ConnectFailed {
            addr: addr.to_owned(),
            source,
        };
        let timeout = self.inner.config.connect_timeout;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(connected) => connected.map_err(failed)?,
            Err(_) => return Err(failed(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))),
        };
        let params = ConnectionParams {
            config: self.inner.config.connection.clone(),
            dispatcher: Arc::clone(&self.inner.dispatcher),
            next_opaque: Arc::clone(&self.inner.next_opaque),
            // A client connection has no graceful stop: shutdown closes it.
            stop: CancellationToken::new(),
            abort: self.inner.shutdown.child_token(),
            side: Side::Client,
        };
        let (connection, drive) = driver::start(stream, params).map_err(failed)?;
        tokio::spawn(drive);
        tracing::debug!(addr, id = connection.id(), "connected");
        Ok(connection)
    }

    /// Sends `request` to `addr` and waits for the response; `timeout` covers connecting too.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        self.invoke_until(addr, request, Instant::now() + timeout, timeout)
            .await
    }

    /// [`RemotingClient::invoke`] of any [`OutgoingRequest`], bounded by `deadline`
    /// (connecting included), for callers that already read the clock; a timeout reports
    /// `timeout` (the caller's budget).
    pub async fn invoke_until(
        &self,
        addr: &str,
        request: impl OutgoingRequest,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let response = self.invoke_received(addr, request, deadline, timeout).await?;
        Ok(response.into_command()?)
    }

    /// [`RemotingClient::invoke_until`] answering the response as received: a JSON response
    /// has its header only scanned, for callers that read a few fields of it (a producer's
    /// SEND result) instead of the whole command.
    pub async fn invoke_received(
        &self,
        addr: &str,
        request: impl OutgoingRequest,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ReceivedCommand, RemotingError> {
        let connection = self.connection_until(addr, deadline).await?;
        connection.invoke_until(request, deadline, timeout).await
    }

    /// The open connection to `addr`, if there is one: the hot path of every call, without
    /// waiting (a connect in progress holds only the slot's `connecting` lock).
    fn open_connection(&self, addr: &str) -> Option<Connection> {
        if self.inner.shutdown.is_cancelled() {
            return None;
        }
        self.slots().get(addr)?.open()
    }

    /// Sends `request` to `addr` as ONEWAY; `timeout` covers connecting and queueing.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<(), RemotingError> {
        let deadline = Instant::now() + timeout;
        let connection = self.connection_until(addr, deadline).await?;
        connection
            .invoke_oneway(request, deadline.saturating_duration_since(Instant::now()))
            .await
    }

    /// The open connection to `addr`, or a new one connected by `deadline` (a timeout is
    /// `ConnectFailed`): the open one without waiting, connecting on a boxed path (its state,
    /// and that of waiting for someone else's connect, would otherwise be part of every
    /// caller's future).
    pub async fn connection_until(&self, addr: &str, deadline: Instant) -> Result<Connection, RemotingError> {
        match self.open_connection(addr) {
            Some(connection) => Ok(connection),
            None => Box::pin(self.connect_until(addr, deadline)).await,
        }
    }

    async fn connect_until(&self, addr: &str, deadline: Instant) -> Result<Connection, RemotingError> {
        match tokio::time::timeout_at(deadline, self.connection(addr)).await {
            Ok(connection) => connection,
            Err(_) => Err(RemotingError::ConnectFailed {
                addr: addr.to_owned(),
                source: io::Error::new(io::ErrorKind::TimedOut, "invoke timeout expired while connecting"),
            }),
        }
    }

    /// Closes and forgets the connection to `addr`, if any (the next call reconnects).
    pub fn close_connection(&self, addr: &str) {
        let slot = self.slots().remove(addr);
        if let Some(connection) = slot.and_then(|slot| slot.open()) {
            connection.close();
        }
    }

    /// Addresses with an open connection.
    pub fn connected_addrs(&self) -> Vec<String> {
        self.slots()
            .iter()
            .filter(|(_, slot)| slot.open().is_some())
            .map(|(addr, _)| addr.clone())
            .collect()
    }

    /// Closes every connection; later calls fail with `ClientShutdown`.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }
}
