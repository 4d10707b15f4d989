//! `ferromq bench consumer`: pulls every queue of a topic, one task per queue.
//!
//! Each task starts at the queue's min offset (`--from-beginning`), else at the group's
//! committed offset, else at the queue's max offset (only new messages, like
//! CONSUME_FROM_LAST_OFFSET). While pulls find messages it pulls again at once (no long
//! polling: catch-up speed), keeping `--pipeline` pulls in flight per queue (default 1, as
//! RocketMQ's pull consumers do); when a queue is drained it long-polls. At the end each
//! queue's offset is committed for the group. End-to-end latency is now minus the born
//! timestamp (millisecond resolution, producer and consumer clocks must agree: same machine).
//!
//! Invariants: messages are counted once, in offset order per queue (a pipelined result is
//! used only when it starts where the previous one ended); per-message work is one histogram
//! record, shared counters are updated once per pull.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use ferromq_client::{ClientConfig, ClientError, MessageQueue, PullConsumer, PullOptions, PullResult, PullStatus};
use futures_util::stream::{FuturesOrdered, StreamExt};
use hdrhistogram::Histogram;

use super::stats::{new_histogram, record, round, spawn_live_line, Counters, LineKind, Percentiles};
use super::{Budget, HeaderFormat, Limit};

/// Pause after a failed pull before trying that queue again (Java waits 3 s; shorter keeps
/// a benchmark responsive, still bounded).
const PULL_ERROR_BACKOFF: Duration = Duration::from_millis(200);
/// Broker hold time of a long-polled pull once a queue is drained.
const DRAINED_SUSPEND: Duration = Duration::from_secs(5);
/// Most queues the bench pulls (one task each).
pub const MAX_QUEUES: usize = 4096;
/// Most pulls in flight per queue (`--pipeline`).
pub const MAX_PIPELINE: usize = 64;

/// `ferromq bench consumer` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ConsumerArgs {
    /// Name server addresses, `host:port;host:port`.
    #[arg(short = 'n', long = "namesrv")]
    pub namesrv: String,
    /// Topic to consume.
    #[arg(short = 't', long)]
    pub topic: String,
    /// Consumer group (offsets are committed for it at the end).
    #[arg(long, default_value = "benchmark_consumer")]
    pub group: String,
    /// Start at each queue's first message instead of the committed or last offset.
    #[arg(long)]
    pub from_beginning: bool,
    #[command(flatten)]
    pub limit: Limit,
    /// Messages per pull (`pullBatchSize`; brokers return at most 32 from memory).
    #[arg(long, default_value_t = 32)]
    pub pull_batch: i32,
    /// Pulls in flight per queue: 1 is RocketMQ's pull consumers' behaviour; more sends the
    /// next pulls before the current one is answered, at the offsets full batches lead to.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Print the summary as one JSON object on stdout (live lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Request header encoding.
    #[arg(long, value_enum, default_value_t = HeaderFormat::Json)]
    pub header: HeaderFormat,
    /// How long each connection busy-polls its socket before its thread sleeps, us (the
    /// client's default: 100; 0 = off).
    #[arg(long, default_value_t = super::DEFAULT_BUSY_POLL_US)]
    pub busy_poll_us: u64,
}

/// What a consumer run measured.
#[derive(Debug, Clone)]
pub struct ConsumerSummary {
    /// Queues pulled.
    pub queues: usize,
    /// Messages received.
    pub messages: u64,
    /// Pulls that returned messages.
    pub pulls_found: u64,
    /// Pulls that failed (transport or error code).
    pub pull_failed: u64,
    /// Wall time.
    pub elapsed_secs: f64,
    /// Messages per second.
    pub msgs_per_sec: f64,
    /// Body megabytes (10^6) per second.
    pub mb_per_sec: f64,
    /// Born-to-consume latency.
    pub end_to_end: Percentiles,
}

impl ConsumerSummary {
    /// As one JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "consumer",
            "queues": self.queues,
            "messages": self.messages,
            "pulls_found": self.pulls_found,
            "pull_failed": self.pull_failed,
            "elapsed_secs": (self.elapsed_secs * 1000.0).round() / 1000.0,
            "msgs_per_sec": self.msgs_per_sec.round(),
            "mb_per_sec": round(self.mb_per_sec),
            "end_to_end_us": self.end_to_end.json(),
        })
    }

    fn print_text(&self) {
        println!("=== consumer summary: {} queues ===", self.queues);
        println!("messages        : {} ({} pulls found)", self.messages, self.pulls_found);
        println!("pull failed     : {}", self.pull_failed);
        println!("elapsed         : {:.3} s", self.elapsed_secs);
        println!(
            "throughput      : {:.0} msg/s, {:.1} MB/s",
            self.msgs_per_sec, self.mb_per_sec
        );
        println!("end-to-end      : {}", self.end_to_end.line());
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn start_offset(consumer: &PullConsumer, queue: &MessageQueue, from_beginning: bool) -> anyhow::Result<i64> {
    if from_beginning {
        return Ok(consumer.min_offset(queue).await?);
    }
    match consumer.query_offset(queue).await? {
        Some(offset) => Ok(offset),
        None => Ok(consumer.max_offset(queue).await?),
    }
}

/// What one queue's pull loop needs besides its queue and start offset.
#[derive(Clone)]
struct PullPlan {
    pull_batch: i32,
    pipeline: usize,
    budget: Arc<Budget>,
    counters: Arc<Counters>,
    count: Option<u64>,
}

/// A pull in flight: the offset it asked for and its outcome.
type InFlightPull = std::pin::Pin<Box<dyn Future<Output = (i64, Result<PullResult, ClientError>)> + Send>>;

fn start_pull(consumer: &PullConsumer, queue: &MessageQueue, offset: i64, batch: i32, suspend: bool) -> InFlightPull {
    let (consumer, queue) = (consumer.clone(), queue.clone());
    Box::pin(async move {
        let options = PullOptions {
            suspend: suspend.then_some(DRAINED_SUSPEND),
            ..Default::default()
        };
        (offset, consumer.pull_with(&queue, offset, batch, &options).await)
    })
}

/// Counts one FOUND pull: messages, bytes, and the born-to-consume latency of each message
/// (histogram per message; the shared per-second atomics once per pull).
fn count_found(result: &PullResult, histogram: &mut Histogram<u64>, plan: &PullPlan) {
    let now = now_ms();
    let (mut sum_ns, mut max_ns, mut bytes) = (0u64, 0u64, 0u64);
    for message in &result.messages {
        let ns = u64::try_from(now.saturating_sub(message.born_timestamp).max(0))
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        record(histogram, ns);
        sum_ns = sum_ns.saturating_add(ns);
        max_ns = max_ns.max(ns);
        bytes += message.body.len() as u64;
    }
    let n = result.messages.len() as u64;
    let counters = &plan.counters;
    counters.rt_sum_ns.fetch_add(sum_ns, Ordering::Relaxed);
    counters.rt_count.fetch_add(n, Ordering::Relaxed);
    counters.rt_max_ns.fetch_max(max_ns, Ordering::Relaxed);
    counters.requests.fetch_add(1, Ordering::Relaxed);
    counters.bytes.fetch_add(bytes, Ordering::Relaxed);
    let total = counters.messages.fetch_add(n, Ordering::Relaxed) + n;
    if plan.count.is_some_and(|c| total >= c) {
        plan.budget.stop();
    }
}

/// One queue's pull loop; returns its final offset and latency histogram.
///
/// With `pipeline` > 1 the next pulls are sent before the current one is answered, at the
/// offsets the current ones would lead to when every pull returns a full batch (as a user of
/// RocketMQ's async pull API can do). Results are applied strictly in offset order: a result
/// is used only when it starts exactly at the offset reached so far, so a short batch (byte
/// cap, filtered or removed entries) just discards the speculative pulls behind it and the
/// loop resumes from the broker's `nextBeginOffset`. A drained queue is long-polled with one
/// pull at a time.
async fn pull_task(
    consumer: PullConsumer,
    queue: MessageQueue,
    mut offset: i64,
    plan: PullPlan,
) -> (MessageQueue, i64, Histogram<u64>) {
    let mut histogram = new_histogram();
    let mut drained = false;
    // Where the next speculative pull starts.
    let mut next_request = offset;
    let mut in_flight: FuturesOrdered<InFlightPull> = FuturesOrdered::new();
    let stop = plan.budget.stopped().clone();
    loop {
        let (requested, pulled) = if plan.pipeline == 1 {
            // One pull at a time, awaited in place (RocketMQ's pull consumers' way).
            let options = PullOptions {
                suspend: drained.then_some(DRAINED_SUSPEND),
                ..Default::default()
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                pulled = consumer.pull_with(&queue, offset, plan.pull_batch, &options) => (offset, pulled),
            }
        } else {
            if drained {
                if in_flight.is_empty() {
                    in_flight.push_back(start_pull(&consumer, &queue, offset, plan.pull_batch, true));
                    next_request = offset.saturating_add(i64::from(plan.pull_batch));
                }
            } else {
                while in_flight.len() < plan.pipeline {
                    in_flight.push_back(start_pull(&consumer, &queue, next_request, plan.pull_batch, false));
                    next_request = next_request.saturating_add(i64::from(plan.pull_batch));
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(done) = in_flight.next() => done,
            }
        };
        if requested != offset {
            // A speculative pull behind a short batch: its offset is no longer the next one.
            continue;
        }
        match pulled {
            Ok(result) => {
                let full_batch = offset.saturating_add(i64::from(plan.pull_batch));
                offset = result.next_begin_offset;
                match result.status {
                    PullStatus::Found => {
                        drained = false;
                        count_found(&result, &mut histogram, &plan);
                    }
                    PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => drained = true,
                    PullStatus::OffsetIllegal => drained = false,
                }
                if result.status != PullStatus::Found || offset != full_batch {
                    // Pulls in flight were sent for offsets this one did not lead to.
                    next_request = offset;
                }
            }
            Err(error) => {
                if error.is_transport() {
                    plan.counters.send_failed.fetch_add(1, Ordering::Relaxed);
                } else {
                    plan.counters.response_failed.fetch_add(1, Ordering::Relaxed);
                }
                eprintln!("pull {}:{} failed: {error}", queue.broker_name, queue.queue_id);
                in_flight = FuturesOrdered::new();
                next_request = offset;
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(PULL_ERROR_BACKOFF) => {}
                }
            }
        }
    }
    (queue, offset, histogram)
}

/// `ferromq bench consumer`: runs and prints; returns the summary.
pub async fn run(args: ConsumerArgs) -> anyhow::Result<ConsumerSummary> {
    args.limit.validate()?;
    if !(1..=ferromq_client::consumer::MAX_PULL_NUMS).contains(&args.pull_batch) {
        bail!(
            "--pull-batch must be between 1 and {}",
            ferromq_client::consumer::MAX_PULL_NUMS
        );
    }
    if !(1..=MAX_PIPELINE).contains(&args.pipeline) {
        bail!("--pipeline must be between 1 and {MAX_PIPELINE}");
    }
    let mut config = ClientConfig::new(&args.namesrv)?;
    config.serialize_type = args.header.serialize_type();
    config.remoting.connection.busy_poll = super::busy_poll(args.busy_poll_us)?;
    let consumer = PullConsumer::start(config, &args.group)?;
    let queues = consumer
        .fetch_queues(&args.topic)
        .await
        .with_context(|| format!("queues of topic {}", args.topic))?;
    if queues.len() > MAX_QUEUES {
        bail!(
            "topic has {} queues; the bench pulls at most {MAX_QUEUES}",
            queues.len()
        );
    }
    let mut starts = Vec::with_capacity(queues.len());
    for queue in &queues {
        starts.push(start_offset(&consumer, queue, args.from_beginning).await?);
    }

    let counters = Arc::new(Counters::default());
    let budget = Budget::start(&args.limit);
    let live_stop = ferromq_client::CancellationToken::new();
    let live = spawn_live_line(Arc::clone(&counters), LineKind::Consumer, args.json, live_stop.clone());
    let plan = PullPlan {
        pull_batch: args.pull_batch,
        pipeline: args.pipeline,
        budget: Arc::clone(&budget),
        counters: Arc::clone(&counters),
        count: args.limit.count,
    };
    let started = Instant::now();
    let tasks: Vec<_> = queues
        .iter()
        .cloned()
        .zip(starts)
        .map(|(queue, offset)| tokio::spawn(pull_task(consumer.clone(), queue, offset, plan.clone())))
        .collect();
    let mut histogram = new_histogram();
    let mut finals = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (queue, offset, task_histogram) = task.await?;
        histogram.add(task_histogram).context("merging histograms")?;
        finals.push((queue, offset));
    }
    let elapsed_secs = started.elapsed().as_secs_f64().max(1e-9);
    live_stop.cancel();
    let _ = live.await;
    for (queue, offset) in &finals {
        if let Err(error) = consumer.update_offset(queue, *offset).await {
            eprintln!("commit offset {}:{} failed: {error}", queue.broker_name, queue.queue_id);
        }
    }
    consumer.shutdown();

    let messages = counters.messages.load(Ordering::Relaxed);
    let summary = ConsumerSummary {
        queues: queues.len(),
        messages,
        pulls_found: counters.requests.load(Ordering::Relaxed),
        pull_failed: counters.send_failed.load(Ordering::Relaxed) + counters.response_failed.load(Ordering::Relaxed),
        elapsed_secs,
        msgs_per_sec: messages as f64 / elapsed_secs,
        mb_per_sec: counters.bytes.load(Ordering::Relaxed) as f64 / elapsed_secs / 1e6,
        end_to_end: Percentiles::of(&histogram),
    };
    if args.json {
        println!("{}", summary.json());
    } else {
        summary.print_text();
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::producer::{self, ProducerArgs, SendMode};
    use ferromq_client::fake::FakeCluster;

    fn produce(cluster: &FakeCluster, count: u64) -> ProducerArgs {
        ProducerArgs {
            namesrv: cluster.namesrv_addr(),
            topic: "BenchTopic".into(),
            size: 100,
            in_flight: 4,
            mode: SendMode::Async,
            batch: 1,
            limit: Limit {
                duration: None,
                count: Some(count),
            },
            json: true,
            group: "pg".into(),
            header: HeaderFormat::Json,
            busy_poll_us: crate::bench::DEFAULT_BUSY_POLL_US,
            timeout_ms: 3000,
            baseline: false,
        }
    }

    fn consume(
        cluster: &FakeCluster,
        count: u64,
        from_beginning: bool,
        pull_batch: i32,
        pipeline: usize,
    ) -> ConsumerArgs {
        ConsumerArgs {
            namesrv: cluster.namesrv_addr(),
            topic: "BenchTopic".into(),
            group: "cg".into(),
            from_beginning,
            limit: Limit {
                duration: None,
                count: Some(count),
            },
            pull_batch,
            pipeline,
            json: true,
            header: HeaderFormat::Rocketmq,
            busy_poll_us: crate::bench::DEFAULT_BUSY_POLL_US,
        }
    }

    // Goal: the consumer bench reads back exactly what the producer bench wrote, from every
    // queue, and commits the offsets so a second run starting from the committed offsets finds
    // only the new messages. Method: produce 400 to 2 brokers x 3 queues, consume with
    // --from-beginning --count 400; produce 50 more, consume with --count 50.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consumer_bench_reads_everything_produced_and_commits_offsets() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
        cluster.add_topic("BenchTopic", 3);
        producer::run(produce(&cluster, 400)).await?;
        let first = run(consume(&cluster, 400, true, 32, 1)).await?;
        assert_eq!(first.queues, 6);
        assert_eq!(first.messages, 400);
        assert_eq!(first.pull_failed, 0);
        assert_eq!(first.end_to_end.count, 400);
        assert!((first.mb_per_sec - first.msgs_per_sec * 100.0 / 1e6).abs() < 1e-6);

        producer::run(produce(&cluster, 50)).await?;
        let second = run(consume(&cluster, 50, false, 32, 1)).await?;
        assert_eq!(second.messages, 50);
        Ok(())
    }

    // Goal: with several pulls in flight per queue every message is counted exactly once and
    // the committed offsets are where the queues end, even though the speculative pulls run
    // past the end of each queue and the last batch of a queue is short. Method: 400 messages
    // over 6 queues, batches of 7 with 5 pulls in flight, --count 400 (a double count would
    // overshoot it); then 50 more from the committed offsets must give exactly 50, and the
    // broker must have seen pulls that started past a queue's end (proof of speculation).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_pulls_count_each_message_once_and_commit_the_queue_ends() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
        cluster.add_topic("BenchTopic", 3);
        producer::run(produce(&cluster, 400)).await?;
        let first = run(consume(&cluster, 400, true, 7, 5)).await?;
        assert_eq!(first.queues, 6);
        assert_eq!(first.messages, 400);
        assert_eq!(first.end_to_end.count, 400);
        assert_eq!(first.pull_failed, 0);
        let speculated_past_end = cluster.brokers.iter().any(|broker| {
            let pulls = broker.state.pulls.lock().unwrap_or_else(|e| e.into_inner());
            pulls.iter().any(|pull| {
                let len = broker.state.queue_len(&pull.topic, pull.queue_id);
                pull.queue_offset > i64::try_from(len).unwrap_or(i64::MAX)
            })
        });
        assert!(speculated_past_end, "no pull was sent ahead of the previous answer");

        producer::run(produce(&cluster, 50)).await?;
        let second = run(consume(&cluster, 50, false, 7, 5)).await?;
        assert_eq!(second.messages, 50);
        assert_eq!(second.end_to_end.count, 50);
        Ok(())
    }
}
