//! # ferromq-namesrv
//!
//! The RocketMQ-compatible name server: brokers register their topics here, clients ask it for
//! topic routes (reference sections 2.2, 3.1–3.3, 7.1, 7.2, 8).
//!
//! Components:
//! - [`route_info`] / [`route_query`] / [`route_data`]: the route table ([`RouteInfoManager`]): clusters,
//!   brokers, topic queues, broker liveness, filter servers; registration rules of the Java
//!   `RouteInfoManager`; routes, cluster info, topic lists, permission and topic edits;
//! - [`kv_config`]: the KV config ([`KvConfigManager`]), persisted to `kvConfigPath`;
//! - [`config`]: [`NamesrvConfig`] under RocketMQ's key names, with `validate()`;
//! - [`processor`]: one function per request code, from request to response;
//! - [`server`]: [`run`] / [`serve`]: the dispatch table over the remoting server, shutdown;
//! - [`liveness`]: the dead-broker scan and the broker connection-close watch;
//! - [`state`]: [`NamesrvState`], what one instance owns;
//! - [`error`]: start-up and request errors; request errors map to response codes in one place;
//! - [`properties`]: Java properties text (UPDATE/GET_NAMESRV_CONFIG bodies).
//!
//! Invariants:
//! - all route tables sit behind one lock: every request sees and leaves them consistent;
//! - a broker address leaves the tables on UNREGISTER_BROKER, when its connection closes, or
//!   when `last update + heartbeat timeout` has passed (checked every
//!   `scanNotActiveBrokerInterval`); its broker name, cluster entry and QueueData go with its
//!   last address;
//! - a KV change is on disk before SUCCESS is sent;
//! - instances share nothing: several name servers can run in one process.

pub mod config;
pub mod error;
pub mod kv_config;
pub mod liveness;
pub mod processor;
pub mod route_data;
pub mod route_info;
pub mod route_query;
pub mod server;
pub mod state;

#[cfg(test)]
mod route_info_test;

pub use config::NamesrvConfig;
pub use error::{NamesrvError, RequestError};
/// Java properties text (shared with the config loader and the broker).
pub use ferromq_config::properties;
pub use ferromq_remoting::CancellationToken;
pub use kv_config::KvConfigManager;
pub use route_info::RouteInfoManager;
pub use server::{run, serve};
pub use state::NamesrvState;
