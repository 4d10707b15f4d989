//! `Producer`: sync, async, oneway and batch sends with RocketMQ's retry rules
//! (`DefaultMQProducerImpl.sendDefaultImpl`, reference 8 "Producer").
//!
//! Components:
//! - [`Producer`]: start/shutdown, the send family, the per-send retry loop;
//! - [`SendHandle`]: the future of an async send;
//! - `request`: preparing messages and batches, parsing responses;
//! - `send_frame`: the request of one attempt (header, frame).
//!
//! Invariants:
//! - one send (all attempts) never outlives `sendMsgTimeout`; an attempt starts only while
//!   budget is left and gets only what is left;
//! - a send is attempted at most `1 + retryTimesWhenSendFailed` times (oneway: once), each retry
//!   on the next queue of a broker other than the one that just failed when there is one;
//! - only transport failures, a broker missing from the route and the broker codes of
//!   [`crate::error::RETRY_RESPONSE_CODES`] are retried;
//! - the UNIQ_KEY is fixed before the first attempt, so every attempt carries the same key;
//! - async sends in flight are bounded (`backPressureForAsyncSendNum`): `send_async` waits for a
//!   permit, never queues without bound.

pub mod request;
pub mod send_frame;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ferromq_protocol::body::{HeartbeatData, MessageQueue, ProducerData};
use ferromq_protocol::header::client::UnregisterClientRequestHeader;
use ferromq_protocol::message::UniqIdGenerator;
use ferromq_protocol::RequestCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::{ClientInstance, FIRST_HEARTBEAT_DELAY};
use crate::message::{Message, SendResult};
use request::{parse_send_response, prepare_batch, prepare_message, PreparedSend};
use send_frame::{send_request, SendHeader, SendRequest};

/// Java's default producer group.
pub const DEFAULT_PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";

/// A RocketMQ producer. Clones share the connections, routes and background tasks.
#[derive(Debug, Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    instance: ClientInstance,
    group: String,
    uniq: UniqIdGenerator,
    async_permits: Arc<Semaphore>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.instance.shutdown();
    }
}

/// How the broker is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Wait for the response, retry on failure.
    Sync,
    /// No response: one attempt, done once queued on the connection.
    Oneway,
}

impl Producer {
    /// Validates `config` and starts a producer of `group`: route refresh every
    /// `pollNameServerInterval`, heartbeats (producer data only) to the brokers it knows every
    /// `heartbeatBrokerInterval`. Must be called inside a tokio runtime.
    pub fn start(config: ClientConfig, group: impl Into<String>) -> Result<Self, ClientError> {
        let group = group.into();
        if group.is_empty() {
            return Err(ClientError::Config {
                field: "producerGroup",
                reason: "must not be empty".to_owned(),
            });
        }
        let uniq = UniqIdGenerator::for_this_process(config.client_ip);
        let async_permits = Arc::new(Semaphore::new(config.max_async_sends_in_flight));
        let instance = ClientInstance::new(config)?;
        instance.start_route_refresh();
        let heartbeat = heartbeat_body(instance.client_id(), &group);
        let period = instance.config().heartbeat_broker_interval;
        instance.spawn_periodic(FIRST_HEARTBEAT_DELAY, period, move |instance| {
            let heartbeat = heartbeat.clone();
            async move {
                instance.heartbeat_all(&heartbeat).await;
            }
        });
        Ok(Producer {
            inner: Arc::new(Inner {
                instance,
                group,
                uniq,
                async_permits,
            }),
        })
    }

    /// The producer group.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The shared client machinery (routes, client id).
    pub fn instance(&self) -> &ClientInstance {
        &self.inner.instance
    }

    /// Sends one message and waits for the broker (retrying per the module rules).
    pub async fn send(&self, message: Message) -> Result<SendResult, ClientError> {
        let prepared = prepare_message(self.config(), &self.inner.uniq, message)?;
        self.send_prepared(&prepared, Mode::Sync).await.and_then(stored)
    }

    /// Starts sending one message and returns its future once an async permit is free; the
    /// send proceeds whether or not the handle is polled. Many async sends share one
    /// connection per broker.
    pub async fn send_async(&self, message: Message) -> Result<SendHandle, ClientError> {
        let prepared = prepare_message(self.config(), &self.inner.uniq, message)?;
        let permit = self.async_permit().await?;
        let producer = self.clone();
        // Boxed: the task's cell then holds a pointer, not the ~2 KB send state, which tokio
        // would otherwise copy on spawn and on each move of the task's stage (output read,
        // handle drop).
        let send = Box::pin(async move {
            let _permit: OwnedSemaphorePermit = permit;
            producer.send_prepared(&prepared, Mode::Sync).await.and_then(stored)
        });
        let task = tokio::spawn(send);
        Ok(SendHandle { task })
    }

    /// Sends one message without waiting for (or getting) a response: one attempt, done when
    /// the request is queued on the broker connection.
    pub async fn send_oneway(&self, message: Message) -> Result<(), ClientError> {
        let prepared = prepare_message(self.config(), &self.inner.uniq, message)?;
        self.send_prepared(&prepared, Mode::Oneway).await.map(|_| ())
    }

    /// Sends messages of one topic as one SEND_BATCH_MESSAGE; `msg_id` of the result is the
    /// comma-joined keys, `offset_msg_id` the broker's comma-joined offset ids.
    pub async fn send_batch(&self, messages: Vec<Message>) -> Result<SendResult, ClientError> {
        let prepared = prepare_batch(self.config(), &self.inner.uniq, messages)?;
        self.send_prepared(&prepared, Mode::Sync).await.and_then(stored)
    }

    /// Sends one message to `queue` exactly once (no queue selection, no retry).
    pub async fn send_to_queue(&self, message: Message, queue: &MessageQueue) -> Result<SendResult, ClientError> {
        let prepared = prepare_message(self.config(), &self.inner.uniq, message)?;
        let budget = self.config().send_msg_timeout;
        let deadline = Instant::now() + budget;
        let addr = self.broker_addr(&prepared.topic, &queue.broker_name).await?;
        self.attempt(&prepared, queue, &addr, deadline, budget, Mode::Sync)
            .await
            .and_then(stored)
    }

    /// Sends HEART_BEAT (producer data) to every broker in the cached routes now; returns how
    /// many accepted it. The background task does the same every `heartbeatBrokerInterval`.
    pub async fn heartbeat(&self) -> usize {
        let body = heartbeat_body(self.instance().client_id(), &self.inner.group);
        self.instance().heartbeat_all(&body).await
    }

    /// UNREGISTER_CLIENT to every known broker, then stops tasks and closes connections.
    /// Later sends fail with [`ClientError::Shutdown`].
    pub async fn shutdown(&self) {
        let instance = self.instance();
        if instance.is_shutdown() {
            return;
        }
        let header = UnregisterClientRequestHeader {
            client_id: instance.client_id().to_owned(),
            producer_group: Some(self.inner.group.clone()),
            consumer_group: None,
        };
        for addr in instance.routes().master_addrs() {
            let request = instance.request(RequestCode::UnregisterClient).with_header(&header);
            if let Err(error) = instance.invoke(&addr, request, instance.config().api_timeout).await {
                tracing::debug!(broker = %addr, %error, "unregister failed");
            }
        }
        instance.shutdown();
    }

    fn config(&self) -> &ClientConfig {
        self.inner.instance.config()
    }

    async fn async_permit(&self) -> Result<OwnedSemaphorePermit, ClientError> {
        Arc::clone(&self.inner.async_permits)
            .acquire_owned()
            .await
            .map_err(|_| ClientError::Shutdown)
    }

    /// The retry loop.
    async fn send_prepared(&self, prepared: &PreparedSend, mode: Mode) -> Result<Option<SendResult>, ClientError> {
        let instance = self.instance();
        let timeout = self.config().send_msg_timeout;
        let started = Instant::now();
        let deadline = started + timeout;
        let max_attempts = match mode {
            Mode::Sync => 1 + self.config().retry_times_when_send_failed,
            Mode::Oneway => 1,
        };
        let route = instance.publish_route(&prepared.topic).await?;
        // Brokers of the failed attempts, in order (every attempt but a last one that ended
        // the loop failed); the last one is avoided by the next selection.
        let mut failed_brokers: Vec<&str> = Vec::new();
        let mut last_error = None;
        let mut attempts = 0;
        while attempts < max_attempts {
            let avoid = failed_brokers.last().copied();
            let Some(queue) = route.publish.select_queue(avoid) else {
                return Err(ClientError::NoQueue {
                    topic: prepared.topic.clone(),
                    what: "writable",
                });
            };
            // The first attempt gets the whole budget without reading the clock again.
            let budget = if attempts == 0 {
                timeout
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            if budget.is_zero() {
                break;
            }
            attempts += 1;
            let outcome = match self.broker_addr(&prepared.topic, &queue.broker_name).await {
                Ok(addr) => self.attempt(prepared, queue, &addr, deadline, budget, mode).await,
                Err(error) => Err(error),
            };
            match outcome {
                Ok(result) => return Ok(result),
                Err(error) if error.is_send_retryable() => {
                    tracing::debug!(topic = %prepared.topic, broker = %queue.broker_name, attempt = attempts, %error, "send failed; retrying");
                    failed_brokers.push(&queue.broker_name);
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        match last_error {
            Some(last) => Err(ClientError::SendFailed {
                topic: prepared.topic.clone(),
                attempts,
                brokers: failed_brokers.into_iter().map(str::to_owned).collect(),
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                last: Box::new(last),
            }),
            None => Err(ClientError::SendTimeout {
                topic: prepared.topic.clone(),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                attempts,
            }),
        }
    }

    /// The master of `broker_name`, re-reading the route once if it is unknown.
    async fn broker_addr(&self, topic: &str, broker_name: &str) -> Result<String, ClientError> {
        let instance = self.instance();
        if let Some(addr) = instance.routes().master_addr(broker_name) {
            return Ok(addr);
        }
        Box::pin(instance.refresh_publish_route(topic)).await?;
        instance
            .routes()
            .master_addr(broker_name)
            .ok_or_else(|| ClientError::BrokerNotFound {
                broker_name: broker_name.to_owned(),
                topic: topic.to_owned(),
            })
    }

    /// One attempt at `queue`, bounded by `deadline` (`budget` from now); `None` for oneway.
    async fn attempt(
        &self,
        prepared: &PreparedSend,
        queue: &MessageQueue,
        addr: &str,
        deadline: Instant,
        budget: std::time::Duration,
        mode: Mode,
    ) -> Result<Option<SendResult>, ClientError> {
        let instance = self.instance();
        let header = SendHeader::new(self.config(), &self.inner.group, prepared, queue);
        match mode {
            Mode::Oneway => {
                let request = send_request(instance.request(prepared.code), &header);
                instance.invoke_oneway(addr, request, budget).await.map(|()| None)
            }
            Mode::Sync => {
                let request = SendRequest {
                    header,
                    language: self.config().language,
                    serialize_type: self.config().serialize_type,
                };
                let response = instance.invoke_received(addr, request, deadline, budget).await?;
                parse_send_response(addr, prepared, queue, &response).map(Some)
            }
        }
    }
}

/// The result of a sync-mode send, which always has one: only oneway sends yield `None`.
fn stored(result: Option<SendResult>) -> Result<SendResult, ClientError> {
    debug_assert!(result.is_some(), "a sync-mode send returned no result");
    result.ok_or(ClientError::Shutdown)
}

/// HEART_BEAT body of a producer: its client id and group, no consumer data.
fn heartbeat_body(client_id: &str, group: &str) -> HeartbeatData {
    HeartbeatData {
        client_id: client_id.to_owned(),
        producer_data_set: vec![ProducerData {
            group_name: group.to_owned(),
        }],
        ..Default::default()
    }
}

/// The pending result of [`Producer::send_async`].
#[derive(Debug)]
pub struct SendHandle {
    task: JoinHandle<Result<SendResult, ClientError>>,
}

impl Future for SendHandle {
    type Output = Result<SendResult, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx).map(|joined| match joined {
            Ok(result) => result,
            // The task was cancelled: the runtime is going away.
            Err(_) => Err(ClientError::Shutdown),
        })
    }
}
