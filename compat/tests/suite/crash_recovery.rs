//! Messages acknowledged under SYNC_FLUSH survive a SIGKILL of the standalone process.

use anyhow::{ensure, Result};
use ferromq_compat::client::send_sync_ok;
use ferromq_compat::Standalone;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::{check, client_env, options, start_standalone, CONSUME_TIMEOUT};

const TOPIC: &str = "CompatCrash";
const N: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sync_flush_messages_survive_sigkill() {
    // Goal: recovery after a crash keeps every message the broker acknowledged with SEND_OK
    // under flushDiskType=SYNC_FLUSH, and rebuilds consume queues so they are consumable.
    // Method: broker.conf with SYNC_FLUSH; 100 sync sends, each SEND_OK; SIGKILL right after the
    // last ack; restart on the same data and ports; a new group from the first offset must
    // receive every acknowledged body. (A process kill leaves the page cache intact, so this
    // checks crash recovery, not fsync itself.)
    let mut server = start_standalone(options("crash_recovery").with_broker_conf("flushDiskType=SYNC_FLUSH\n"));
    let result = scenario(&mut server).await;
    check(&server, result);
}

async fn scenario(server: &mut Standalone) -> Result<()> {
    let acked: Vec<String> = {
        let env = client_env(server, "crash-1")?;
        let mut producer = env.producer("compat_crash_pg").await?;
        let mut acked = Vec::new();
        for i in 0..N {
            let body = format!("crash-{i:03}");
            send_sync_ok(&producer, TOPIC, "TagA", &body).await?;
            acked.push(body);
        }
        let status = tokio::task::block_in_place(|| server.kill9())?;
        ensure!(!status.success(), "SIGKILL reported success: {status}");
        producer.shutdown().await;
        env.shutdown().await?;
        acked
    };

    tokio::task::block_in_place(|| server.restart())?;
    let env = client_env(server, "crash-2")?;
    let (mut consumer, collector) = env
        .push_consumer("compat_crash_cg", TOPIC, "*", ConsumeFromWhere::ConsumeFromFirstOffset)
        .await?;
    let missing = collector.wait_for_bodies(&acked, CONSUME_TIMEOUT).await;
    ensure!(
        missing.is_empty(),
        "{} of {N} acknowledged messages missing after SIGKILL and restart: {missing:?}",
        missing.len()
    );
    consumer.shutdown().await;
    env.shutdown().await
}
