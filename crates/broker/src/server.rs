//! The broker's entry point, [`run`]: opens the store, assembles the [`Broker`], serves the
//! main and VIP listeners with one dispatch table, runs the background tasks, and shuts down
//! gracefully.
//!
//! Background tasks: name-server registration ([`crate::namesrv`]), the config persister
//! (`topics.json` / `subscriptionGroup.json` on change, `consumerOffset.json` and
//! `delayOffset.json` every `flushConsumerOffsetInterval`), client housekeeping (expired
//! channels every [`CLIENT_HOUSEKEEPING_INTERVAL`]) and delayed delivery
//! ([`crate::schedule`]).
//!
//! Shutdown order (on `shutdown` cancel): wake held pulls so they answer; stop accepting and
//! drain in-flight requests (bounded by the remoting drain timeout); stop background tasks;
//! UNREGISTER_BROKER; persist offsets and configs; clean store shutdown (flush, checkpoint,
//! remove `abort`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferromq_remoting::{CancellationToken, ClientConfig, Dispatcher, RemotingClient, RemotingServer, ServerConfig};
use ferromq_store::fs::real::RealFs;
use ferromq_store::{MessageStore, MessageStoreConfig};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::broker::{detect_broker_ip, Broker, BrokerParts};
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::namesrv;
use crate::schedule::DELIVER_INTERVAL;
use crate::util::now_ms;

/// How often client channels are checked for expiry (Java `ClientHousekeepingService`: 10 s).
pub const CLIENT_HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(10);

/// Runs a broker on already bound listeners until `shutdown` is cancelled, then shuts down
/// gracefully. `vip_listener` is the "fast" port (`listenPort - 2`) and serves the same codes.
/// The main listener's real port is the broker's `listenPort` (so tests can bind port 0).
pub async fn run(
    config: BrokerConfig,
    store_config: MessageStoreConfig,
    main_listener: TcpListener,
    vip_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), BrokerError> {
    let mut config = config;
    config.validate()?;
    store_config.validate()?;
    let local = main_listener.local_addr()?;
    config.listen_port = local.port();
    let ip = if config.broker_ip1.is_empty() {
        detect_broker_ip(local.ip())
    } else {
        config
            .broker_ip1
            .parse::<IpAddr>()
            .map_err(|_| BrokerError::InvalidConfig {
                key: "brokerIP1",
                reason: format!("{:?} is not an IP address", config.broker_ip1),
            })?
    };
    let store_host = SocketAddr::new(ip, local.port());

    let open_config = store_config.clone();
    let store = tokio::task::spawn_blocking(move || MessageStore::open(open_config, Arc::new(RealFs::new())))
        .await
        .map_err(|_| BrokerError::ShuttingDown)??;
    let broker = Broker::new(BrokerParts {
        config,
        store_config,
        store: Arc::new(store),
        store_host,
        shutdown: CancellationToken::new(),
    })?;
    let holds = Arc::clone(&broker.holds);
    broker
        .store
        .register_arrival_listener(Arc::new(move |topic, queue_id, max_offset| {
            holds.notify_arrival(topic, queue_id, max_offset);
        }));

    let dispatcher = Arc::new(crate::dispatch::build(&broker));
    let server_stop = CancellationToken::new();
    let mut servers = Vec::new();
    let server_config = ServerConfig {
        busy_poll: broker.config().server_busy_poll(),
        ..ServerConfig::default()
    };
    for listener in std::iter::once(main_listener).chain(vip_listener) {
        let server = RemotingServer::from_listener(listener, server_config.clone())?;
        servers.push(tokio::spawn(server.run(Arc::clone(&dispatcher), server_stop.clone())));
    }

    let client = RemotingClient::new(ClientConfig::default(), Arc::new(Dispatcher::new()))?;
    let tasks_stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(namesrv::run_registration(
        Arc::clone(&broker),
        client.clone(),
        tasks_stop.clone(),
    ));
    tasks.spawn(run_persister(Arc::clone(&broker), tasks_stop.clone()));
    tasks.spawn(run_housekeeping(Arc::clone(&broker), tasks_stop.clone()));
    tasks.spawn(run_schedule(Arc::clone(&broker), tasks_stop.clone()));
    tasks.close();
    tracing::info!(addr = %broker.broker_addr(), name = %broker.config().broker_name, "broker started");

    shutdown.cancelled().await;
    tracing::info!("broker shutting down");
    broker.shutdown.cancel();
    broker.holds.wake_all();
    server_stop.cancel();
    for server in servers {
        match server.await {
            Ok(Err(error)) => tracing::warn!(%error, "listener stopped with an error"),
            Err(error) => tracing::warn!(%error, "listener task failed"),
            Ok(Ok(())) => {}
        }
    }
    tasks_stop.cancel();
    tasks.wait().await;
    namesrv::unregister_all(&broker, &client).await;
    client.shutdown();

    let closing = Arc::clone(&broker);
    tokio::task::spawn_blocking(move || persist_all(&closing).and_then(|()| Ok(closing.store.shutdown()?)))
        .await
        .map_err(|_| BrokerError::ShuttingDown)??;
    tracing::info!("broker stopped");
    Ok(())
}

/// Writes every config file (blocking).
fn persist_all(broker: &Broker) -> Result<(), BrokerError> {
    broker.topics.persist()?;
    broker.groups.persist()?;
    broker.offsets.persist_if_dirty()?;
    if let Some(schedule) = &broker.schedule {
        schedule.persist_if_dirty()?;
    }
    Ok(())
}

async fn blocking(broker: &Arc<Broker>, what: &'static str, job: fn(&Broker) -> Result<(), BrokerError>) {
    let broker = Arc::clone(broker);
    match tokio::task::spawn_blocking(move || job(&broker)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(what, %error, "persisting a config file failed"),
        Err(error) => tracing::error!(what, %error, "persist task failed"),
    }
}

async fn run_persister(broker: Arc<Broker>, stop: CancellationToken) {
    let mut topics = broker.topics.subscribe();
    let mut groups = broker.groups.subscribe();
    let period = Duration::from_millis(broker.config().flush_consumer_offset_interval);
    let mut offsets = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    offsets.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = topics.changed() => {
                if changed.is_err() { return; }
                topics.borrow_and_update();
                blocking(&broker, "topics", |b| b.topics.persist()).await;
            }
            changed = groups.changed() => {
                if changed.is_err() { return; }
                groups.borrow_and_update();
                blocking(&broker, "subscription groups", |b| b.groups.persist()).await;
            }
            _ = offsets.tick() => {
                blocking(&broker, "consumer offsets", |b| b.offsets.persist_if_dirty().map(|_| ())).await;
                if broker.schedule.is_some() {
                    blocking(&broker, "delay offsets", |b| {
                        b.schedule.as_ref().map_or(Ok(()), |s| s.persist_if_dirty())
                    })
                    .await;
                }
            }
        }
    }
}

async fn run_housekeeping(broker: Arc<Broker>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(CLIENT_HOUSEKEEPING_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => broker.scan_expired_channels(),
        }
    }
}

async fn run_schedule(broker: Arc<Broker>, stop: CancellationToken) {
    let Some(schedule) = broker.schedule.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(DELIVER_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        // A pass may wait on flush tickets; shutdown drops it (undelivered offsets stay put).
        tokio::select! {
            () = stop.cancelled() => return,
            delivered = schedule.deliver_due(&broker, now_ms()) => {
                if delivered > 0 {
                    tracing::debug!(delivered, "delayed messages delivered");
                }
            }
        }
    }
}
