//! Shared helpers for the name server integration tests: in-process name servers on
//! 127.0.0.1:0, a remoting client speaking raw protocol frames, request builders and a bounded
//! wait on observable state.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ferromq_namesrv::{serve, CancellationToken, NamesrvConfig, NamesrvError, NamesrvState};
use ferromq_protocol::body::{
    decode_body, ClusterInfo, DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper,
};
use ferromq_protocol::header::namesrv::RegisterBrokerRequestHeader;
use ferromq_protocol::message::masked_crc32;
use ferromq_protocol::{RemotingCommand, RequestCode};
use ferromq_remoting::{ClientConfig, Dispatcher, RemotingClient};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Upper bound on every wait; a healthy run needs milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// Per-request timeout.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// Cluster name used by the helpers.
pub const CLUSTER: &str = "DefaultCluster";

/// A running in-process name server.
pub struct TestNamesrv {
    pub addr: String,
    pub state: Arc<NamesrvState>,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), NamesrvError>>,
}

impl TestNamesrv {
    /// Starts a name server with `config` on 127.0.0.1:0.
    pub async fn start(config: NamesrvConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?.to_string();
        let state = Arc::new(NamesrvState::new(config)?);
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(serve(listener, Arc::clone(&state), shutdown.clone()));
        Ok(TestNamesrv {
            addr,
            state,
            shutdown,
            handle,
        })
    }

    /// Cancels and waits for the server to return.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .context("name server did not stop")???;
        Ok(())
    }
}

/// Default settings with the KV file under `dir`.
pub fn config_in(dir: &Path) -> NamesrvConfig {
    NamesrvConfig {
        kv_config_path: dir.join("kvConfig.json"),
        config_store_path: dir.join("namesrv.properties"),
        ..NamesrvConfig::default()
    }
}

/// A client with default settings.
pub fn client() -> anyhow::Result<RemotingClient> {
    Ok(RemotingClient::new(
        ClientConfig::default(),
        Arc::new(Dispatcher::new()),
    )?)
}

/// Sends `request` and returns the response.
pub async fn call(client: &RemotingClient, addr: &str, request: RemotingCommand) -> anyhow::Result<RemotingCommand> {
    Ok(client.invoke(addr, request, RPC_TIMEOUT).await?)
}

/// Polls `check` until it returns true or [`WAIT`] passes.
pub async fn wait_until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A topic table with DataVersion `counter`.
pub fn topic_wrapper(topics: &[(&str, i32)], counter: i64) -> TopicConfigSerializeWrapper {
    TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: Some(0),
            timestamp: 1_700_000_000_000,
        },
        topic_config_table: topics
            .iter()
            .map(|(name, queues)| ((*name).to_owned(), TopicConfig::new(*name, *queues, *queues, 6)))
            .collect(),
        ..TopicConfigSerializeWrapper::default()
    }
}

/// A REGISTER_BROKER header as a 5.x Java broker sends it (crc of `body` filled in).
pub fn register_header(
    broker_name: &str,
    broker_id: i64,
    broker_addr: &str,
    compressed: bool,
    body: &[u8],
) -> RegisterBrokerRequestHeader {
    RegisterBrokerRequestHeader {
        broker_name: broker_name.to_owned(),
        broker_addr: broker_addr.to_owned(),
        cluster_name: CLUSTER.to_owned(),
        ha_server_addr: format!("{broker_addr}-ha"),
        broker_id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(compressed),
        body_crc32: Some(masked_crc32(body)),
    }
}

/// A REGISTER_BROKER request carrying `topics` (RegisterBrokerBody, JSON or compressed).
pub fn register_request(
    broker_name: &str,
    broker_id: i64,
    broker_addr: &str,
    topics: &[(&str, i32)],
    counter: i64,
    compressed: bool,
) -> RemotingCommand {
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: topic_wrapper(topics, counter),
    }
    .encode(compressed);
    let header = register_header(broker_name, broker_id, broker_addr, compressed, &body);
    RemotingCommand::request(RequestCode::RegisterBroker)
        .with_header(&header)
        .with_body(body)
}

/// GET_BROKER_CLUSTER_INFO, decoded.
pub async fn cluster_info(client: &RemotingClient, addr: &str) -> anyhow::Result<ClusterInfo> {
    let response = call(
        client,
        addr,
        RemotingCommand::request(RequestCode::GetBrokerClusterInfo),
    )
    .await?;
    Ok(decode_body(&response.body.to_bytes())?)
}

/// A fresh temporary directory path holder.
pub fn temp_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::tempdir()?)
}

/// The KV file of `dir`.
pub fn kv_path(dir: &Path) -> PathBuf {
    dir.join("kvConfig.json")
}
