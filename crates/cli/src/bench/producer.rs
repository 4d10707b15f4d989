//! `ferromq bench producer`: keeps N sends in flight against a RocketMQ-compatible cluster.
//!
//! Modes: `sync` = N tasks each sending and waiting in turn; `async` = one driver keeping N
//! callback sends in flight (`send_with_callback`, Java's `send(msg, SendCallback)` as in
//! RocketMQ's own benchmark); `oneway` = N tasks sending without responses (latency is
//! the time to queue the request). `--batch k` sends k messages per SEND_BATCH_MESSAGE.
//! Latency is per request (per batch for batches), from just before the call to its result.
//! Bodies are never compressed here, so MB/s is body bytes as stored.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{bail, Context};
use bytes::Bytes;
use ferromq_client::{ClientConfig, ClientError, Message, Producer, SendResult, SendStatus};
use hdrhistogram::Histogram;
use tokio::sync::Notify;

use super::rtt::{self, RttSummary};
use super::stats::{new_histogram, record, round, spawn_live_line, Counters, LineKind, Percentiles};
use super::{Budget, HeaderFormat, Limit, MAX_BATCH, MAX_IN_FLIGHT};

/// Largest body (and batch body) the bench sends: RocketMQ's `maxMessageSize`.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Round trips of the `--baseline` loopback measurement.
const BASELINE_ROUND_TRIPS: u64 = 20_000;

/// How sends are issued.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// Wait for each response (N tasks).
    Sync,
    /// `send_async` futures, N in flight.
    Async,
    /// No response.
    Oneway,
}

impl SendMode {
    fn name(self) -> &'static str {
        match self {
            SendMode::Sync => "sync",
            SendMode::Async => "async",
            SendMode::Oneway => "oneway",
        }
    }
}

/// `ferromq bench producer` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ProducerArgs {
    /// Name server addresses, `host:port;host:port`.
    #[arg(short = 'n', long = "namesrv")]
    pub namesrv: String,
    /// Topic to send to (must exist, or the cluster must auto-create it from TBW102).
    #[arg(short = 't', long)]
    pub topic: String,
    /// Body size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    pub size: usize,
    /// Requests in flight (sync/oneway: tasks).
    #[arg(long, default_value_t = 64)]
    pub in_flight: usize,
    /// Send mode.
    #[arg(long, value_enum, default_value_t = SendMode::Sync)]
    pub mode: SendMode,
    /// Messages per send (SEND_BATCH_MESSAGE when above 1; not with oneway).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[command(flatten)]
    pub limit: Limit,
    /// Print the summary as one JSON object on stdout (live lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Producer group.
    #[arg(long, default_value = "benchmark_producer")]
    pub group: String,
    /// Request header encoding.
    #[arg(long, value_enum, default_value_t = HeaderFormat::Json)]
    pub header: HeaderFormat,
    /// How long each connection busy-polls its socket before its thread sleeps, us (the
    /// client's default: 100; 0 = off).
    #[arg(long, default_value_t = super::DEFAULT_BUSY_POLL_US)]
    pub busy_poll_us: u64,
    /// Send timeout per message, retries included (ms).
    #[arg(long, default_value_t = 3000)]
    pub timeout_ms: u64,
    /// Measure the loopback TCP round trip first and report it next to the results.
    #[arg(long)]
    pub baseline: bool,
}

impl ProducerArgs {
    fn validate(&self) -> anyhow::Result<()> {
        self.limit.validate()?;
        if self.in_flight == 0 || self.in_flight > MAX_IN_FLIGHT {
            bail!("--in-flight must be between 1 and {MAX_IN_FLIGHT}");
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            bail!("--batch must be between 1 and {MAX_BATCH}");
        }
        if self.mode == SendMode::Oneway && self.batch > 1 {
            bail!("batches need a response: use --mode sync or async with --batch");
        }
        if self.size == 0 || self.size.saturating_mul(self.batch) > MAX_BODY_BYTES {
            bail!("--size (times --batch) must be between 1 byte and {MAX_BODY_BYTES} bytes");
        }
        if self.timeout_ms == 0 {
            bail!("--timeout-ms must be positive");
        }
        Ok(())
    }
}

/// What a producer run measured.
#[derive(Debug, Clone)]
pub struct ProducerSummary {
    /// Send mode.
    pub mode: SendMode,
    /// Requests in flight.
    pub in_flight: usize,
    /// Messages per send.
    pub batch: usize,
    /// Body bytes.
    pub size: usize,
    /// Messages the broker acknowledged (oneway: sent).
    pub messages_ok: u64,
    /// Requests that succeeded.
    pub sends_ok: u64,
    /// Stored with a status other than SEND_OK (flush/slave timeouts).
    pub not_send_ok: u64,
    /// Requests without a response.
    pub send_failed: u64,
    /// Requests answered with an error code.
    pub response_failed: u64,
    /// Wall time from the first send to the last result.
    pub elapsed_secs: f64,
    /// Messages per second.
    pub msgs_per_sec: f64,
    /// Body megabytes (10^6) per second.
    pub mb_per_sec: f64,
    /// Latency per request.
    pub latency: Percentiles,
    /// Loopback baseline measured in the same run (`--baseline`).
    pub baseline: Option<RttSummary>,
    /// The first error seen, for diagnosis.
    pub first_error: Option<String>,
}

impl ProducerSummary {
    /// Failed requests of both kinds.
    pub fn failures(&self) -> u64 {
        self.send_failed + self.response_failed
    }

    /// As one JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "producer",
            "mode": self.mode.name(),
            "in_flight": self.in_flight,
            "batch": self.batch,
            "size": self.size,
            "messages_ok": self.messages_ok,
            "sends_ok": self.sends_ok,
            "not_send_ok": self.not_send_ok,
            "send_failed": self.send_failed,
            "response_failed": self.response_failed,
            "failures": self.failures(),
            "elapsed_secs": (self.elapsed_secs * 1000.0).round() / 1000.0,
            "msgs_per_sec": self.msgs_per_sec.round(),
            "mb_per_sec": round(self.mb_per_sec),
            "latency_us": self.latency.json(),
            "baseline_rtt_us": self.baseline.map(|b| b.latency.json()),
            "first_error": self.first_error,
        })
    }

    fn print_text(&self) {
        println!(
            "=== producer summary: mode {}, in-flight {}, batch {}, body {} B ===",
            self.mode.name(),
            self.in_flight,
            self.batch,
            self.size
        );
        println!("messages ok     : {} ({} sends)", self.messages_ok, self.sends_ok);
        println!("not SEND_OK     : {}", self.not_send_ok);
        println!("send failed     : {} (no response)", self.send_failed);
        println!("response failed : {} (broker error code)", self.response_failed);
        println!("elapsed         : {:.3} s", self.elapsed_secs);
        println!(
            "throughput      : {:.0} msg/s, {:.1} MB/s",
            self.msgs_per_sec, self.mb_per_sec
        );
        println!("latency/send    : {}", self.latency.line());
        if let Some(baseline) = &self.baseline {
            println!("loopback rtt    : {}", baseline.latency.line());
        }
        if let Some(error) = &self.first_error {
            println!("first error     : {error}");
        }
    }
}

/// Shared by the tasks of one run.
struct Run {
    producer: Producer,
    topic: String,
    body: Bytes,
    batch: u64,
    mode: SendMode,
    budget: Arc<Budget>,
    counters: Arc<Counters>,
    not_send_ok: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Run {
    fn message(&self) -> Message {
        Message::new(&self.topic, self.body.clone())
    }

    /// One request of `n` messages of a sequential task (sync and oneway modes; the async
    /// driver sends its own); `None` for oneway.
    async fn send(&self, n: u64) -> Result<Option<SendResult>, ClientError> {
        match self.mode {
            SendMode::Oneway => self.producer.send_oneway(self.message()).await.map(|()| None),
            SendMode::Sync | SendMode::Async if n == 1 => self.producer.send(self.message()).await.map(Some),
            SendMode::Sync | SendMode::Async => {
                let messages = (0..n).map(|_| self.message()).collect();
                self.producer.send_batch(messages).await.map(Some)
            }
        }
    }

    fn account(
        &self,
        n: u64,
        ns: u64,
        outcome: Result<Option<SendResult>, ClientError>,
        histogram: &mut Histogram<u64>,
    ) {
        let c = &self.counters;
        match outcome {
            Ok(result) => {
                c.messages.fetch_add(n, Ordering::Relaxed);
                c.requests.fetch_add(1, Ordering::Relaxed);
                c.bytes.fetch_add(n * self.body.len() as u64, Ordering::Relaxed);
                c.sample(ns);
                record(histogram, ns);
                if result.is_some_and(|r| r.status != SendStatus::SendOk) {
                    self.not_send_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => {
                if error.is_transport() {
                    c.send_failed.fetch_add(1, Ordering::Relaxed);
                } else {
                    c.response_failed.fetch_add(1, Ordering::Relaxed);
                }
                let mut first = self.first_error.lock().unwrap_or_else(PoisonError::into_inner);
                if first.is_none() {
                    eprintln!("first send error: {error}");
                    *first = Some(error.to_string());
                }
            }
        }
    }
}

/// A sync or oneway task: claim, send, wait, repeat.
async fn sequential_task(run: Arc<Run>) -> Histogram<u64> {
    let mut histogram = new_histogram();
    loop {
        let n = run.budget.claim(run.batch);
        if n == 0 {
            return histogram;
        }
        let started = Instant::now();
        let outcome = run.send(n).await;
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        run.account(n, ns, outcome, &mut histogram);
    }
}

/// The async driver's window of requests in flight.
struct Window {
    run: Arc<Run>,
    open: AtomicUsize,
    /// Woken by each callback: there is room for the next request.
    room: Notify,
    histogram: Mutex<Histogram<u64>>,
}

impl Window {
    fn done(&self, n: u64, started: Instant, outcome: Result<SendResult, ClientError>) {
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut histogram = self.histogram.lock().unwrap_or_else(PoisonError::into_inner);
        self.run.account(n, ns, outcome.map(Some), &mut histogram);
        drop(histogram);
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.room.notify_one();
    }
}

/// The async driver: keeps up to `in_flight` requests running, each a callback send (a batch
/// for `--batch` > 1) whose callback accounts it and wakes the driver for the next.
async fn async_driver(run: Arc<Run>, in_flight: usize) -> Histogram<u64> {
    let window = Arc::new(Window {
        run,
        open: AtomicUsize::new(0),
        room: Notify::new(),
        histogram: Mutex::new(new_histogram()),
    });
    let run = &window.run;
    loop {
        // A callback's `notify_one` is kept as a permit when the driver is not waiting yet,
        // so no wake-up is lost between the check and the wait.
        while window.open.load(Ordering::Acquire) >= in_flight {
            window.room.notified().await;
        }
        let n = run.budget.claim(run.batch);
        if n == 0 {
            break;
        }
        window.open.fetch_add(1, Ordering::AcqRel);
        let started = Instant::now();
        let shared = Arc::clone(&window);
        let done = move |outcome| shared.done(n, started, outcome);
        let sent = if n == 1 {
            run.producer.send_with_callback(run.message(), done).await
        } else {
            let messages = (0..n).map(|_| run.message()).collect();
            run.producer.send_batch_with_callback(messages, done).await
        };
        // Refused before it was sent: the callback will not run.
        if let Err(error) = sent {
            window.done(n, started, Err(error));
        }
    }
    while window.open.load(Ordering::Acquire) > 0 {
        window.room.notified().await;
    }
    let mut histogram = window.histogram.lock().unwrap_or_else(PoisonError::into_inner);
    std::mem::replace(&mut *histogram, new_histogram())
}

/// Builds a body of `size` bytes that does not compress to nothing.
pub fn body_of(size: usize) -> Bytes {
    let mut state: u32 = 0x9E37_79B9;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b'a' + (state % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// `ferromq bench producer`: runs and prints; returns the summary.
pub async fn run(args: ProducerArgs) -> anyhow::Result<ProducerSummary> {
    args.validate()?;
    let baseline = if args.baseline {
        Some(tokio::task::spawn_blocking(|| rtt::measure(1024, BASELINE_ROUND_TRIPS)).await??)
    } else {
        None
    };
    let mut config = ClientConfig::new(&args.namesrv)?;
    config.serialize_type = args.header.serialize_type();
    config.remoting.connection.busy_poll = super::busy_poll(args.busy_poll_us)?;
    config.compress_msg_body_over = None;
    config.send_msg_timeout = std::time::Duration::from_millis(args.timeout_ms);
    config.max_async_sends_in_flight = config.max_async_sends_in_flight.max(args.in_flight);
    let producer = Producer::start(config, &args.group)?;
    // Look the route up before timing, so the first sends do not pay for it.
    producer
        .instance()
        .publish_route(&args.topic)
        .await
        .with_context(|| format!("route of topic {}", args.topic))?;

    let counters = Arc::new(Counters::default());
    let budget = Budget::start(&args.limit);
    let run = Arc::new(Run {
        producer: producer.clone(),
        topic: args.topic.clone(),
        body: body_of(args.size),
        batch: args.batch as u64,
        mode: args.mode,
        budget: Arc::clone(&budget),
        counters: Arc::clone(&counters),
        not_send_ok: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });
    let live_stop = ferromq_client::CancellationToken::new();
    let live = spawn_live_line(Arc::clone(&counters), LineKind::Producer, args.json, live_stop.clone());

    let started = Instant::now();
    let mut histogram = new_histogram();
    let histograms = match args.mode {
        SendMode::Async => vec![tokio::spawn(async_driver(Arc::clone(&run), args.in_flight))],
        SendMode::Sync | SendMode::Oneway => (0..args.in_flight)
            .map(|_| tokio::spawn(sequential_task(Arc::clone(&run))))
            .collect(),
    };
    for task in histograms {
        histogram.add(task.await?).context("merging histograms")?;
    }
    let elapsed_secs = started.elapsed().as_secs_f64().max(1e-9);
    budget.stop();
    live_stop.cancel();
    let _ = live.await;
    producer.shutdown().await;

    let messages_ok = counters.messages.load(Ordering::Relaxed);
    let summary = ProducerSummary {
        mode: args.mode,
        in_flight: args.in_flight,
        batch: args.batch,
        size: args.size,
        messages_ok,
        sends_ok: counters.requests.load(Ordering::Relaxed),
        not_send_ok: run.not_send_ok.load(Ordering::Relaxed),
        send_failed: counters.send_failed.load(Ordering::Relaxed),
        response_failed: counters.response_failed.load(Ordering::Relaxed),
        elapsed_secs,
        msgs_per_sec: messages_ok as f64 / elapsed_secs,
        mb_per_sec: counters.bytes.load(Ordering::Relaxed) as f64 / elapsed_secs / 1e6,
        latency: Percentiles::of(&histogram),
        baseline,
        first_error: run.first_error.lock().unwrap_or_else(PoisonError::into_inner).clone(),
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
    use ferromq_client::fake::FakeCluster;

    fn args(namesrv: String, mode: SendMode, batch: usize, count: u64) -> ProducerArgs {
        ProducerArgs {
            namesrv,
            topic: "BenchTopic".into(),
            size: 128,
            in_flight: 8,
            mode,
            batch,
            limit: Limit {
                duration: None,
                count: Some(count),
            },
            json: true,
            group: "bench_pg".into(),
            header: HeaderFormat::Rocketmq,
            busy_poll_us: crate::bench::DEFAULT_BUSY_POLL_US,
            timeout_ms: 3000,
            baseline: false,
        }
    }

    // Goal: the producer bench's summary agrees with what the broker stored, in every mode:
    // messages ok == --count == messages the fake acked, no failures, one latency sample per
    // request, consistent throughput. Method: small runs against a fake cluster.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn producer_bench_summary_matches_what_the_broker_stored() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
        cluster.add_topic("BenchTopic", 4);
        let mut expected_stored = 0;
        for (mode, batch, count, requests) in [
            (SendMode::Sync, 1, 300, 300),
            (SendMode::Async, 1, 300, 300),
            (SendMode::Sync, 7, 100, 15),
            (SendMode::Async, 10, 100, 10),
        ] {
            let summary = run(args(cluster.namesrv_addr(), mode, batch, count)).await?;
            expected_stored += count;
            assert_eq!(summary.messages_ok, count, "{mode:?} batch {batch}");
            assert_eq!(summary.sends_ok, requests, "{mode:?} batch {batch}");
            assert_eq!(summary.failures(), 0, "{:?}", summary.first_error);
            assert_eq!(summary.latency.count, requests);
            assert_eq!(cluster.stored(), expected_stored);
            let tps = summary.messages_ok as f64 / summary.elapsed_secs;
            assert!((summary.msgs_per_sec - tps).abs() < 1e-6);
            assert!((summary.mb_per_sec - tps * 128.0 / 1e6).abs() < 1e-6);
            assert!(summary.latency.p50_us <= summary.latency.p99_us);
            assert_eq!(summary.json()["messages_ok"], count);
        }
        Ok(())
    }

    // Goal: duration mode stops issuing sends when the time is up, lets the ones in flight
    // finish, and still reports exactly what the broker stored. Method: a 1 s run.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duration_run_reports_exactly_what_was_stored() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a"]).await?;
        cluster.add_topic("BenchTopic", 2);
        let mut a = args(cluster.namesrv_addr(), SendMode::Sync, 1, 1);
        a.limit = Limit {
            duration: Some(1),
            count: None,
        };
        let summary = run(a).await?;
        assert!(summary.messages_ok > 0);
        assert_eq!(summary.messages_ok, cluster.stored());
        assert_eq!(summary.failures(), 0);
        assert!(summary.elapsed_secs >= 1.0, "{}", summary.elapsed_secs);
        Ok(())
    }

    // Goal: oneway counts every message sent and the broker eventually stores them all.
    // Method: 200 oneway sends, then wait on the fake's counter.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oneway_bench_sends_exactly_the_count() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a"]).await?;
        cluster.add_topic("BenchTopic", 2);
        let summary = run(args(cluster.namesrv_addr(), SendMode::Oneway, 1, 200)).await?;
        assert_eq!(summary.messages_ok, 200);
        assert_eq!(summary.failures(), 0);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while cluster.stored() < 200 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(cluster.stored(), 200);
        Ok(())
    }

    // Goal: broker refusals are counted as response failures, not as acked messages.
    // Method: the only broker refuses every send with MESSAGE_ILLEGAL (not retried).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_sends_are_counted_as_response_failures() -> anyhow::Result<()> {
        let cluster = FakeCluster::start(&["broker-a"]).await?;
        cluster.add_topic("BenchTopic", 2);
        cluster.brokers[0]
            .state
            .refuse_next_sends(1000, ferromq_protocol::ResponseCode::MessageIllegal);
        let summary = run(args(cluster.namesrv_addr(), SendMode::Sync, 1, 50)).await?;
        assert_eq!(summary.messages_ok, 0);
        assert_eq!(summary.response_failed, 50);
        assert_eq!(summary.send_failed, 0);
        assert_eq!(cluster.stored(), 0);
        assert!(summary.first_error.is_some());
        Ok(())
    }

    #[test]
    fn arguments_out_of_bounds_are_refused() {
        // Goal: in-flight cap, batch with oneway, zero count are refused before connecting.
        let mut a = args("127.0.0.1:1".into(), SendMode::Sync, 1, 10);
        a.in_flight = MAX_IN_FLIGHT + 1;
        assert!(a.validate().is_err());
        let b = args("127.0.0.1:1".into(), SendMode::Oneway, 2, 10);
        assert!(b.validate().is_err());
        let c = args("127.0.0.1:1".into(), SendMode::Sync, 1, 0);
        assert!(c.validate().is_err());
        assert!(args("127.0.0.1:1".into(), SendMode::Sync, 1, 10).validate().is_ok());
    }
}
