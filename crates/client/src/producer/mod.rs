//! `Producer`: sync, async, oneway and batch sends with RocketMQ's retry rules
//! (`DefaultMQProducerImpl.sendDefaultImpl`, reference 8 "Producer").
//!
//! Components:
//! - [`Producer`]: start/shutdown, the send family, the per-send retry loop;
//! - [`SendHandle`]: the future of an async send (a callback send whose callback fills it);
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
use ferromq_protocol::ReceivedCommand;
use ferromq_protocol::RequestCode;
use ferromq_remoting::RemotingError;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
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

/// Where a send's retry loop stands.
#[derive(Debug)]
struct Progress {
    started: Instant,
    /// `started` plus `sendMsgTimeout`: no attempt starts after it.
    deadline: Instant,
    attempts: u32,
    /// Brokers of the failed attempts, in order (every attempt but a last one that ended the
    /// loop failed).
    failed_brokers: Vec<String>,
    last_error: Option<ClientError>,
}

impl Progress {
    fn new(started: Instant, deadline: Instant) -> Self {
        Progress {
            started,
            deadline,
            attempts: 0,
            failed_brokers: Vec::new(),
            last_error: None,
        }
    }

    /// Progress after a first attempt at `broker_name` failed with a retryable `error`.
    fn first_failed(started: Instant, deadline: Instant, topic: &str, broker_name: &str, error: ClientError) -> Self {
        let mut progress = Progress::new(started, deadline);
        progress.attempts = 1;
        progress.failed(topic, broker_name, error);
        progress
    }

    /// Records the retryable failure of the latest attempt.
    fn failed(&mut self, topic: &str, broker_name: &str, error: ClientError) {
        tracing::debug!(topic, broker = broker_name, attempt = self.attempts, %error, "send failed; retrying");
        self.failed_brokers.push(broker_name.to_owned());
        self.last_error = Some(error);
    }

    /// The error of a send that ran out of attempts or of time.
    fn into_error(self, prepared: &PreparedSend, timeout: std::time::Duration) -> ClientError {
        match self.last_error {
            Some(last) => ClientError::SendFailed {
                topic: prepared.topic.clone(),
                attempts: self.attempts,
                brokers: self.failed_brokers,
                elapsed_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
                last: Box::new(last),
            },
            None => ClientError::SendTimeout {
                topic: prepared.topic.clone(),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                attempts: self.attempts,
            },
        }
    }
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
        let (tx, rx) = oneshot::channel();
        self.send_with_callback(message, move |outcome| {
            let _ = tx.send(outcome);
        })
        .await?;
        Ok(SendHandle { rx })
    }

    /// Sends one message asynchronously, as Java's `send(msg, SendCallback)`: returns once
    /// the request is queued on the broker's connection (first waiting for an async permit
    /// while `max_async_sends_in_flight` sends are in flight); `callback` then gets the
    /// outcome exactly once, after the retries a sync send would make. It runs on the
    /// connection's reader (or on a retry's task), so it must be quick and must not block or
    /// panic. An invalid message or a shut-down producer is the returned error instead, and
    /// the callback is not called.
    pub async fn send_with_callback<F>(&self, message: Message, callback: F) -> Result<(), ClientError>
    where
        F: FnOnce(Result<SendResult, ClientError>) + Send + 'static,
    {
        let prepared = prepare_message(self.config(), &self.inner.uniq, message)?;
        self.start_async(prepared, self.async_permit().await?, callback).await;
        Ok(())
    }

    /// [`Producer::send_with_callback`] of a batch (see [`Producer::send_batch`]).
    pub async fn send_batch_with_callback<F>(&self, messages: Vec<Message>, callback: F) -> Result<(), ClientError>
    where
        F: FnOnce(Result<SendResult, ClientError>) + Send + 'static,
    {
        let prepared = prepare_batch(self.config(), &self.inner.uniq, messages)?;
        self.start_async(prepared, self.async_permit().await?, callback).await;
        Ok(())
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
        let timeout = self.config().send_msg_timeout;
        let started = Instant::now();
        self.send_from(prepared, mode, Progress::new(started, started + timeout))
            .await
    }

    /// The retry loop from `progress` on (attempts made, brokers that failed).
    async fn send_from(
        &self,
        prepared: &PreparedSend,
        mode: Mode,
        mut progress: Progress,
    ) -> Result<Option<SendResult>, ClientError> {
        let instance = self.instance();
        let timeout = self.config().send_msg_timeout;
        let deadline = progress.deadline;
        let max_attempts = match mode {
            Mode::Sync => 1 + self.config().retry_times_when_send_failed,
            Mode::Oneway => 1,
        };
        let route = instance.publish_route(&prepared.topic).await?;
        while progress.attempts < max_attempts {
            // The last broker that failed is avoided by the next selection.
            let avoid = progress.failed_brokers.last().map(String::as_str);
            let Some(queue) = route.publish.select_queue(avoid) else {
                return Err(ClientError::NoQueue {
                    topic: prepared.topic.clone(),
                    what: "writable",
                });
            };
            // The first attempt gets the whole budget without reading the clock again.
            let budget = if progress.attempts == 0 {
                timeout
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            if budget.is_zero() {
                break;
            }
            progress.attempts += 1;
            let outcome = match self.broker_addr(&prepared.topic, &queue.broker_name).await {
                Ok(addr) => self.attempt(prepared, queue, &addr, deadline, budget, mode).await,
                Err(error) => Err(error),
            };
            match outcome {
                Ok(result) => return Ok(result),
                Err(error) if error.is_send_retryable() => {
                    progress.failed(&prepared.topic, &queue.broker_name, error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(progress.into_error(prepared, timeout))
    }

    /// The async send of a prepared message or batch: the first attempt is made here when the
    /// topic's route and the chosen broker's address are at hand (connecting to it if need
    /// be), its response handled by the connection's reader through `invoke_with` (no task);
    /// retries, and sends that must first fetch a route, run the retry loop in a task of
    /// their own. `callback` gets the outcome exactly once; the permit is released before it
    /// runs.
    async fn start_async<F>(&self, prepared: PreparedSend, permit: OwnedSemaphorePermit, callback: F)
    where
        F: FnOnce(Result<SendResult, ClientError>) + Send + 'static,
    {
        let instance = self.instance();
        let timeout = self.config().send_msg_timeout;
        let started = Instant::now();
        let deadline = started + timeout;
        let first = instance.routes().get(&prepared.topic).and_then(|route| {
            let index = route.publish.select_index(None)?;
            let addr = instance
                .routes()
                .shared_master_addr(&route.publish.queues[index].broker_name)?;
            Some((route.publish, index, addr))
        });
        let Some((publish, index, addr)) = first else {
            self.spawn_send(Arc::new(prepared), Progress::new(started, deadline), permit, callback);
            return;
        };
        let connection = match instance.connection(&addr, deadline).await {
            Ok(connection) => connection,
            Err(error) if !error.is_send_retryable() => {
                drop(permit);
                return callback(Err(error));
            }
            Err(error) => {
                let broker_name = &publish.queues[index].broker_name;
                let progress = Progress::first_failed(started, deadline, &prepared.topic, broker_name, error);
                self.spawn_send(Arc::new(prepared), progress, permit, callback);
                return;
            }
        };
        let prepared = Arc::new(prepared);
        let request = SendRequest {
            header: SendHeader::new(self.config(), &self.inner.group, &prepared, &publish.queues[index]),
            language: self.config().language,
            serialize_type: self.config().serialize_type,
        };
        let producer = self.clone();
        let in_reply = Arc::clone(&prepared);
        let route = Arc::clone(&publish);
        let on_reply = move |reply: Result<ReceivedCommand, RemotingError>| {
            let queue = &route.queues[index];
            let outcome = match reply {
                Ok(response) => parse_send_response(&addr, &in_reply, queue, &response),
                Err(source) => Err(ClientError::Remoting {
                    addr: addr.to_string(),
                    source,
                }),
            };
            match outcome {
                Err(error) if error.is_send_retryable() => {
                    let progress =
                        Progress::first_failed(started, deadline, &in_reply.topic, &queue.broker_name, error);
                    producer.spawn_send(in_reply, progress, permit, callback);
                }
                outcome => {
                    drop(permit);
                    callback(outcome);
                }
            }
        };
        connection.invoke_with(request, deadline, timeout, on_reply).await;
    }

    /// Runs the retry loop from `progress` in a task of its own, then `callback`.
    fn spawn_send<F>(&self, prepared: Arc<PreparedSend>, progress: Progress, permit: OwnedSemaphorePermit, callback: F)
    where
        F: FnOnce(Result<SendResult, ClientError>) + Send + 'static,
    {
        let producer = self.clone();
        // Boxed: the task's cell then holds a pointer, not the ~2 KB send state.
        tokio::spawn(Box::pin(async move {
            let outcome = producer
                .send_from(&prepared, Mode::Sync, progress)
                .await
                .and_then(stored);
            drop(permit);
            callback(outcome);
        }));
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
    rx: oneshot::Receiver<Result<SendResult, ClientError>>,
}

impl Future for SendHandle {
    type Output = Result<SendResult, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|sent| match sent {
            Ok(result) => result,
            // The callback was dropped uncalled: its task was cancelled, the runtime is going away.
            Err(_) => Err(ClientError::Shutdown),
        })
    }
}
