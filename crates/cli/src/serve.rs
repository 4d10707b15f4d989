//! `ferromq namesrv` (and, with the broker, `broker` and `standalone`): load config, bind, run
//! until SIGINT/SIGTERM, shut down gracefully.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use ferromq_config::{load, Loaded, Sources, UnknownKey};
use ferromq_namesrv::NamesrvConfig;
use ferromq_remoting::CancellationToken;
use tokio::net::TcpListener;

#[derive(clap::Args)]
pub struct NamesrvArgs {
    /// Config file: RocketMQ `namesrv.conf` key=value, or TOML when it ends in `.toml`.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Print the effective config as key=value lines and exit.
    #[arg(short = 'p', long = "print-config")]
    print_config: bool,
}

fn warn_unknown(unknown: &[UnknownKey]) {
    for key in unknown {
        tracing::warn!(key = %key.key, source = %key.source, "config key not known to FerroMQ; ignored");
    }
}

fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::error!(error = %e, "cannot install the SIGTERM handler");
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        }
        trigger.cancel();
    });
    token
}

async fn bind(port: u16, what: &str) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    TcpListener::bind(addr).await.with_context(|| format!("{what}: cannot listen on {addr}"))
}

fn load_namesrv(file: Option<&Path>, overrides: Vec<(String, String)>) -> anyhow::Result<NamesrvConfig> {
    let mut sources = Sources::file_and_env(file);
    sources.overrides = overrides;
    let Loaded { config, unknown_keys } = load::<NamesrvConfig>(&sources)?;
    warn_unknown(&unknown_keys);
    config.validate()?;
    Ok(config)
}

pub async fn namesrv(args: NamesrvArgs) -> anyhow::Result<()> {
    let config = load_namesrv(args.config.as_deref(), Vec::new())?;
    if args.print_config {
        print!("{}", ferromq_config::to_properties(&config));
        return Ok(());
    }
    let listener = bind(config.listen_port, "name server").await?;
    tracing::info!(addr = %listener.local_addr()?, "name server listening");
    ferromq_namesrv::run(listener, config, shutdown_on_signals()).await?;
    Ok(())
}

