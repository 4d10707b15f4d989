//! Server, client and per-connection settings, with every limit named.
//!
//! Defaults follow RocketMQ's `NettyServerConfig` / `NettyClientConfig` where one exists.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferromq_protocol::MAX_FRAME_BYTES;

/// Default limit on open server connections; further ones are closed right after accept.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Default limit on requests of one connection being processed at once. Large because a Java
/// push consumer long-polls one PULL_MESSAGE per queue over a single connection. When reached,
/// the connection is not read until a request finishes (backpressure, never an unbounded queue).
pub const DEFAULT_MAX_IN_FLIGHT_REQUESTS: usize = 8192;

/// Default limit on requests this side sent and still waits for on one connection (the opaque
/// table); Java clients bound async and oneway requests with semaphores of 65 535.
pub const DEFAULT_MAX_PENDING_INVOKES: usize = 65_536;

/// Default capacity, in frames, of a connection's outbound queue (writer task channel).
pub const DEFAULT_WRITE_QUEUE_FRAMES: usize = 1024;

/// Server idle close: no byte read or written for this long (`serverChannelMaxIdleTimeSeconds`).
pub const DEFAULT_SERVER_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Client idle close (`clientChannelMaxIdleTimeSeconds`); the connection is re-opened on demand.
pub const DEFAULT_CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a graceful shutdown waits for in-flight requests and their responses.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Client connect timeout (`connectTimeoutMillis`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Default limit on the client's connections (one per address: name servers and brokers).
pub const DEFAULT_MAX_CLIENT_CONNECTIONS: usize = 1024;

/// Default RocketMQ broker port (`listenPort`); the VIP port is this minus 2.
pub const DEFAULT_BROKER_PORT: u16 = 10911;

/// Default name server port.
pub const DEFAULT_NAMESRV_PORT: u16 = 9876;

/// How long a connection's reader busy-polls its socket after running dry before its worker
/// may sleep (FerroMQ's own setting; see `busy_poll`). Zero turns polling off.
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(100);
/// Longest accepted busy-poll window.
pub const MAX_BUSY_POLL: Duration = Duration::from_millis(10);

/// Settings of one connection, server or client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Largest accepted frame, length word included; bigger ones close the connection.
    pub max_frame_bytes: usize,
    /// Incoming requests waiting at once in tasks of their own (a long-polled pull, a put
    /// waiting for its flush); when another one would wait, reading pauses until one
    /// finishes. Requests answered inline by the reader never count.
    pub max_in_flight_requests: usize,
    /// Outgoing requests awaiting a response (opaque table size).
    pub max_pending_invokes: usize,
    /// Frames queued for the writer task.
    pub write_queue_frames: usize,
    /// Close after this long without reading or writing a byte; `None` never.
    pub idle_timeout: Option<Duration>,
    /// Bound on a graceful close: waiting for in-flight requests, then flushing their responses.
    pub drain_timeout: Duration,
    /// Busy-poll window after the reader runs dry (zero: off), at most [`MAX_BUSY_POLL`].
    pub busy_poll: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_frame_bytes: MAX_FRAME_BYTES,
            max_in_flight_requests: DEFAULT_MAX_IN_FLIGHT_REQUESTS,
            max_pending_invokes: DEFAULT_MAX_PENDING_INVOKES,
            write_queue_frames: DEFAULT_WRITE_QUEUE_FRAMES,
            idle_timeout: Some(DEFAULT_SERVER_IDLE_TIMEOUT),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            busy_poll: DEFAULT_BUSY_POLL,
        }
    }
}

impl ConnectionConfig {
    /// Checks the limits are usable (all non-zero).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks = [
            ("max_frame_bytes", self.max_frame_bytes < 8),
            ("max_in_flight_requests", self.max_in_flight_requests == 0),
            ("max_pending_invokes", self.max_pending_invokes == 0),
            ("write_queue_frames", self.write_queue_frames == 0),
            ("idle_timeout", self.idle_timeout == Some(Duration::ZERO)),
            ("busy_poll", self.busy_poll > MAX_BUSY_POLL),
        ];
        first_bad(&checks)
    }
}

/// The first `(field, is_bad)` pair that is bad, as an error.
fn first_bad(checks: &[(&'static str, bool)]) -> Result<(), ConfigError> {
    match checks.iter().find(|(_, bad)| *bad) {
        Some((field, _)) => Err(ConfigError { field }),
        None => Ok(()),
    }
}

/// A setting that cannot work, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid remoting setting {field}")]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
}

/// Settings of a [`crate::RemotingServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind (`listenPort`); port 0 picks a free port.
    pub listen_addr: SocketAddr,
    /// Open connections allowed; extra ones are closed with a WARN.
    pub max_connections: usize,
    /// Requests of one connection waiting at once (see
    /// [`ConnectionConfig::max_in_flight_requests`]).
    pub max_in_flight_requests_per_connection: usize,
    /// Close connections idle this long (`serverChannelMaxIdleTimeSeconds`); `None` never.
    pub idle_timeout: Option<Duration>,
    /// Largest accepted frame (`com.rocketmq.remoting.frameMaxLength`).
    pub max_frame_bytes: usize,
    /// Bound on graceful shutdown (in-flight requests finish and flush within it).
    pub drain_timeout: Duration,
    /// Server-initiated requests awaiting a client's response, per connection.
    pub max_pending_invokes_per_connection: usize,
    /// Frames queued for each connection's writer.
    pub write_queue_frames: usize,
    /// Busy-poll window of each connection's reader (zero: off), at most [`MAX_BUSY_POLL`].
    pub busy_poll: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_BROKER_PORT)),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight_requests_per_connection: DEFAULT_MAX_IN_FLIGHT_REQUESTS,
            idle_timeout: Some(DEFAULT_SERVER_IDLE_TIMEOUT),
            max_frame_bytes: MAX_FRAME_BYTES,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_pending_invokes_per_connection: DEFAULT_MAX_PENDING_INVOKES,
            write_queue_frames: DEFAULT_WRITE_QUEUE_FRAMES,
            busy_poll: DEFAULT_BUSY_POLL,
        }
    }
}

impl ServerConfig {
    /// Defaults listening on `listen_addr`.
    pub fn new(listen_addr: SocketAddr) -> Self {
        ServerConfig {
            listen_addr,
            ..ServerConfig::default()
        }
    }

    /// The per-connection part of the settings.
    pub fn connection(&self) -> ConnectionConfig {
        ConnectionConfig {
            max_frame_bytes: self.max_frame_bytes,
            max_in_flight_requests: self.max_in_flight_requests_per_connection,
            max_pending_invokes: self.max_pending_invokes_per_connection,
            write_queue_frames: self.write_queue_frames,
            idle_timeout: self.idle_timeout,
            drain_timeout: self.drain_timeout,
            busy_poll: self.busy_poll,
        }
    }

    /// Checks every limit; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks = [
            ("max_connections", self.max_connections == 0),
            ("max_frame_bytes", self.max_frame_bytes < 8),
            (
                "max_in_flight_requests_per_connection",
                self.max_in_flight_requests_per_connection == 0,
            ),
            (
                "max_pending_invokes_per_connection",
                self.max_pending_invokes_per_connection == 0,
            ),
            ("write_queue_frames", self.write_queue_frames == 0),
            ("idle_timeout", self.idle_timeout == Some(Duration::ZERO)),
            ("busy_poll", self.busy_poll > MAX_BUSY_POLL),
        ];
        first_bad(&checks)
    }
}

/// Settings of a [`crate::RemotingClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// TCP connect timeout (`connectTimeoutMillis`).
    pub connect_timeout: Duration,
    /// Connections (addresses) held at once.
    pub max_connections: usize,
    /// Per-connection settings (idle close defaults to 120 s like Java clients).
    pub connection: ConnectionConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_connections: DEFAULT_MAX_CLIENT_CONNECTIONS,
            connection: ConnectionConfig {
                idle_timeout: Some(DEFAULT_CLIENT_IDLE_TIMEOUT),
                ..ConnectionConfig::default()
            },
        }
    }
}

impl ClientConfig {
    /// Checks every limit; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError {
                field: "max_connections",
            });
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError {
                field: "connect_timeout",
            });
        }
        self.connection.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: defaults are valid and match RocketMQ's. Method: validate the defaults and check the
    // documented values.
    #[test]
    fn defaults_are_valid_and_match_rocketmq() {
        let server = ServerConfig::default();
        assert_eq!(server.validate(), Ok(()));
        assert_eq!(server.idle_timeout, Some(Duration::from_secs(120)));
        assert_eq!(server.max_frame_bytes, 16 * 1024 * 1024);
        assert_eq!(server.listen_addr.port(), 10911);
        assert_eq!(ClientConfig::default().validate(), Ok(()));
    }

    // Goal: a zero limit is rejected by name. Method: zero one field at a time.
    #[test]
    fn zero_limits_are_rejected_by_field_name() {
        let server = ServerConfig {
            max_in_flight_requests_per_connection: 0,
            ..ServerConfig::default()
        };
        assert_eq!(
            server.validate(),
            Err(ConfigError {
                field: "max_in_flight_requests_per_connection"
            })
        );
        let client = ClientConfig {
            max_connections: 0,
            ..ClientConfig::default()
        };
        assert_eq!(
            client.validate(),
            Err(ConfigError {
                field: "max_connections"
            })
        );
    }
}
