//! Tag subscriptions: through the push consumer, and on raw pulls the client does not re-filter.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Result};
use ferromq_compat::client::send_sync_ok;
use ferromq_compat::{wait, Standalone};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

use crate::{check, client_env, options, start_standalone, COMMIT_TIMEOUT, CONSUME_TIMEOUT};

const PER_TAG: usize = 10;
const TAGS: [&str; 3] = ["TagA", "TagB", "TagC"];
/// The expression the broker parses itself (raw pulls carry it in the request).
const EXPRESSION: &str = "TagA || TagC";
/// The same expression for the push consumer, without spaces: rocketmq-client-rust 1.0.0 puts
/// the trimmed tags in the heartbeat's tagsSet but hashes the untrimmed pieces ("TagA ",
/// " TagC") into its codeSet (`FilterAPI::build_subscription_data`), and a broker filtering on
/// the heartbeat's codeSet as Java's `ExpressionMessageFilter` does then matches nothing. See
/// `client::tests::client_1_0_0_hashes_untrimmed_tags_into_the_code_set`.
const PUSH_EXPRESSION: &str = "TagA||TagC";

fn bodies(tag: &str) -> Vec<String> {
    (0..PER_TAG).map(|i| format!("{tag}-{i}")).collect()
}

async fn send_tagged(producer: &rocketmq_client_rust::DefaultMQProducer, topic: &str) -> Result<()> {
    // Interleave tags so every queue holds a mix.
    for i in 0..PER_TAG {
        for tag in TAGS {
            send_sync_ok(producer, topic, tag, &format!("{tag}-{i}")).await?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_subscribed_to_tag_a_or_tag_c_receives_exactly_those_messages() {
    // Goal: a "TagA||TagC" subscription (see PUSH_EXPRESSION for why without spaces) delivers every TagA and TagC message and no TagB one.
    // Method: 10 messages per tag, interleaved; push consumer from the first offset waits for all
    // 20 expected bodies, then until its committed offset reaches the max offset on every queue
    // (it has passed every TagB message). The client filters tags again itself, so this cannot
    // prove broker-side filtering — see the raw-pull test below for that.
    let server = start_standalone(options("tags_consumer"));
    let result = consumer_scenario(&server).await;
    check(&server, result);
}

async fn consumer_scenario(server: &Standalone) -> Result<()> {
    const TOPIC: &str = "CompatTagsConsumer";
    const GROUP: &str = "compat_tags_cg";
    let env = client_env(server, "tags-consumer")?;
    let mut producer = env.producer("compat_tags_pg").await?;
    send_tagged(&producer, TOPIC).await?;

    let (mut consumer, collector) = env
        .push_consumer(GROUP, TOPIC, PUSH_EXPRESSION, ConsumeFromWhere::ConsumeFromFirstOffset)
        .await?;
    let expected: Vec<String> = bodies("TagA").into_iter().chain(bodies("TagC")).collect();
    let missing = collector.wait_for_bodies(&expected, CONSUME_TIMEOUT).await;
    ensure!(missing.is_empty(), "{PUSH_EXPRESSION} consumer missed {missing:?}");
    let probe = env.probe().await?;
    probe.wait_caught_up(GROUP, TOPIC, COMMIT_TIMEOUT).await?;

    let received = collector.snapshot();
    let wrong: Vec<_> = received
        .iter()
        .filter(|r| !matches!(r.tags.as_deref(), Some("TagA") | Some("TagC")) || r.body.starts_with("TagB"))
        .collect();
    ensure!(
        wrong.is_empty(),
        "{EXPRESSION} consumer received other tags: {wrong:#?}"
    );
    ensure!(
        received.len() >= expected.len(),
        "{} deliveries, expected at least {}",
        received.len(),
        expected.len()
    );

    consumer.shutdown().await;
    producer.shutdown().await;
    probe.shutdown().await;
    env.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_filters_tags_on_raw_pulls() {
    // Goal: the broker itself applies the TAG expression of a PULL_MESSAGE request.
    // Method: same 30 messages; pull every queue from offset 0 to its max offset with the
    // subscription carried in the request (PullSysFlag SUBSCRIPTION), through the client's raw
    // pull API, which does not filter on the client side. With "*" all 30 must come back (the
    // pull path works); with "TagA || TagC" exactly the 20 TagA/TagC messages and no TagB.
    let server = start_standalone(options("tags_raw_pull"));
    let result = raw_pull_scenario(&server).await;
    check(&server, result);
}

async fn raw_pull_scenario(server: &Standalone) -> Result<()> {
    const TOPIC: &str = "CompatTagsRawPull";
    const GROUP: &str = "compat_tags_raw_cg";
    let env = client_env(server, "tags-raw")?;
    let mut producer = env.producer("compat_tags_raw_pg").await?;
    send_tagged(&producer, TOPIC).await?;
    let probe = env.probe().await?;
    let queues = probe.queues(TOPIC).await?;
    // SEND_OK precedes the ConsumeQueue dispatch (as in RocketMQ): wait until every message is
    // visible in the queues' max offsets before pulling.
    let sent = (PER_TAG * TAGS.len()) as i64;
    let visible = wait::until(Duration::from_secs(10), || async {
        let mut sum = 0;
        for queue in &queues {
            sum += probe.max_offset(TOPIC, queue).await.ok()?;
        }
        (sum == sent).then_some(())
    })
    .await;
    ensure!(
        visible.is_some(),
        "max offsets of {TOPIC} did not sum to the {sent} acknowledged messages within 10 s"
    );

    for (expression, wanted) in [("*", &TAGS[..]), (EXPRESSION, &["TagA", "TagC"][..])] {
        let mut by_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut trace = Vec::new();
        for queue in &queues {
            let pulled = probe.pull_all(GROUP, TOPIC, queue, expression).await?;
            trace.push(pulled.to_string());
            for msg in pulled.messages {
                let tag = msg.get_tags().map(|t| t.to_string()).unwrap_or_default();
                let body = msg
                    .body()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                by_tag.entry(tag).or_default().push(body);
            }
        }
        let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for tag in wanted {
            expected.insert(tag.to_string(), bodies(tag));
        }
        for list in by_tag.values_mut() {
            list.sort();
        }
        for list in expected.values_mut() {
            list.sort();
        }
        ensure!(
            by_tag == expected,
            "raw pulls with {expression:?} over {} queues returned {by_tag:?}, expected {expected:?}; rounds: {trace:#?}",
            queues.len()
        );
    }

    producer.shutdown().await;
    probe.shutdown().await;
    env.shutdown().await
}
