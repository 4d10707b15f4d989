//! `ferromq bench`: the load generator (PERFORMANCE.md "How to measure").
//!
//! Components:
//! - `producer`: N sends in flight (sync / async / oneway, optional batches) against any
//!   RocketMQ-compatible name server + broker, standard requests only;
//! - `consumer`: one pull task per queue of a topic, catch-up without long polling;
//! - `rtt`: the loopback TCP ping-pong baseline of this machine, in this process;
//! - `rtt_pipeline`: the same loopback with many requests in flight (`bench rtt --in-flight N`):
//!   the throughput floor of a pipelined exchange;
//! - `stats`: counters, live line, HDR histograms, percentiles.
//!
//! Invariants: every run is bounded (`--duration` or `--count` is required, in-flight is
//! capped at [`MAX_IN_FLIGHT`], batches at [`MAX_BATCH`]); nothing queues without bound (tasks
//! claim work from a shared budget and each holds at most one request; a consumer task at most
//! `--pipeline` pulls).

pub mod consumer;
pub mod producer;
pub mod rtt;
pub mod rtt_pipeline;
pub mod stats;

#[cfg(test)]
mod e2e_test;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::bail;
use ferromq_client::CancellationToken;
use ferromq_protocol::SerializeType;

/// Most requests one bench keeps in flight.
pub const MAX_IN_FLIGHT: usize = 4096;
/// Most messages per batch send.
pub const MAX_BATCH: usize = 1024;
/// Longest run.
pub const MAX_DURATION_SECS: u64 = 24 * 3600;

/// Default `--busy-poll-us` of the producer and consumer (the client's default window).
pub const DEFAULT_BUSY_POLL_US: u64 = ferromq_remoting::config::DEFAULT_BUSY_POLL.as_micros() as u64;

/// The busy-poll window of `--busy-poll-us`, checked against the remoting limit.
pub fn busy_poll(micros: u64) -> anyhow::Result<Duration> {
    let window = Duration::from_micros(micros);
    if window > ferromq_remoting::config::MAX_BUSY_POLL {
        bail!(
            "--busy-poll-us must be at most {}",
            ferromq_remoting::config::MAX_BUSY_POLL.as_micros()
        );
    }
    Ok(window)
}

/// Most runtime threads `--threads` accepts.
pub const MAX_BENCH_THREADS: usize = 256;

/// `ferromq bench` arguments.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Runtime threads of the load generator. 1 (the default) runs every send, receive and
    /// busy poll on one thread: no wake-up crosses CPUs inside the client, and the other cores
    /// are left to the system under test (on this project's 2-core VM one thread drives more
    /// load than two). Use more against a remote broker on a bigger machine.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BenchCommand {
    /// Produce to a topic with N requests in flight; live TPS and a latency summary.
    Producer(producer::ProducerArgs),
    /// Pull every queue of a topic; live TPS, end-to-end latency summary.
    Consumer(consumer::ConsumerArgs),
    /// Loopback TCP ping-pong baseline measured in this process.
    Rtt(rtt::RttArgs),
}

/// How long a run lasts: exactly one of the two.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Limit {
    /// Run for this many seconds.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
}

impl Limit {
    /// Checks the bounds.
    pub fn validate(&self) -> anyhow::Result<()> {
        match (self.duration, self.count) {
            (Some(d), None) if d > 0 && d <= MAX_DURATION_SECS => Ok(()),
            (None, Some(c)) if c > 0 => Ok(()),
            (Some(_), None) => bail!("--duration must be between 1 and {MAX_DURATION_SECS} seconds"),
            (None, Some(_)) => bail!("--count must be positive"),
            _ => bail!("give exactly one of --duration and --count"),
        }
    }
}

/// Request header encoding.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    /// JSON headers (Java's default).
    Json,
    /// ROCKETMQ binary headers.
    Rocketmq,
}

impl HeaderFormat {
    /// The remoting serialize type.
    pub fn serialize_type(self) -> SerializeType {
        match self {
            HeaderFormat::Json => SerializeType::Json,
            HeaderFormat::Rocketmq => SerializeType::RocketMq,
        }
    }
}

/// Work shared by the tasks of one run: a message budget (count mode) and a stop signal
/// (duration elapsed, or count reached).
#[derive(Debug)]
pub struct Budget {
    remaining: Option<AtomicU64>,
    stop: CancellationToken,
}

impl Budget {
    /// A budget for `limit`; in duration mode a timer cancels it.
    pub fn start(limit: &Limit) -> std::sync::Arc<Self> {
        let budget = std::sync::Arc::new(Budget {
            remaining: limit.count.map(AtomicU64::new),
            stop: CancellationToken::new(),
        });
        if let Some(secs) = limit.duration {
            let stop = budget.stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(secs)) => stop.cancel(),
                    _ = stop.cancelled() => {}
                }
            });
        }
        budget
    }

    /// Takes up to `want` messages of work; 0 means the run is over.
    pub fn claim(&self, want: u64) -> u64 {
        if self.stop.is_cancelled() {
            return 0;
        }
        match &self.remaining {
            None => want,
            Some(remaining) => remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n > 0).then(|| n.saturating_sub(want))
                })
                .map(|before| before.min(want))
                .unwrap_or(0),
        }
    }

    /// Ends the run now.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Cancelled when the run is over (duration elapsed or stopped).
    pub fn stopped(&self) -> &CancellationToken {
        &self.stop
    }
}

/// Runs `ferromq bench ...` on a fresh runtime of `--threads` threads.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        n if (2..=MAX_BENCH_THREADS).contains(&n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
        _ => bail!("--threads must be between 1 and {MAX_BENCH_THREADS}"),
    };
    runtime.block_on(async move {
        match args.command {
            BenchCommand::Producer(args) => producer::run(args).await.map(|_| ()),
            BenchCommand::Consumer(args) => consumer::run(args).await.map(|_| ()),
            BenchCommand::Rtt(args) => rtt::run(args).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn count_budget_hands_out_exactly_the_count() {
        // Goal: claims never exceed the count, the last claim is partial, then 0.
        // Method: count 10 claimed 4 at a time.
        let budget = Budget::start(&Limit {
            duration: None,
            count: Some(10),
        });
        let claims: Vec<u64> = (0..5).map(|_| budget.claim(4)).collect();
        assert_eq!(claims, vec![4, 4, 2, 0, 0]);
    }

    #[tokio::test(start_paused = true)]
    async fn duration_budget_stops_when_the_time_is_up() {
        // Goal: duration mode hands out work until the timer fires. Method: paused clock.
        let budget = Budget::start(&Limit {
            duration: Some(2),
            count: None,
        });
        assert_eq!(budget.claim(3), 3);
        tokio::time::timeout(Duration::from_secs(5), budget.stopped().cancelled())
            .await
            .unwrap();
        assert_eq!(budget.claim(3), 0);
    }
}
