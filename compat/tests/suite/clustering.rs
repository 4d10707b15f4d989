//! A clustering push consumer receives every message exactly once.

use anyhow::{ensure, Result};
use ferromq_compat::client::send_sync_ok;
use ferromq_compat::Standalone;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::{check, client_env, options, start_standalone, COMMIT_TIMEOUT, CONSUME_TIMEOUT};

const TOPIC: &str = "CompatClustering";
const GROUP: &str = "compat_clustering_cg";
const N: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustering_push_consumer_receives_each_of_200_messages_exactly_once() {
    // Goal: pull, offset commit and rebalance of a CLUSTERING push consumer deliver each stored
    // message once: none missing, none twice.
    // Method: 200 sync sends with distinct bodies (all SEND_OK); one push consumer from the first
    // offset collects until all are seen; then wait until the group's committed offset equals the
    // max offset on every queue (broker state: nothing left in flight that could still arrive)
    // and count deliveries per body.
    let server = start_standalone(options("clustering"));
    let result = scenario(&server).await;
    check(&server, result);
}

async fn scenario(server: &Standalone) -> Result<()> {
    let env = client_env(server, "clustering")?;
    let mut producer = env.producer("compat_clustering_pg").await?;
    let expected: Vec<String> = (0..N).map(|i| format!("clustering-{i:03}")).collect();
    for body in &expected {
        send_sync_ok(&producer, TOPIC, "TagA", body).await?;
    }

    let (mut consumer, collector) = env
        .push_consumer(GROUP, TOPIC, "*", ConsumeFromWhere::ConsumeFromFirstOffset)
        .await?;
    let missing = collector.wait_for_bodies(&expected, CONSUME_TIMEOUT).await;
    ensure!(
        missing.is_empty(),
        "consumer did not receive {} of {N} messages within {CONSUME_TIMEOUT:?}: {missing:?}",
        missing.len()
    );
    let probe = env.probe().await?;
    let progress = probe.wait_caught_up(GROUP, TOPIC, COMMIT_TIMEOUT).await?;
    let committed: i64 = progress.iter().filter_map(|p| p.committed.as_ref().ok()).sum();
    ensure!(
        committed == N as i64,
        "committed offsets sum to {committed}, expected {N}: {progress:#?}"
    );

    let duplicates = collector.duplicates();
    ensure!(
        duplicates.is_empty(),
        "{} bodies delivered more than once: {duplicates:#?}",
        duplicates.len()
    );
    let total = collector.snapshot().len();
    ensure!(total == N, "{total} deliveries for {N} messages");

    consumer.shutdown().await;
    producer.shutdown().await;
    probe.shutdown().await;
    env.shutdown().await
}
