//! `ferromq`: one binary for every FerroMQ role. Thin: parse arguments, call a library.

mod decode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferromq", version, about = "FerroMQ: a RocketMQ-compatible messaging system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode RocketMQ remoting frames (a capture, or hex) and print each command.
    Decode(decode::DecodeArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Decode(args) => decode::run(args),
    }
}
