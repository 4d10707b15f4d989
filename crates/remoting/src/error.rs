//! `RemotingError`: why an invoke, a send or a connect failed.

use std::io;
use std::net::SocketAddr;

use ferromq_protocol::CodecError;

use crate::config::ConfigError;

/// Failure of a remoting operation. Errors are per call: none of them closes a healthy connection
/// except `Codec` errors raised while *reading* (those are logged and close the connection; the
/// caller sees `ConnectionClosed`).
#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    /// No response arrived within the caller's timeout (the request may still be processed).
    #[error("request opaque {opaque} timed out after {timeout_ms} ms")]
    Timeout {
        /// Opaque the request was sent with.
        opaque: i32,
        /// The timeout that expired.
        timeout_ms: u64,
    },
    /// The TCP connection to `addr` could not be established within the connect timeout.
    #[error("connect to {addr} failed: {source}")]
    ConnectFailed {
        /// Address as given by the caller (`host:port`).
        addr: String,
        /// Why (`TimedOut` for the connect timeout).
        #[source]
        source: io::Error,
    },
    /// The connection closed before the response arrived, or was already closed.
    #[error("connection to {peer} is closed")]
    ConnectionClosed {
        /// The remote end.
        peer: SocketAddr,
    },
    /// This side already waits for `limit` responses on the connection (the opaque table is full).
    #[error("too many requests in flight on one connection (limit {limit})")]
    TooManyInFlight {
        /// The opaque-table limit.
        limit: usize,
    },
    /// The client already holds `limit` connections and none of them is closed.
    #[error("too many client connections (limit {limit})")]
    TooManyConnections {
        /// The client's connection limit.
        limit: usize,
    },
    /// The client was shut down.
    #[error("remoting client is shut down")]
    ClientShutdown,
    /// A server or client setting cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The command cannot be encoded (e.g. a header over 16 MiB).
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A socket error outside of an established connection (bind, accept).
    #[error(transparent)]
    Io(#[from] io::Error),
}
