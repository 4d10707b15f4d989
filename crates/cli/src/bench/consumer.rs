//! `ferromq bench consumer`: pulls every queue of a topic, one task per queue.
//!
//! Each task starts at the queue's min offset (`--from-beginning`), else at the group's
//! committed offset, else at the queue's max offset (only new messages, like
//! CONSUME_FROM_LAST_OFFSET). While pulls find messages it pulls again at once (no long
//! polling: catch-up speed); when a queue is drained it long-polls. At the end each queue's
//! offset is committed for the group. End-to-end latency is now minus the born timestamp
//! (millisecond resolution, producer and consumer clocks must agree: same machine).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use ferromq_client::{ClientConfig, MessageQueue, PullConsumer, PullOptions, PullStatus};
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
    /// Messages per pull.
    #[arg(long, default_value_t = 32)]
    pub pull_batch: i32,
    /// Print the summary as one JSON object on stdout (live lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Request header encoding.
    #[arg(long, value_enum, default_value_t = HeaderFormat::Json)]
    pub header: HeaderFormat,
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

/// One queue's pull loop; returns its final offset and latency histogram.
async fn pull_task(
    consumer: PullConsumer,
    queue: MessageQueue,
    mut offset: i64,
    pull_batch: i32,
    budget: Arc<Budget>,
    counters: Arc<Counters>,
    count: Option<u64>,
) -> (MessageQueue, i64, Histogram<u64>) {
    let mut histogram = new_histogram();
    let mut drained = false;
    let stop = budget.stopped().clone();
    loop {
        let options = PullOptions {
            suspend: drained.then_some(DRAINED_SUSPEND),
            ..Default::default()
        };
        let pulled = tokio::select! {
            _ = stop.cancelled() => break,
            pulled = consumer.pull_with(&queue, offset, pull_batch, &options) => pulled,
        };
        match pulled {
            Ok(result) => {
                offset = result.next_begin_offset;
                match result.status {
                    PullStatus::Found => {
                        drained = false;
                        let now = now_ms();
                        let n = result.messages.len() as u64;
                        let bytes: usize = result.messages.iter().map(|m| m.body.len()).sum();
                        for message in &result.messages {
                            let ns = u64::try_from(now.saturating_sub(message.born_timestamp).max(0))
                                .unwrap_or(0)
                                .saturating_mul(1_000_000);
                            record(&mut histogram, ns);
                            counters.sample(ns);
                        }
                        counters.requests.fetch_add(1, Ordering::Relaxed);
                        counters.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                        let total = counters.messages.fetch_add(n, Ordering::Relaxed) + n;
                        if count.is_some_and(|c| total >= c) {
                            budget.stop();
                        }
                    }
                    PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => drained = true,
                    PullStatus::OffsetIllegal => drained = false,
                }
            }
            Err(error) => {
                if error.is_transport() {
                    counters.send_failed.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.response_failed.fetch_add(1, Ordering::Relaxed);
                }
                eprintln!("pull {}:{} failed: {error}", queue.broker_name, queue.queue_id);
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
    let mut config = ClientConfig::new(&args.namesrv)?;
    config.serialize_type = args.header.serialize_type();
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
    let started = Instant::now();
    let tasks: Vec<_> = queues
        .iter()
        .cloned()
        .zip(starts)
        .map(|(queue, offset)| {
            tokio::spawn(pull_task(
                consumer.clone(),
                queue,
                offset,
                args.pull_batch,
                Arc::clone(&budget),
                Arc::clone(&counters),
                args.limit.count,
            ))
        })
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

    // Goal: the consumer bench reads back exactly what the producer bench wrote, from every
    // queue, and commits the offsets so a second run starting from the committed offsets finds
    // only the new messages. Method: produce 400 to 2 brokers x 3 queues, consume with
    // --from-beginning --count 400; produce 50 more, consume with --count 50.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consumer_bench_reads_everything_produced_and_commits_offsets() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
        cluster.add_topic("BenchTopic", 3);
        let produce = |count: u64| ProducerArgs {
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
            timeout_ms: 3000,
            baseline: false,
        };
        producer::run(produce(400)).await?;
        let consume = |count: u64, from_beginning: bool| ConsumerArgs {
            namesrv: cluster.namesrv_addr(),
            topic: "BenchTopic".into(),
            group: "cg".into(),
            from_beginning,
            limit: Limit {
                duration: None,
                count: Some(count),
            },
            pull_batch: 32,
            json: true,
            header: HeaderFormat::Rocketmq,
        };
        let first = run(consume(400, true)).await?;
        assert_eq!(first.queues, 6);
        assert_eq!(first.messages, 400);
        assert_eq!(first.pull_failed, 0);
        assert_eq!(first.end_to_end.count, 400);
        assert!((first.mb_per_sec - first.msgs_per_sec * 100.0 / 1e6).abs() < 1e-6);

        producer::run(produce(50)).await?;
        let second = run(consume(50, false)).await?;
        assert_eq!(second.messages, 50);
        Ok(())
    }
}
