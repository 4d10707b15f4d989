//! Set-up of the third-party client (`rocketmq-client-rust` 1.0.0) for one test.
//!
//! The client needs three objects before any producer or consumer: a [`RuntimeOwner`], the
//! process-wide telemetry guard (installed once per test binary, it also installs the tracing
//! subscriber that prints the client's logs to stderr), and a [`ClientRuntime`]. [`ClientEnv`]
//! owns the first and the last for one test and shuts them down in reverse order.
//!
//! Quirks handled here (they are the client's, not the broker's):
//! - the push consumer runs its listener on the owner's `metadata_io` blocking lane, whose
//!   default queue holds 8 tasks per core; a burst overflows it and the overflow is sent back to
//!   `%RETRY%<group>`. [`ClientEnv`] widens that lane;
//! - clients in one process that share an instance name share one client instance; every
//!   producer, consumer and probe here gets its own instance name;
//! - offsets are persisted every [`PERSIST_OFFSET_INTERVAL_MS`] instead of the default 5 s, so
//!   tests that wait for committed offsets finish sooner.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context, Result};
use rocketmq_client_rust::{
    ClientConfig, ClientInstanceHandle, ClientRuntime, ClientRuntimeConfig, DefaultMQProducer, DefaultMQPushConsumer,
    MQPushConsumer, SendStatus, TelemetryHandle,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::SendResult;
use rocketmq_observability::{TelemetryBootstrapConfig, TelemetryRuntimeGuard};
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

use crate::collector::Collector;
use crate::probe::Probe;

/// Client log filter; override with `COMPAT_CLIENT_LOG` (e.g. `info`, `rocketmq_client_rust=debug`).
pub const CLIENT_LOG_ENV: &str = "COMPAT_CLIENT_LOG";
/// Default client log filter: the client's warnings and errors are the evidence a failing test
/// needs; info-level chatter is not, nor the runtime owner's multi-page task report when a failed
/// test drops its clients without shutting them down.
pub const DEFAULT_CLIENT_LOG: &str = "warn,rocketmq_runtime::owner=error";
/// Consumer offset persist interval given to every client (the client's default is 5000 ms).
pub const PERSIST_OFFSET_INTERVAL_MS: u32 = 1000;
/// Timeout of each synchronous send.
pub const SEND_TIMEOUT_MS: u64 = 5000;
/// Blocking threads for the client's runtime owner (default: 4 per core).
const MAX_BLOCKING_THREADS: usize = 64;
/// Concurrent listener calls (default: 2 per core).
const LISTENER_CONCURRENCY: usize = 32;
/// Listener calls queued behind them (default: 8 per core); well above any test's burst.
const LISTENER_QUEUE_DEPTH: usize = 8192;

static TELEMETRY: OnceLock<std::result::Result<TelemetryHandle, String>> = OnceLock::new();

fn telemetry() -> Result<TelemetryHandle> {
    let installed = TELEMETRY.get_or_init(|| {
        let mut config = TelemetryBootstrapConfig::default();
        config.logging.filter = std::env::var(CLIENT_LOG_ENV).unwrap_or_else(|_| DEFAULT_CLIENT_LOG.to_string());
        config.logging.console.ansi = false;
        match rocketmq_observability::install_global(&config) {
            Ok(guard) => {
                let handle = guard.handle();
                // The subscriber must outlive every test in this binary.
                let _leaked: &'static TelemetryRuntimeGuard = Box::leak(Box::new(guard));
                Ok(handle)
            }
            Err(error) => Err(error.to_string()),
        }
    });
    installed
        .clone()
        .map_err(|error| anyhow!("install client telemetry: {error}"))
}

/// The client objects of one test, bound to one name server.
pub struct ClientEnv {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
    namesrv_addr: String,
    scope: String,
    next_instance: AtomicUsize,
}

impl ClientEnv {
    /// Builds the runtime owner and client runtime for a test named `scope`.
    pub fn new(namesrv_addr: &str, scope: &str) -> Result<Self> {
        let telemetry = telemetry()?;
        let mut config = RuntimeConfig {
            thread_name: format!("compat-{scope}"),
            ..RuntimeConfig::default()
        }
        .with_max_blocking_threads(MAX_BLOCKING_THREADS)
        .map_err(|e| anyhow!("runtime config: {e:?}"))?;
        config.blocking_lane_policies.metadata_io.max_concurrency = LISTENER_CONCURRENCY;
        config.blocking_lane_policies.metadata_io.max_queue_depth = LISTENER_QUEUE_DEPTH;
        let owner = RuntimeOwner::plan(config)
            .map_err(|e| anyhow!("runtime plan: {e:?}"))?
            .build()
            .map_err(|e| anyhow!("runtime build: {e:?}"))?;
        let runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            telemetry,
        )
        .map_err(|e| anyhow!("client runtime: {e}"))?;
        Ok(Self {
            owner: Some(owner),
            runtime,
            namesrv_addr: namesrv_addr.to_string(),
            scope: scope.to_string(),
            next_instance: AtomicUsize::new(0),
        })
    }

    /// A client config for the name server with a fresh instance name.
    pub fn client_config(&self, kind: &str) -> ClientConfig {
        let n = self.next_instance.fetch_add(1, Ordering::Relaxed);
        ClientConfig {
            namesrv_addr: Some(self.namesrv_addr.clone().into()),
            instance_name: format!("{}-{kind}-{n}-{}", self.scope, std::process::id()).into(),
            persist_consumer_offset_interval: PERSIST_OFFSET_INTERVAL_MS,
            ..ClientConfig::default()
        }
    }

    /// A started producer in `group`.
    pub async fn producer(&self, group: &str) -> Result<DefaultMQProducer> {
        let mut producer = DefaultMQProducer::builder(self.runtime.clone())
            .client_config(self.client_config("producer"))
            .producer_group(group.to_string())
            .send_msg_timeout(SEND_TIMEOUT_MS as u32)
            .build();
        producer
            .start()
            .await
            .map_err(|e| anyhow!("producer {group} start: {e}"))?;
        Ok(producer)
    }

    /// A started clustering push consumer in `group` subscribed to `topic` with `expression`,
    /// recording every delivery into the returned [`Collector`].
    pub async fn push_consumer(
        &self,
        group: &str,
        topic: &str,
        expression: &str,
        from: ConsumeFromWhere,
    ) -> Result<(DefaultMQPushConsumer, Collector)> {
        let collector = Collector::default();
        let mut consumer = DefaultMQPushConsumer::builder(self.runtime.clone())
            .client_config(self.client_config("consumer"))
            .consumer_group(group.to_string())
            .message_model(MessageModel::Clustering)
            .consume_from_where(from)
            .build();
        consumer
            .subscribe(topic, expression)
            .await
            .map_err(|e| anyhow!("consumer {group} subscribe {topic} {expression:?}: {e}"))?;
        consumer.register_message_listener_concurrently(collector.clone());
        consumer
            .start()
            .await
            .map_err(|e| anyhow!("consumer {group} start: {e}"))?;
        Ok((consumer, collector))
    }

    /// A started client instance used only for direct broker queries.
    pub async fn probe(&self) -> Result<Probe> {
        let handle = ClientInstanceHandle::get_or_create(&self.runtime, 0, self.client_config("probe"), None)
            .map_err(|e| anyhow!("probe instance: {e}"))?;
        handle.start().await.map_err(|e| anyhow!("probe start: {e}"))?;
        Ok(Probe::new(handle))
    }

    /// Shuts the client runtime and its owner down (reverse order of creation).
    pub async fn shutdown(mut self) -> Result<()> {
        let report = self.runtime.shutdown().await;
        let owner = self.owner.take().context("owner already shut down")?;
        let tasks = owner.shutdown_tasks().await;
        let background = owner.shutdown_background();
        if !report.is_healthy() {
            eprintln!("compat: client runtime shutdown report: {}", report.to_json());
        }
        if !tasks.is_healthy() || !background.is_healthy() {
            eprintln!(
                "compat: runtime owner shutdown reports: {} {}",
                tasks.to_json(),
                background.to_json()
            );
        }
        Ok(())
    }
}

/// A message with a tag and a UTF-8 body.
pub fn message(topic: &str, tag: &str, body: &str) -> Message {
    Message::builder()
        .topic(topic)
        .tags(tag)
        .body_slice(body.as_bytes())
        .build_unchecked()
}

/// Sends one message synchronously and requires SEND_OK.
pub async fn send_sync_ok(producer: &DefaultMQProducer, topic: &str, tag: &str, body: &str) -> Result<SendResult> {
    let begin = std::time::Instant::now();
    let result = producer
        .send_with_timeout(message(topic, tag, body), SEND_TIMEOUT_MS)
        .await
        .map_err(|e| {
            anyhow!(
                "sync send of {body:?} to {topic} failed after {:?}: {e}",
                begin.elapsed()
            )
        })?
        .ok_or_else(|| anyhow!("sync send of {body:?} to {topic}: no send result"))?;
    if result.send_status != SendStatus::SendOk {
        return Err(anyhow!(
            "sync send of {body:?} to {topic}: status {:?}, not SEND_OK",
            result.send_status
        ));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use rocketmq_protocol::protocol::filter::filter_api::FilterAPI;

    /// Java `String.hashCode`.
    fn java_hash(s: &str) -> i32 {
        s.encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
    }

    #[test]
    fn client_1_0_0_hashes_untrimmed_tags_into_the_code_set() {
        // Goal: pin the client quirk the tag test works around. Method: build the subscription
        // the push consumer sends in its heartbeat for "TagA || TagC" and compare its codeSet
        // with the Java hashes of the trimmed and untrimmed tags.
        let sub = FilterAPI::build_subscription_data(&"T".into(), &"TagA || TagC".into()).unwrap();
        let tags: Vec<&str> = sub.tags_set.iter().map(|t| t.as_str()).collect();
        assert_eq!(tags, ["TagA", "TagC"]);
        let codes: Vec<i32> = sub.code_set.iter().copied().collect();
        let mut untrimmed = vec![java_hash("TagA "), java_hash(" TagC")];
        untrimmed.sort();
        assert_eq!(
            codes, untrimmed,
            "codeSet is no longer the untrimmed hashes; PUSH_EXPRESSION may use spaces"
        );
        assert!(!sub.code_set.contains(&java_hash("TagA")));
        let clean = FilterAPI::build_subscription_data(&"T".into(), &"TagA||TagC".into()).unwrap();
        assert!(clean.code_set.contains(&java_hash("TagA")) && clean.code_set.contains(&java_hash("TagC")));
    }
}
