//! The client and the bench through the real name server (`ferromq-namesrv`), with fake brokers
//! that register themselves like real ones. Replace the fake brokers with the real broker once
//! it exists.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferromq_client::fake::FakeBroker;
use ferromq_client::{ClientConfig, Message, Producer};
use ferromq_namesrv::{serve, CancellationToken, NamesrvConfig, NamesrvState};
use tokio::net::TcpListener;

use super::consumer::{self, ConsumerArgs};
use super::producer::{self, ProducerArgs, SendMode};
use super::{HeaderFormat, Limit};

async fn start_namesrv(dir: &std::path::Path, shutdown: CancellationToken) -> anyhow::Result<String> {
    let config = NamesrvConfig {
        kv_config_path: dir.join("kvConfig.json"),
        config_store_path: dir.join("namesrv.properties"),
        ..NamesrvConfig::default()
    };
    let state = Arc::new(NamesrvState::new(config)?);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(serve(listener, state, shutdown));
    Ok(addr)
}

fn limit(count: u64) -> Limit {
    Limit {
        duration: None,
        count: Some(count),
    }
}

// Goal: routes as the real name server builds and encodes them (from REGISTER_BROKER) drive
// the producer bench, the consumer bench and the TBW102 fallback. Method: real name server,
// two fake brokers registering BenchTopic (4 queues) and TBW102 (8 queues, perm 7); 300
// messages produced and consumed; one send to an unregistered topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_and_client_work_through_the_real_name_server() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let shutdown = CancellationToken::new();
    let namesrv = start_namesrv(dir.path(), shutdown.clone()).await?;
    let brokers = [
        FakeBroker::start("broker-a").await?,
        FakeBroker::start("broker-b").await?,
    ];
    for broker in &brokers {
        broker
            .register_with(&namesrv, &[("BenchTopic", 4, 6), ("TBW102", 8, 7)], 1)
            .await?;
    }
    let stored = || -> u64 { brokers.iter().map(|b| b.state.stored.load(Ordering::Relaxed)).sum() };

    let summary = producer::run(ProducerArgs {
        namesrv: namesrv.clone(),
        topic: "BenchTopic".into(),
        size: 256,
        in_flight: 16,
        mode: SendMode::Async,
        batch: 1,
        limit: limit(300),
        json: true,
        group: "pg".into(),
        header: HeaderFormat::Json,
        busy_poll_us: crate::bench::DEFAULT_BUSY_POLL_US,
        timeout_ms: 3000,
        baseline: false,
    })
    .await?;
    assert_eq!(summary.messages_ok, 300);
    assert_eq!(summary.failures(), 0, "{:?}", summary.first_error);
    assert_eq!(stored(), 300);
    for broker in &brokers {
        let on_broker = broker.state.stored.load(Ordering::Relaxed);
        assert!(on_broker > 0, "{} got nothing", broker.state.name);
    }

    let consumed = consumer::run(ConsumerArgs {
        namesrv: namesrv.clone(),
        topic: "BenchTopic".into(),
        group: "cg".into(),
        from_beginning: true,
        limit: limit(300),
        pull_batch: 32,
        pipeline: 1,
        json: true,
        header: HeaderFormat::Rocketmq,
        busy_poll_us: crate::bench::DEFAULT_BUSY_POLL_US,
    })
    .await?;
    assert_eq!(consumed.queues, 8);
    assert_eq!(consumed.messages, 300);

    let producer = Producer::start(ClientConfig::new(&namesrv)?, "pg")?;
    let result = producer.send(Message::new("AutoTopic", &b"auto"[..])).await?;
    assert!(result.queue.queue_id < 4, "template cut to 4 queues: {result:?}");
    let route = producer.instance().routes().get("AutoTopic").expect("cached");
    assert!(route.publish.from_template);
    assert_eq!(route.publish.queues.len(), 8, "4 queues on each of 2 brokers");
    producer.shutdown().await;
    shutdown.cancel();
    Ok(())
}
