//! `ferromq namesrv`, `ferromq broker` and `ferromq standalone`: load config, bind, run until
//! SIGINT/SIGTERM, shut down gracefully.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ferromq_broker::BrokerConfig;
use ferromq_config::{load, Loaded, Sources, UnknownKey};
use ferromq_namesrv::NamesrvConfig;
use ferromq_remoting::CancellationToken;
use ferromq_store::MessageStoreConfig;
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

#[derive(clap::Args)]
pub struct BrokerArgs {
    /// Config file: RocketMQ `broker.conf` key=value (broker and store keys), or TOML.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Name server addresses, `host:port;host:port` (overrides `namesrvAddr`).
    #[arg(short = 'n', long = "namesrv-addr")]
    namesrv_addr: Option<String>,
    /// Print the effective config as key=value lines and exit.
    #[arg(short = 'p', long = "print-config")]
    print_config: bool,
}

#[derive(clap::Args)]
pub struct StandaloneArgs {
    /// Data directory (store, configs, name server KV config). Default: `~/.ferromq`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Name server port.
    #[arg(long, default_value_t = 9876)]
    namesrv_port: u16,
    /// Broker port (the VIP channel listens on this port - 2).
    #[arg(long, default_value_t = 10911)]
    broker_port: u16,
    /// Optional broker.conf (or .toml) with broker and store keys.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
}

fn warn_unknown(unknown: &[UnknownKey]) {
    for key in unknown {
        tracing::warn!(key = %key.key, source = %key.source, "config key not known to FerroMQ; ignored");
    }
}

/// Keys unknown to every one of several configs loaded from the same sources.
fn unknown_to_all(lists: &[&[UnknownKey]]) -> Vec<UnknownKey> {
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|k| rest.iter().all(|other| other.contains(k)))
        .cloned()
        .collect()
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

/// Binds `ip:port`; servers bind every interface (as RocketMQ does), standalone loopback only.
async fn bind_on(ip: Ipv4Addr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::from((ip, port));
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{what}: cannot listen on {addr}"))
}

fn load_namesrv(file: Option<&Path>, overrides: Vec<(String, String)>) -> anyhow::Result<NamesrvConfig> {
    let mut sources = Sources::file_and_env(file);
    sources.overrides = overrides;
    let Loaded { config, unknown_keys } = load::<NamesrvConfig>(&sources)?;
    warn_unknown(&unknown_keys);
    config.validate()?;
    Ok(config)
}

fn load_broker(
    file: Option<&Path>,
    overrides: Vec<(String, String)>,
) -> anyhow::Result<(BrokerConfig, MessageStoreConfig)> {
    let mut sources = Sources::file_and_env(file);
    sources.overrides = overrides;
    let mut broker = load::<BrokerConfig>(&sources)?;
    let store = load::<MessageStoreConfig>(&sources)?;
    warn_unknown(&unknown_to_all(&[&broker.unknown_keys, &store.unknown_keys]));
    // As RocketMQ's BrokerStartup: runtime config updates are written back to the `-c` file.
    if let (true, Some(file)) = (broker.config.broker_config_path.is_empty(), file) {
        let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        broker.config.broker_config_path = path.display().to_string();
    }
    broker.config.validate()?;
    store.config.validate()?;
    Ok((broker.config, store.config))
}

pub async fn namesrv(args: NamesrvArgs) -> anyhow::Result<()> {
    let config = load_namesrv(args.config.as_deref(), Vec::new())?;
    if args.print_config {
        print!("{}", ferromq_config::to_properties(&config));
        return Ok(());
    }
    let listener = bind_on(Ipv4Addr::UNSPECIFIED, config.listen_port, "name server").await?;
    tracing::info!(addr = %listener.local_addr()?, "name server listening");
    ferromq_namesrv::run(listener, config, shutdown_on_signals()).await?;
    Ok(())
}

pub async fn broker(args: BrokerArgs) -> anyhow::Result<()> {
    let overrides = args
        .namesrv_addr
        .map(|n| vec![("namesrvAddr".to_owned(), n)])
        .unwrap_or_default();
    let (broker, store) = load_broker(args.config.as_deref(), overrides)?;
    if args.print_config {
        print!("{}", ferromq_config::to_properties(&broker));
        print!("{}", ferromq_config::to_properties(&store));
        return Ok(());
    }
    let main = bind_on(Ipv4Addr::UNSPECIFIED, broker.listen_port, "broker").await?;
    let vip = bind_on(
        Ipv4Addr::UNSPECIFIED,
        broker.listen_port.saturating_sub(2),
        "broker VIP channel",
    )
    .await?;
    tracing::info!(addr = %main.local_addr()?, "broker listening");
    ferromq_broker::run(broker, store, main, Some(vip), shutdown_on_signals()).await?;
    Ok(())
}

/// Default standalone data directory: `$FERROMQ_HOME` or `~/.ferromq`.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("FERROMQ_HOME") {
        return Ok(PathBuf::from(home));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".ferromq")),
        None => bail!("neither FERROMQ_HOME nor HOME is set: pass --data-dir"),
    }
}

pub async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let data = data_dir.display().to_string();
    let namesrv_addr = format!("127.0.0.1:{}", args.namesrv_port);
    let namesrv_config = load_namesrv(
        None,
        vec![
            ("listenPort".into(), args.namesrv_port.to_string()),
            ("kvConfigPath".into(), format!("{data}/namesrv/kvConfig.json")),
        ],
    )?;
    let (broker_config, store_config) = load_broker(
        args.config.as_deref(),
        vec![
            ("namesrvAddr".into(), namesrv_addr.clone()),
            ("listenPort".into(), args.broker_port.to_string()),
            ("brokerIP1".into(), "127.0.0.1".into()),
            ("storePathRootDir".into(), format!("{data}/store")),
        ],
    )?;
    let namesrv_listener = bind_on(Ipv4Addr::LOCALHOST, args.namesrv_port, "name server").await?;
    let broker_listener = bind_on(Ipv4Addr::LOCALHOST, args.broker_port, "broker").await?;
    let vip_listener = bind_on(
        Ipv4Addr::LOCALHOST,
        args.broker_port.saturating_sub(2),
        "broker VIP channel",
    )
    .await?;

    let shutdown = shutdown_on_signals();
    // The broker stops first (it unregisters from the name server), then the name server.
    let namesrv_shutdown = CancellationToken::new();
    let namesrv = tokio::spawn(ferromq_namesrv::run(
        namesrv_listener,
        namesrv_config,
        namesrv_shutdown.clone(),
    ));
    let broker_shutdown = shutdown.child_token();
    let ready = {
        let addr = format!("127.0.0.1:{}", args.broker_port);
        let namesrv_addr = namesrv_addr.clone();
        tokio::spawn(async move { wait_until_registered(&namesrv_addr, &addr).await })
    };
    let broker = tokio::spawn(ferromq_broker::run(
        broker_config,
        store_config,
        broker_listener,
        Some(vip_listener),
        broker_shutdown,
    ));
    tokio::select! {
        r = ready => {
            r.context("readiness task")??;
            println!(
                "FerroMQ standalone ready: namesrv {namesrv_addr} broker 127.0.0.1:{} data {data}",
                args.broker_port
            );
        }
        _ = shutdown.cancelled() => {}
    }
    let broker_result = broker.await.context("broker task")?;
    namesrv_shutdown.cancel();
    let namesrv_result = namesrv.await.context("name server task")?;
    broker_result?;
    namesrv_result?;
    Ok(())
}

/// Waits until the name server lists the broker in its cluster info: then clients can route.
async fn wait_until_registered(namesrv_addr: &str, broker_addr: &str) -> anyhow::Result<()> {
    use ferromq_protocol::body::ClusterInfo;
    use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
    use ferromq_remoting::{ClientConfig, Dispatcher, RemotingClient};
    use std::sync::Arc;
    use std::time::Duration;

    let client = RemotingClient::new(ClientConfig::default(), Arc::new(Dispatcher::new()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let request = RemotingCommand::request(RequestCode::GetBrokerClusterInfo);
        if let Ok(response) = client.invoke(namesrv_addr, request, Duration::from_secs(3)).await {
            if response.code == ResponseCode::Success.as_i32() {
                let info: ClusterInfo = ferromq_protocol::body::decode_body(&response.body.to_bytes())?;
                let registered = info
                    .broker_addr_table
                    .values()
                    .any(|b| b.broker_addrs.values().any(|a| a == broker_addr));
                if registered {
                    return Ok(());
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the broker did not register with the name server within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
