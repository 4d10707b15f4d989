//! `ferromq`: one binary for every FerroMQ role. Thin: parse arguments, init tracing, call a
//! library's `run`.

mod bench;
mod decode;
mod serve;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the per-message path allocates and frees small buffers
/// across threads, where glibc spent ~15% of the broker's CPU (fastbin consolidation, arena
/// locks, trimming memory that is faulted in again). Its v2 line (the workspace enables the
/// crate's `v2` feature): v3 over-allocates every aligned allocation above 1 KiB, and the Rust
/// binding asks for every allocation aligned (docs/benchmarks.md, seventeenth session).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Most runtime threads `--io-threads` accepts.
const MAX_IO_THREADS: usize = 1024;

#[derive(Parser)]
#[command(name = "ferromq", version, about = "FerroMQ: a RocketMQ-compatible messaging system")]
struct Cli {
    /// Runtime (network + request) threads of `namesrv`, `broker` and `standalone`; default:
    /// one per CPU. The store's flush, dispatch and allocator threads come on top. On a small
    /// machine shared with the clients (a benchmark on one host) fewer can be faster. Give it
    /// before the subcommand: `ferromq --io-threads 1 standalone`.
    #[arg(long)]
    io_threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a name server and a broker in one process (127.0.0.1:9876 and :10911).
    Standalone(serve::StandaloneArgs),
    /// Run a name server (default port 9876).
    Namesrv(serve::NamesrvArgs),
    /// Run a broker (default port 10911, VIP channel 10909).
    Broker(serve::BrokerArgs),
    /// Decode RocketMQ remoting frames (a capture, or hex) and print each command.
    Decode(decode::DecodeArgs),
    /// Load generator: producer, consumer and loopback round-trip benchmarks.
    Bench(bench::BenchArgs),
}

/// Logs go to standard error; `RUST_LOG` filters them (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn server_runtime(io_threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = io_threads {
        if n == 0 || n > MAX_IO_THREADS {
            anyhow::bail!("--io-threads must be between 1 and {MAX_IO_THREADS}");
        }
        builder.worker_threads(n);
    }
    Ok(builder.enable_all().thread_name("ferromq").build()?)
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferromq: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Namesrv(args) => {
            init_tracing();
            server_runtime(cli.io_threads)?.block_on(serve::namesrv(args))
        }
        Command::Broker(args) => {
            init_tracing();
            server_runtime(cli.io_threads)?.block_on(serve::broker(args))
        }
        Command::Standalone(args) => {
            init_tracing();
            server_runtime(cli.io_threads)?.block_on(serve::standalone(args))
        }
        Command::Decode(args) => decode::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: --io-threads is bounded and sets the runtime's worker count. Method: build runtimes
    // with 0, 1 and too many threads; count the workers of the one that builds.
    #[test]
    fn io_threads_is_bounded_and_sets_the_worker_count() {
        assert!(server_runtime(Some(0)).is_err());
        assert!(server_runtime(Some(MAX_IO_THREADS + 1)).is_err());
        let runtime = server_runtime(Some(1)).expect("one thread");
        assert_eq!(runtime.metrics().num_workers(), 1);
        let cli = Cli::try_parse_from(["ferromq", "--io-threads", "3", "decode", "-"]).expect("parse");
        assert_eq!(cli.io_threads, Some(3));
    }
}
