//! Harness for FerroMQ's real-client compatibility suite.
//!
//! The suite drives an unmodified third-party RocketMQ client (`rocketmq-client-rust` 1.0.0 from
//! crates.io) against the `ferromq standalone` process. This library holds what the tests share:
//!
//! - [`standalone`]: spawns `$FERROMQ_BIN standalone ...` on free ports with a fresh data
//!   directory, waits for its ready line, stops it with SIGTERM or SIGKILL, restarts it on the same
//!   ports and data, and kills it when dropped;
//! - [`client`]: the client's three set-up objects (runtime owner, telemetry, client runtime) and
//!   builders for producers and push consumers with distinct instance names;
//! - [`collector`]: a push-consumer listener that records every delivery for later assertions;
//! - [`probe`]: direct broker queries through the client's instance API (route, max offset,
//!   committed consumer offset, raw pulls) — observable broker state to wait on instead of sleeps;
//! - [`wait`]: a bounded polling loop.
//!
//! Invariants: every wait has a deadline; every spawned process is killed and reaped when its
//! guard drops; a test's work directory is removed when the test passes and kept (with its path
//! and the process logs printed) when it fails.

pub mod client;
pub mod collector;
pub mod probe;
pub mod standalone;
pub mod wait;

pub use client::ClientEnv;
pub use collector::{Collector, Received};
pub use probe::{Probe, QueueProgress, RawPull};
pub use standalone::{Ports, Standalone, StandaloneOptions};
