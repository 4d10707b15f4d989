//! `RemotingServer`: the accept loop, the connection limit and graceful shutdown.
//!
//! Binding is separate from running, so tests bind `127.0.0.1:0` and read the local address,
//! and a broker binds its main and VIP ports (port − 2) and runs both with one dispatcher.
//!
//! Shutdown (cancel the token given to [`RemotingServer::run`]): stop accepting and close the
//! listener; every connection stops reading, lets its in-flight requests finish and flushes
//! their responses; after the drain timeout whatever is left is closed. `run` returns when every
//! connection is closed.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicI32;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::ServerConfig;
use crate::dispatch::Dispatcher;
use crate::driver::{self, ConnectionParams, Side};
use crate::error::RemotingError;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// A bound, not yet running, remoting server.
#[derive(Debug)]
pub struct RemotingServer {
    listener: TcpListener,
    config: ServerConfig,
}

impl RemotingServer {
    /// Validates `config` and binds its listen address.
    pub async fn bind(config: ServerConfig) -> Result<Self, RemotingError> {
        config.validate()?;
        let listener = TcpListener::bind(config.listen_addr).await?;
        Ok(RemotingServer { listener, config })
    }

    /// Wraps an already bound listener (`config.listen_addr` is ignored).
    pub fn from_listener(listener: TcpListener, config: ServerConfig) -> Result<Self, RemotingError> {
        config.validate()?;
        Ok(RemotingServer { listener, config })
    }

    /// The address actually bound (the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then drains and returns.
    pub async fn run(self, dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) -> Result<(), RemotingError> {
        let local = self.listener.local_addr()?;
        let span = tracing::info_span!("remoting_server", %local);
        self.serve(dispatcher, shutdown).instrument(span).await
    }

    async fn serve(self, dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) -> Result<(), RemotingError> {
        let RemotingServer { listener, config } = self;
        tracing::info!(max_connections = config.max_connections, "listening");

        let connection_slots = Arc::new(Semaphore::new(config.max_connections));
        let tracker = TaskTracker::new();
        let abort_all = CancellationToken::new();
        let next_opaque = Arc::new(AtomicI32::new(1));
        let connection_config = config.connection();

        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let stream: TcpStream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => continue,
                    }
                }
            };
            let Ok(slot) = Arc::clone(&connection_slots).try_acquire_owned() else {
                tracing::warn!(
                    peer = ?driver::peer_of(&stream),
                    limit = config.max_connections,
                    "connection limit reached; closing new connection"
                );
                continue;
            };
            let params = ConnectionParams {
                config: connection_config.clone(),
                dispatcher: Arc::clone(&dispatcher),
                next_opaque: Arc::clone(&next_opaque),
                stop: shutdown.child_token(),
                abort: abort_all.child_token(),
                side: Side::Server,
            };
            match driver::start(stream, params) {
                Ok((_connection, drive)) => {
                    tracker.spawn(async move {
                        drive.await;
                        drop(slot);
                    });
                }
                // The peer may already be gone (no peer address): nothing to serve.
                Err(error) => tracing::debug!(%error, "accepted connection unusable"),
            }
        }

        drop(listener);
        tracker.close();
        tracing::info!(connections = tracker.len(), "shutting down; draining connections");
        if tokio::time::timeout(config.drain_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::info!(
                connections = tracker.len(),
                "drain timeout; closing remaining connections"
            );
            abort_all.cancel();
            tracker.wait().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}
