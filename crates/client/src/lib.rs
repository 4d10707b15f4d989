//! # ferromq-client
//!
//! A RocketMQ-protocol client: a producer and a simple pull consumer that talk to any
//! RocketMQ-compatible name server and broker with standard requests only.
//!
//! Components:
//! - [`ClientConfig`] (`config`): name servers (`"a:9876;b:9876"`), client id `ip@pid`,
//!   timeouts and limits with RocketMQ's defaults;
//! - [`ClientInstance`] (`instance`): the remoting client, name server rotation, route cache,
//!   heartbeat and route-refresh tasks shared by a producer's or consumer's clones;
//! - `route`: TopicRouteData -> writable queues of masters (producers) / readable queues
//!   (consumers), the TBW102 fallback, round-robin queue selection;
//! - [`Producer`] (`producer`): sync, async (a callback, `send_with_callback`, or a future,
//!   [`SendHandle`]), oneway and batch sends with retries; [`Message`], [`SendResult`], [`SendStatus`] (`message`);
//! - [`PullConsumer`] (`consumer`): PULL_MESSAGE with optional long polling, queue and
//!   consumer offsets; [`PullResult`], [`PullStatus`], [`PullOptions`];
//! - [`ClientError`] (`error`);
//! - `fake` (feature `test-util`): an in-process name server + broker for tests.
//!
//! Invariants:
//! - every wait on the network has a timeout: sends `sendMsgTimeout` (all retries included),
//!   route and offset requests `mqClientApiTimeout`, pulls `consumerPullTimeoutMillis` or the
//!   suspend time plus a margin;
//! - every queue is bounded: async sends in flight (`backPressureForAsyncSendNum`), requests
//!   awaiting a response per connection and frames queued per connection (remoting limits);
//! - a producer only writes to master brokers (`brokerAddrs[0]`) of queues with WRITE perm;
//! - background tasks end with `shutdown` or when the last producer clone is dropped.

#![warn(missing_docs)]

pub mod config;
pub mod consumer;
pub mod error;
pub mod instance;
pub mod message;
pub mod producer;
pub mod route;

#[cfg(any(test, feature = "test-util"))]
pub mod fake;

pub use config::ClientConfig;
pub use consumer::{PullConsumer, PullOptions, PullResult, PullStatus};
pub use error::ClientError;
pub use ferromq_protocol::body::MessageQueue;
pub use ferromq_protocol::message::MessageRecord;
pub use ferromq_remoting::CancellationToken;
pub use instance::ClientInstance;
pub use message::{Message, SendResult, SendStatus};
pub use producer::{Producer, SendHandle};
