//! Every send mode of the client is acknowledged by the broker and its messages are consumable.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use ferromq_compat::client::{message, send_sync_ok, SEND_TIMEOUT_MS};
use ferromq_compat::Standalone;
use rocketmq_client_rust::SendStatus;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::{check, client_env, options, start_standalone, CONSUME_TIMEOUT};

const TOPIC: &str = "CompatSendModes";
const PER_MODE: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_async_oneway_and_batch_sends_are_acknowledged_and_all_consumed() {
    // Goal: SEND_MESSAGE(_V2) in its sync, async and oneway uses and SEND_BATCH_MESSAGE all work
    // for a real client, and a consumer then receives every message.
    // Method: 10 messages per mode with distinct bodies; sync and batch results must be SEND_OK,
    // every async callback must report SEND_OK; a push consumer from the first offset must see
    // all 40 bodies. The producer stays connected until then (oneway messages in its socket).
    let server = start_standalone(options("send_modes"));
    let result = scenario(&server).await;
    check(&server, result);
}

async fn scenario(server: &Standalone) -> Result<()> {
    let env = client_env(server, "send-modes")?;
    let mut producer = env.producer("compat_send_modes_pg").await?;
    let mut expected = Vec::new();

    for i in 0..PER_MODE {
        let body = format!("sync-{i}");
        send_sync_ok(&producer, TOPIC, "TagA", &body).await?;
        expected.push(body);
    }

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..PER_MODE {
        let body = format!("async-{i}");
        let tx = tx.clone();
        let tag = body.clone();
        producer
            .send_with_callback(message(TOPIC, "TagA", &body), move |result, error| {
                let outcome = match (result, error) {
                    (Some(r), _) => Ok(r.send_status),
                    (None, Some(e)) => Err(e.to_string()),
                    (None, None) => Err("callback with neither result nor error".to_string()),
                };
                let _ = tx.send((tag.clone(), outcome));
            })
            .await
            .map_err(|e| anyhow!("async send of {body:?}: {e}"))?;
        expected.push(body);
    }
    drop(tx);
    let mut callbacks = BTreeMap::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some((body, outcome)) = rx.recv().await {
            callbacks.insert(body, outcome);
        }
    })
    .await;
    ensure!(
        callbacks.len() == PER_MODE,
        "{} of {PER_MODE} async callbacks ran within 30 s: {callbacks:?}",
        callbacks.len()
    );
    for (body, outcome) in &callbacks {
        ensure!(
            matches!(outcome, Ok(SendStatus::SendOk)),
            "async send of {body:?} completed with {outcome:?}"
        );
    }

    for i in 0..PER_MODE {
        let body = format!("oneway-{i}");
        producer
            .send_oneway(message(TOPIC, "TagA", &body))
            .await
            .map_err(|e| anyhow!("oneway send of {body:?}: {e}"))?;
        expected.push(body);
    }

    let batch: Vec<String> = (0..PER_MODE).map(|i| format!("batch-{i}")).collect();
    let batch_result = producer
        .send_batch_with_timeout(
            batch.iter().map(|b| message(TOPIC, "TagA", b)).collect(),
            SEND_TIMEOUT_MS,
        )
        .await
        .map_err(|e| anyhow!("batch send of {PER_MODE} messages: {e}"))?;
    ensure!(
        batch_result.send_status == SendStatus::SendOk,
        "batch send status {:?}",
        batch_result.send_status
    );
    expected.extend(batch);

    let (mut consumer, collector) = env
        .push_consumer(
            "compat_send_modes_cg",
            TOPIC,
            "*",
            ConsumeFromWhere::ConsumeFromFirstOffset,
        )
        .await?;
    let missing = collector.wait_for_bodies(&expected, CONSUME_TIMEOUT).await;
    ensure!(
        missing.is_empty(),
        "consumer did not receive {} of {} messages within {CONSUME_TIMEOUT:?}: {missing:?}",
        missing.len(),
        expected.len()
    );
    let unexpected: Vec<_> = collector
        .snapshot()
        .into_iter()
        .filter(|r| !expected.contains(&r.body) || r.topic != TOPIC)
        .collect();
    ensure!(unexpected.is_empty(), "unexpected deliveries: {unexpected:#?}");

    consumer.shutdown().await;
    producer.shutdown().await;
    env.shutdown().await
}
