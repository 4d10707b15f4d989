//! # ferromq-broker
//!
//! A RocketMQ-compatible broker over the FerroMQ store: unmodified RocketMQ clients (Java 4.9 /
//! 5.x, Go, Rust) produce, consume and administer through it as through Apache RocketMQ
//! (reference sections 2, 3.4-3.5, 4.3-4.6, 6.1-6.3, 7, 8, 9).
//!
//! Components:
//! - [`run`] (`server`): the entry point — store open, listeners (main + VIP, one dispatch
//!   table), background tasks, graceful shutdown;
//! - [`dispatch`]: the request code -> processor table; errors become responses there;
//! - [`processor`]: one file per request family (send, pull, offsets, heartbeat, locks,
//!   send-back, queries, admin);
//! - [`Broker`] (`broker`): shared state and the put path (flow control + durability wait);
//! - managers: [`topics`] (topic table, auto-create, DataVersion), [`subscriptions`] (group
//!   configs), [`offsets`] (consumer offsets), [`consumers`] / [`producers`] (connected
//!   clients), [`rebalance_lock`] (orderly queue locks), all persisted under
//!   `<storePathRootDir>/config/` by [`persist`];
//! - services: [`long_polling`] (held pulls woken by the store's arrival listener),
//!   [`flow_control`] (bounded send queue, SYSTEM_BUSY rules), [`schedule`] (delay levels),
//!   [`namesrv`] (REGISTER_BROKER / UNREGISTER_BROKER);
//! - [`config`] (`BrokerConfig`, RocketMQ keys), [`error`] (`BrokerError`, the one mapping to
//!   response codes), [`filter`] (TAG filtering), [`validate`] (topic / group name rules),
//!   [`metrics`] (with [`group_tps`], the per-group consume rate).
//!
//! Invariants:
//! - errors map to response codes only in [`BrokerError::response_code`];
//! - ONEWAY requests are never answered (the remoting layer drops their responses); unknown
//!   codes get REQUEST_CODE_NOT_SUPPORTED and the connection stays open;
//! - every send answer that reports success carries `msgId`, `queueId`, `queueOffset`,
//!   `MSG_REGION` and `TRACE_ON` in its ext fields (Java clients read them unconditionally);
//! - under SYNC_FLUSH a send is answered SUCCESS only after the fsync covering it; the wait is
//!   a callback completing a oneshot, never a blocked runtime thread;
//! - every queue fed by the network is bounded: the send queue (`sendThreadPoolQueueCapacity`),
//!   held pulls (`maxHeldPullRequests`), in-flight requests per connection (remoting);
//! - pull bodies are the store's record views, sent as a multi-segment body (no copy);
//! - no lock is held across an `.await`; blocking store and file work runs on the blocking pool
//!   (puts, config files, recovery, shutdown) — reads of mapped memory run inline.

#![warn(missing_docs)]

pub mod broker;
pub mod config;
pub mod consumers;
pub mod dispatch;
pub mod error;
pub mod filter;
pub mod flow_control;
pub mod group_tps;
pub mod long_polling;
pub mod metrics;
pub mod namesrv;
pub mod offsets;
pub mod persist;
pub mod processor;
pub mod producers;
pub mod rebalance_lock;
pub mod schedule;
mod server;
pub mod subscriptions;
pub mod topics;
mod util;
pub mod validate;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use error::{BrokerError, BusyReason};
pub use ferromq_remoting::CancellationToken;
pub use ferromq_store::MessageStoreConfig;
pub use server::{run, CLIENT_HOUSEKEEPING_INTERVAL};
