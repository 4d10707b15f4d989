//! `ferromq`: one binary for every FerroMQ role. Thin: parse arguments, init tracing, call a
//! library's `run`.

mod bench;
mod decode;
mod serve;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the per-message path allocates and frees small buffers
/// across threads, where glibc spent ~15% of the broker's CPU (fastbin consolidation, arena
/// locks, trimming memory that is faulted in again).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ferromq", version, about = "FerroMQ: a RocketMQ-compatible messaging system")]
struct Cli {
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

fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferromq")
        .build()?)
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
            server_runtime()?.block_on(serve::namesrv(args))
        }
        Command::Broker(args) => {
            init_tracing();
            server_runtime()?.block_on(serve::broker(args))
        }
        Command::Standalone(args) => {
            init_tracing();
            server_runtime()?.block_on(serve::standalone(args))
        }
        Command::Decode(args) => decode::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
