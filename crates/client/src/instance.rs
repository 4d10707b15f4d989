//! `ClientInstance`: what producers and consumers share (`MQClientInstance` in Java): the
//! remoting client, the name server rotation, the route cache and the background tasks.
//!
//! Invariants:
//! - every request carries the configured language and header serialization;
//! - a route request goes to the current name server and moves to the next one on a transport
//!   failure, trying each at most once per call;
//! - background tasks stop when the instance is shut down; after that every call fails with
//!   [`ClientError::Shutdown`].

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::body::{decode_body, encode_body, HeartbeatData, TopicRouteData};
use ferromq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use ferromq_protocol::{ReceivedCommand, RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{CancellationToken, Connection, Dispatcher, OutgoingRequest, RemotingClient};
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::route::{default_route_for, RouteTable, TopicRoute};

/// First heartbeat after start (`MQClientInstance.startScheduledTask`: 1 s).
pub const FIRST_HEARTBEAT_DELAY: Duration = Duration::from_secs(1);

/// Shared client machinery; clones share everything.
#[derive(Debug, Clone)]
pub struct ClientInstance {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    client_id: String,
    remoting: RemotingClient,
    namesrv_index: AtomicUsize,
    routes: RouteTable,
    shutdown: CancellationToken,
}

impl ClientInstance {
    /// Validates `config` and builds the instance (no connection is opened yet).
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        config.validate()?;
        // Requests brokers send us (NOTIFY_CONSUMER_IDS_CHANGED, ...) are oneway or answered
        // REQUEST_CODE_NOT_SUPPORTED: neither a producer nor a pull consumer needs them.
        let remoting = RemotingClient::new(config.remoting.clone(), Arc::new(Dispatcher::new())).map_err(|e| {
            ClientError::Config {
                field: "remoting",
                reason: e.to_string(),
            }
        })?;
        // Spread clients over the name servers, as Java starts at a random index.
        let start = std::process::id() as usize % config.namesrv_addrs.len().max(1);
        Ok(ClientInstance {
            inner: Arc::new(Inner {
                client_id: config.client_id(),
                config,
                remoting,
                namesrv_index: AtomicUsize::new(start),
                routes: RouteTable::default(),
                shutdown: CancellationToken::new(),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// `ip@instanceName`.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The route cache.
    pub fn routes(&self) -> &RouteTable {
        &self.inner.routes
    }

    /// True once [`Self::shutdown`] ran.
    pub fn is_shutdown(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// A request with this client's language and header serialization.
    pub fn request(&self, code: RequestCode) -> RemotingCommand {
        let mut request = RemotingCommand::request(code);
        request.language = self.inner.config.language;
        request.serialize_type = self.inner.config.serialize_type;
        request
    }

    /// Sends `request` to `addr` and waits up to `timeout` for the response.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        self.invoke_until(addr, request, Instant::now() + timeout, timeout)
            .await
    }

    /// [`ClientInstance::invoke`] of any [`OutgoingRequest`] (a command, or a send that
    /// encodes its own frame), bounded by `deadline`, for callers that already read the clock;
    /// a timeout reports `timeout` (the caller's budget).
    pub async fn invoke_until(
        &self,
        addr: &str,
        request: impl OutgoingRequest,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        self.invoke_received(addr, request, deadline, timeout)
            .await?
            .into_command()
            .map_err(|source| ClientError::Remoting {
                addr: addr.to_owned(),
                source: source.into(),
            })
    }

    /// [`ClientInstance::invoke_until`] answering the response as received: a JSON response
    /// has its header only scanned, for callers that read a few fields of it.
    pub async fn invoke_received(
        &self,
        addr: &str,
        request: impl OutgoingRequest,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ReceivedCommand, ClientError> {
        if self.is_shutdown() {
            return Err(ClientError::Shutdown);
        }
        self.inner
            .remoting
            .invoke_received(addr, request, deadline, timeout)
            .await
            .map_err(|source| ClientError::Remoting {
                addr: addr.to_owned(),
                source,
            })
    }

    /// The connection to `addr`: the open one, or a new one connected by `deadline`.
    pub async fn connection(&self, addr: &str, deadline: Instant) -> Result<Connection, ClientError> {
        if self.is_shutdown() {
            return Err(ClientError::Shutdown);
        }
        self.inner
            .remoting
            .connection_until(addr, deadline)
            .await
            .map_err(|source| ClientError::Remoting {
                addr: addr.to_owned(),
                source,
            })
    }

    /// Sends `request` to `addr` as ONEWAY (no response); `timeout` covers connect and queueing.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        if self.is_shutdown() {
            return Err(ClientError::Shutdown);
        }
        request.set_oneway();
        self.inner
            .remoting
            .invoke_oneway(addr, request, timeout)
            .await
            .map_err(|source| ClientError::Remoting {
                addr: addr.to_owned(),
                source,
            })
    }

    /// GET_ROUTEINFO_BY_TOPIC from the name servers, rotating past ones that cannot be reached.
    pub async fn fetch_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        let addrs = &self.inner.config.namesrv_addrs;
        let mut last_error = None;
        for _ in 0..addrs.len() {
            let index = self.inner.namesrv_index.load(Ordering::Relaxed) % addrs.len();
            let Some(addr) = addrs.get(index) else { break };
            let header = GetRouteInfoRequestHeader {
                topic: topic.to_owned(),
                accept_standard_json_only: None,
            };
            let request = self.request(RequestCode::GetRouteinfoByTopic).with_header(&header);
            match self.invoke(addr, request, self.inner.config.api_timeout).await {
                Ok(response) => return route_from_response(topic, addr, &response),
                Err(error @ ClientError::Remoting { .. }) => {
                    tracing::debug!(namesrv = %addr, %error, "name server failed; trying the next one");
                    // Move on only if nobody else moved already.
                    let _ = self.inner.namesrv_index.compare_exchange(
                        index,
                        index.wrapping_add(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    last_error = Some(error);
                }
                Err(other) => return Err(other),
            }
        }
        Err(last_error.unwrap_or(ClientError::Shutdown))
    }

    /// Fetches and caches the route of `topic` (consumer view: no template fallback).
    pub async fn update_route(&self, topic: &str) -> Result<TopicRoute, ClientError> {
        let data = self.fetch_route(topic).await?;
        Ok(self.inner.routes.put(topic, data, false))
    }

    /// The route to produce to `topic`: the cache if it has writable queues, else the name
    /// server's route, else (topic unknown to the name servers) the auto-create template cut
    /// to `defaultTopicQueueNums` queues (reference 8 step 1).
    pub async fn publish_route(&self, topic: &str) -> Result<TopicRoute, ClientError> {
        if let Some(route) = self.inner.routes.get(topic) {
            if !route.publish.queues.is_empty() {
                return Ok(route);
            }
        }
        // Boxed: the cold path's state (name-server invokes) would otherwise be part of every
        // send's future, copied on every spawn.
        Box::pin(self.refresh_publish_route(topic)).await
    }

    /// Re-reads the producer route of `topic` from the name servers (with template fallback).
    pub async fn refresh_publish_route(&self, topic: &str) -> Result<TopicRoute, ClientError> {
        match self.fetch_route(topic).await {
            // A known topic keeps its own route even without writable queues (Java's
            // `isHaveTopicRouterInfo`): the send then fails with NoQueue instead of trying to
            // auto-create a topic that exists.
            Ok(data) => return Ok(self.inner.routes.put(topic, data, false)),
            Err(ClientError::TopicNotExist { .. }) => {}
            Err(other) => return Err(other),
        }
        let config = &self.inner.config;
        let template = match self.fetch_route(&config.create_topic_key).await {
            Ok(template) => template,
            Err(ClientError::TopicNotExist { .. }) => {
                return Err(ClientError::TopicNotExist {
                    topic: topic.to_owned(),
                })
            }
            Err(other) => return Err(other),
        };
        let data = default_route_for(&template, config.default_topic_queue_nums);
        Ok(self.inner.routes.put(topic, data, true))
    }

    /// HEART_BEAT with `body` to every known master; returns how many answered SUCCESS.
    pub async fn heartbeat_all(&self, body: &HeartbeatData) -> usize {
        let payload = bytes::Bytes::from(encode_body(body));
        let mut ok = 0;
        for addr in self.inner.routes.master_addrs() {
            let request = self.request(RequestCode::HeartBeat).with_body(payload.clone());
            match self.invoke(&addr, request, self.inner.config.api_timeout).await {
                Ok(response) if response.code == ResponseCode::Success.as_i32() => ok += 1,
                Ok(response) => {
                    tracing::debug!(broker = %addr, code = response.code, "heartbeat refused");
                }
                Err(error) => tracing::debug!(broker = %addr, %error, "heartbeat failed"),
            }
        }
        ok
    }

    /// Runs `tick` every `period` (first after `first_delay`) until shutdown.
    pub fn spawn_periodic<F, Fut>(&self, first_delay: Duration, period: Duration, tick: F)
    where
        F: Fn(ClientInstance) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let instance = self.clone();
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + first_delay;
            let mut interval = tokio::time::interval_at(start, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = interval.tick() => {}
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick(instance.clone()) => {}
                }
            }
        });
    }

    /// Starts the route refresh task (`pollNameServerInterval`): re-reads every cached route;
    /// a failed refresh keeps the old route.
    pub fn start_route_refresh(&self) {
        let period = self.inner.config.poll_name_server_interval;
        self.spawn_periodic(period, period, |instance| async move {
            for topic in instance.routes().topics() {
                let refreshed = match instance.routes().get(&topic) {
                    Some(route) if route.publish.from_template => instance.refresh_publish_route(&topic).await,
                    _ => instance.update_route(&topic).await,
                };
                if let Err(error) = refreshed {
                    tracing::debug!(%topic, %error, "route refresh failed; keeping the cached route");
                }
            }
        });
    }

    /// Stops the background tasks and closes every connection.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.remoting.shutdown();
    }
}

/// Turns a GET_ROUTEINFO_BY_TOPIC response into a route.
fn route_from_response(topic: &str, addr: &str, response: &RemotingCommand) -> Result<TopicRouteData, ClientError> {
    match response.response_code_enum() {
        ResponseCode::Success => decode_body(&response.body.to_bytes()).map_err(|source| ClientError::Body {
            request_code: RequestCode::GetRouteinfoByTopic.as_i32(),
            addr: addr.to_owned(),
            source,
        }),
        ResponseCode::TopicNotExist => Err(ClientError::TopicNotExist {
            topic: topic.to_owned(),
        }),
        code => Err(ClientError::Response {
            addr: addr.to_owned(),
            code,
            remark: response.remark.clone(),
        }),
    }
}
