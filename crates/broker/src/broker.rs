//! `Broker`: the state every processor and background task shares — configuration, the store,
//! the managers, flow control, long polling and metrics — and the operations several
//! processors need (putting records with the durability wait, client channel housekeeping,
//! NOTIFY_CONSUMER_IDS_CHANGED).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ferromq_protocol::body::DataVersion;
use ferromq_protocol::header::broker_to_client::NotifyConsumerIdsChangedRequestHeader;
use ferromq_protocol::message::{MessageRecord, UniqIdGenerator};
use ferromq_protocol::{RemotingCommand, RequestCode};
use ferromq_remoting::{BatchHook, CancellationToken, Connection};
use ferromq_store::store::status_of;
use ferromq_store::{FlushTicket, MessageStore, MessageStoreConfig, PutMessageResult, PutMessageStatus};
use tokio::sync::oneshot;

use crate::config::BrokerConfig;
use crate::consumers::{ConsumerManager, GroupChange};
use crate::error::BrokerError;
use crate::flow_control::SendFlowControl;
use crate::long_polling::PullHoldService;
use crate::metrics::BrokerMetrics;
use crate::offsets::ConsumerOffsetManager;
use crate::producers::ProducerManager;
use crate::rebalance_lock::RebalanceLockManager;
use crate::schedule::ScheduleService;
use crate::subscriptions::SubscriptionGroupManager;
use crate::topics::TopicConfigManager;
use crate::util::{now_ms, CoarseInstant};

/// Bound on queueing one NOTIFY_CONSUMER_IDS_CHANGED for a client (Java uses 10 ms; a full
/// write queue means the client is not reading, and it rebalances every 20 s anyway).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_millis(500);

/// Extra time granted beyond `syncFlushTimeout` before a SYNC_FLUSH put answers
/// FLUSH_DISK_TIMEOUT (the flush thread reports its own timeout first in normal operation).
pub const FLUSH_WAIT_MARGIN: Duration = Duration::from_millis(100);

/// [`MessageStore::publish`] as a batch-end hook.
struct PublishHook(BatchHook);

impl std::fmt::Debug for PublishHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublishHook")
    }
}

/// Shared broker state.
#[derive(Debug)]
pub struct Broker {
    config: RwLock<Arc<BrokerConfig>>,
    /// Store settings (read-only at runtime).
    pub store_config: MessageStoreConfig,
    /// The message store.
    pub store: Arc<MessageStore>,
    /// Topic table.
    pub topics: TopicConfigManager,
    /// Consumer group configs.
    pub groups: SubscriptionGroupManager,
    /// Committed consumer offsets.
    pub offsets: ConsumerOffsetManager,
    /// Connected consumers.
    pub consumers: ConsumerManager,
    /// Connected producers.
    pub producers: ProducerManager,
    /// Orderly consumers' queue locks.
    pub locks: RebalanceLockManager,
    /// Send queue and workers.
    pub flow: SendFlowControl,
    /// Held (long-polled) pulls.
    pub holds: Arc<PullHoldService>,
    /// Counters.
    pub metrics: BrokerMetrics,
    /// STOREHOST of every record written here: brokerIP1 and the main port.
    pub store_host: SocketAddr,
    /// UNIQ_KEY generator for messages that arrive without one.
    pub uniq_ids: UniqIdGenerator,
    /// Delay of each level in ms (index 0 = level 1).
    pub delay_levels_ms: Vec<i64>,
    /// Cancelled when the broker starts shutting down.
    pub shutdown: CancellationToken,
    /// Publishes the store's appended records; deferred to the end of a connection's batch.
    publish: PublishHook,
    /// Start time, ms.
    pub boot_timestamp: i64,
    /// Delayed delivery (None when `scheduleMessageEnable` is off).
    pub schedule: Option<Arc<ScheduleService>>,
    config_version: Mutex<DataVersion>,
    watched: Mutex<HashSet<u64>>,
}

/// Everything [`Broker::new`] needs.
#[derive(Debug)]
pub struct BrokerParts {
    /// Validated broker config (listen port = the real main port).
    pub config: BrokerConfig,
    /// Store config.
    pub store_config: MessageStoreConfig,
    /// The opened store.
    pub store: Arc<MessageStore>,
    /// STOREHOST.
    pub store_host: SocketAddr,
    /// Shutdown token of the broker.
    pub shutdown: CancellationToken,
}

impl Broker {
    /// Loads the config files under the store root and assembles the broker.
    pub fn new(parts: BrokerParts) -> Result<Arc<Self>, BrokerError> {
        let BrokerParts {
            config,
            store_config,
            store,
            store_host,
            shutdown,
        } = parts;
        let root = store_config.store_path_root_dir.clone();
        let topics = TopicConfigManager::load(&config, &root)?;
        let groups = SubscriptionGroupManager::load(config.auto_create_subscription_group, &root)?;
        let offsets = ConsumerOffsetManager::load(&root)?;
        let delay_levels_ms = store_config
            .delay_levels_ms()
            .ok_or_else(|| BrokerError::InvalidConfig {
                key: "messageDelayLevel",
                reason: format!("{:?} is not a list like \"1s 5m 2h\"", store_config.message_delay_level),
            })?;
        let holds = Arc::new(PullHoldService::new(config.max_held_pull_requests));
        let schedule = if config.schedule_message_enable {
            let service = ScheduleService::load(Arc::clone(&store), delay_levels_ms.clone(), &root)?;
            Some(Arc::new(service))
        } else {
            None
        };
        let publish = PublishHook({
            let store = Arc::clone(&store);
            Arc::new(move || store.publish())
        });
        let broker = Broker {
            flow: SendFlowControl::new(&config),
            uniq_ids: UniqIdGenerator::for_this_process(store_host.ip()),
            config: RwLock::new(Arc::new(config)),
            store_config,
            store,
            topics,
            groups,
            offsets,
            consumers: ConsumerManager::new(),
            producers: ProducerManager::new(),
            locks: RebalanceLockManager::default(),
            holds,
            metrics: BrokerMetrics::default(),
            store_host,
            delay_levels_ms,
            shutdown,
            publish,
            boot_timestamp: now_ms(),
            schedule,
            config_version: Mutex::new(DataVersion::new(now_ms())),
            watched: Mutex::new(HashSet::new()),
        };
        Ok(Arc::new(broker))
    }

    /// The current configuration (cheap to clone; UPDATE_BROKER_CONFIG swaps it).
    pub fn config(&self) -> Arc<BrokerConfig> {
        Arc::clone(&self.config.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the configuration (already validated) and bumps its DataVersion.
    pub fn set_config(&self, config: BrokerConfig) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        self.config_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_version(now_ms());
    }

    /// DataVersion of the configuration (GET_BROKER_CONFIG `version`).
    pub fn config_version(&self) -> DataVersion {
        self.config_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `brokerIP1:listenPort`, the address clients and name servers know this broker by.
    pub fn broker_addr(&self) -> String {
        self.store_host.to_string()
    }

    /// Appends records (one message, or a batch stored contiguously) through flow control and
    /// waits for durability under SYNC_FLUSH without blocking a runtime thread.
    /// The result lists every stored record's offset and size (batch msgIds).
    ///
    /// With `batch` (the connection a send request came on), the records are published (made
    /// readable: one `pwrite` and one dispatch pass, see [`MessageStore::publish`]) at the end
    /// of the batch of requests read from that connection, before their responses are written;
    /// without, before this returns.
    pub async fn put_records(
        &self,
        records: &[MessageRecord],
        batch: Option<&Connection>,
    ) -> Result<(PutMessageResult, PutMessageStatus), BrokerError> {
        let store = &self.store;
        // Put latency is counted in millisecond buckets: the coarse clock is precise enough.
        let started = CoarseInstant::now();
        let result = match batch {
            // Published once for the whole batch of requests read from the connection.
            Some(_) => {
                self.flow
                    .run(started, || store.put_messages_unpublished(records))
                    .await?
            }
            None => self.flow.run(started, || store.put_messages(records)).await?,
        };
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                self.metrics.record_put_failure();
                return Err(BrokerError::Store(error));
            }
        };
        if let Some(connection) = batch {
            connection.defer_to_batch_end(&self.publish.0);
        }
        let timeout = Duration::from_millis(self.store_config.sync_flush_timeout) + FLUSH_WAIT_MARGIN;
        let status = wait_flush(&result.ticket, timeout).await;
        self.metrics
            .record_put(result.append.msg_num, result.append.wrote_bytes, started.elapsed());
        Ok((result, status))
    }

    /// Watches `connection` (once) so its close removes its producers and consumers.
    pub fn watch_connection(self: &Arc<Self>, connection: &Connection) {
        let id = connection.id();
        if !self.watched.lock().unwrap_or_else(PoisonError::into_inner).insert(id) {
            return;
        }
        let broker = Arc::clone(self);
        let connection = connection.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = connection.closed() => {}
                () = broker.shutdown.cancelled() => return,
            }
            broker.connection_closed(&connection);
        });
    }

    /// ClientHousekeepingService `onChannelClose`: forget the channel everywhere and tell the
    /// affected consumer groups.
    pub fn connection_closed(&self, connection: &Connection) {
        let id = connection.id();
        self.watched.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        self.producers.remove_connection(id);
        let changes = self.consumers.remove_connection(id);
        if !changes.is_empty() {
            tracing::info!(peer = %connection.peer_addr(), groups = changes.len(), "client channel closed");
        }
        for change in changes {
            self.notify_group_change(change);
        }
    }

    /// Closes channels without a heartbeat for `channelExpiredTimeout` and forgets them.
    pub fn scan_expired_channels(&self) {
        let timeout = i64::try_from(self.config().channel_expired_timeout).unwrap_or(i64::MAX);
        let now = now_ms();
        let mut expired = self.consumers.expired_connections(now, timeout);
        expired.extend(self.producers.expired_connections(now, timeout));
        for connection in expired {
            tracing::warn!(peer = %connection.peer_addr(), timeout_ms = timeout, "client channel expired; closing");
            connection.close();
            self.connection_closed(&connection);
        }
    }

    /// Notifies the remaining members of a group whose membership changed, if the group's
    /// config allows it.
    pub fn notify_group_change(&self, change: GroupChange) {
        if change.remaining.is_empty() {
            return;
        }
        let enabled = self
            .groups
            .get(&change.group)
            .is_none_or(|g| g.notify_consumer_ids_changed_enable);
        if enabled {
            notify_consumer_ids_changed(&change.group, change.remaining);
        }
    }
}

/// Sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to each connection, without waiting.
pub fn notify_consumer_ids_changed(group: &str, connections: Vec<Connection>) {
    for connection in connections {
        let header = NotifyConsumerIdsChangedRequestHeader {
            consumer_group: group.to_owned(),
        };
        let request = RemotingCommand::request(RequestCode::NotifyConsumerIdsChanged).with_header(&header);
        let group = group.to_owned();
        tokio::spawn(async move {
            if let Err(error) = connection.invoke_oneway(request, NOTIFY_TIMEOUT).await {
                tracing::debug!(%group, peer = %connection.peer_addr(), %error, "NOTIFY_CONSUMER_IDS_CHANGED not sent");
            }
        });
    }
}

/// Waits for a flush ticket on the runtime without blocking a thread: the ticket's callback
/// completes a oneshot. Past `timeout` the put counts as FLUSH_DISK_TIMEOUT.
pub async fn wait_flush(ticket: &FlushTicket, timeout: Duration) -> PutMessageStatus {
    if let Some(outcome) = ticket.outcome() {
        return status_of(outcome);
    }
    let (tx, rx) = oneshot::channel();
    ticket.on_complete(move |outcome| {
        // The receiver may have timed out already; nothing to do then.
        let _ = tx.send(outcome);
    });
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(outcome)) => status_of(outcome),
        _ => PutMessageStatus::FlushDiskTimeout,
    }
}

/// The IP to advertise when `brokerIP1` is empty: the listener's own address when it is
/// specific, else the address the OS would use for outbound traffic, else loopback.
pub fn detect_broker_ip(listener_ip: IpAddr) -> IpAddr {
    if !listener_ip.is_unspecified() {
        return listener_ip;
    }
    // Connecting a UDP socket sends nothing; it only selects the outbound interface.
    let probe = std::net::UdpSocket::bind(("0.0.0.0", 0)).and_then(|s| {
        s.connect(("192.0.2.1", 9))?;
        s.local_addr()
    });
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}
