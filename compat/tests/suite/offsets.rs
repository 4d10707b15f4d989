//! Committed consumer offsets survive a graceful broker restart.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use ferromq_compat::client::send_sync_ok;
use ferromq_compat::standalone::DEFAULT_STOP_TIMEOUT;
use ferromq_compat::{wait, Standalone};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::{check, client_env, options, start_standalone, COMMIT_TIMEOUT, CONSUME_TIMEOUT};

const TOPIC: &str = "CompatOffsets";
const GROUP: &str = "compat_offsets_cg";
const BEFORE: usize = 40;
const AFTER: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_graceful_restart() {
    // Goal: UPDATE_CONSUMER_OFFSET / QUERY_CONSUMER_OFFSET and the broker's offset persistence
    // across SIGTERM: a group resumes where it left off, it neither replays nor skips.
    // Method: consume 40 messages; wait until the broker reports the group's committed offset
    // equal to the max offset on every queue (observable commit, no sleep); SIGTERM (exit 0);
    // restart on the same data and ports; the committed offsets read back must be unchanged;
    // send 20 more; a new consumer in the same group (from-first-offset, so lost offsets would
    // replay everything) must receive the 20 new messages and none of the first 40.
    let mut server = start_standalone(options("offsets"));
    let result = scenario(&mut server).await;
    check(&server, result);
}

async fn scenario(server: &mut Standalone) -> Result<()> {
    let before: Vec<String> = (0..BEFORE).map(|i| format!("before-{i:02}")).collect();
    let committed_before = {
        let env = client_env(server, "offsets-1")?;
        let mut producer = env.producer("compat_offsets_pg").await?;
        for body in &before {
            send_sync_ok(&producer, TOPIC, "TagA", body).await?;
        }
        let (mut consumer, collector) = env
            .push_consumer(GROUP, TOPIC, "*", ConsumeFromWhere::ConsumeFromFirstOffset)
            .await?;
        let missing = collector.wait_for_bodies(&before, CONSUME_TIMEOUT).await;
        ensure!(missing.is_empty(), "first consumer missed {missing:?}");
        let probe = env.probe().await?;
        let progress = probe.wait_caught_up(GROUP, TOPIC, COMMIT_TIMEOUT).await?;
        consumer.shutdown().await;
        producer.shutdown().await;
        probe.shutdown().await;
        env.shutdown().await?;
        progress
            .into_iter()
            .map(|p| p.committed.map(|c| (p.queue.queue_id, c)).map_err(|e| anyhow!(e)))
            .collect::<Result<BTreeMap<i32, i64>>>()?
    };

    let status = tokio::task::block_in_place(|| server.terminate(DEFAULT_STOP_TIMEOUT))?;
    ensure!(status.success(), "SIGTERM shutdown exited with {status}, expected 0");
    tokio::task::block_in_place(|| server.restart())?;

    let env = client_env(server, "offsets-2")?;
    let probe = env.probe().await?;
    let last = std::sync::Mutex::new(String::new());
    let committed_after = wait::until(Duration::from_secs(15), || async {
        match probe.progress(GROUP, TOPIC).await {
            Ok(progress) => {
                let read: Result<BTreeMap<i32, i64>, String> = progress
                    .iter()
                    .map(|p| p.committed.clone().map(|c| (p.queue.queue_id, c)))
                    .collect();
                match read {
                    Ok(map) => Some(map),
                    Err(e) => {
                        *last.lock().unwrap() = e;
                        None
                    }
                }
            }
            Err(e) => {
                *last.lock().unwrap() = format!("{e:#}");
                None
            }
        }
    })
    .await
    .ok_or_else(|| {
        anyhow!(
            "committed offsets of {GROUP} unreadable after restart within 15 s: {}",
            last.lock().unwrap()
        )
    })?;
    ensure!(
        committed_after == committed_before,
        "committed offsets changed across restart: before {committed_before:?}, after {committed_after:?}"
    );

    let mut producer = env.producer("compat_offsets_pg").await?;
    let after: Vec<String> = (0..AFTER).map(|i| format!("after-{i:02}")).collect();
    for body in &after {
        send_sync_ok(&producer, TOPIC, "TagA", body).await?;
    }
    let (mut consumer, collector) = env
        .push_consumer(GROUP, TOPIC, "*", ConsumeFromWhere::ConsumeFromFirstOffset)
        .await?;
    let missing = collector.wait_for_bodies(&after, CONSUME_TIMEOUT).await;
    ensure!(missing.is_empty(), "consumer after restart missed {missing:?}");
    probe.wait_caught_up(GROUP, TOPIC, COMMIT_TIMEOUT).await?;
    let replayed: Vec<_> = collector
        .snapshot()
        .into_iter()
        .filter(|r| r.body.starts_with("before-"))
        .collect();
    ensure!(
        replayed.is_empty(),
        "{} already-committed messages were delivered again after restart: {replayed:#?}",
        replayed.len()
    );
    let duplicates = collector.duplicates();
    ensure!(duplicates.is_empty(), "duplicates after restart: {duplicates:#?}");

    consumer.shutdown().await;
    producer.shutdown().await;
    probe.shutdown().await;
    env.shutdown().await
}
