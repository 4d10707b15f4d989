//! Shared helpers for the remoting integration tests: in-process servers on 127.0.0.1:0, raw
//! sockets speaking frames, and a log capture.

#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::BytesMut;
use ferromq_protocol::frame::encode_to_bytes;
use ferromq_protocol::{decode_frame, RemotingCommand, ResponseCode, MAX_FRAME_BYTES};
use ferromq_remoting::{
    CancellationToken, ClientConfig, Dispatcher, RemotingClient, RemotingError, RemotingServer, ServerConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Upper bound on every wait for observable state; a healthy run needs milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// Test request code answered by [`echo`].
pub const ECHO: i32 = 1000;

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), RemotingError>>,
}

impl TestServer {
    /// Cancels and waits for `run` to return.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .context("server did not stop")???;
        Ok(())
    }
}

/// Server settings on 127.0.0.1, port 0.
pub fn local_config() -> ServerConfig {
    ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Binds `config` and runs the server with `dispatcher`.
pub async fn start_server(config: ServerConfig, dispatcher: Dispatcher) -> anyhow::Result<TestServer> {
    let server = RemotingServer::bind(config).await?;
    let addr = server.local_addr()?;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(server.run(Arc::new(dispatcher), shutdown.clone()));
    Ok(TestServer { addr, shutdown, handle })
}

/// A client with default settings and the given dispatcher for server-initiated requests.
pub fn client(dispatcher: Dispatcher) -> anyhow::Result<RemotingClient> {
    Ok(RemotingClient::new(ClientConfig::default(), Arc::new(dispatcher))?)
}

/// Registers [`ECHO`]: SUCCESS with the request's ext fields and body.
pub fn register_echo(dispatcher: &mut Dispatcher) {
    dispatcher.register_fn(ECHO, |_ctx, request: RemotingCommand| async move {
        let mut response = RemotingCommand::response_to(&request, ResponseCode::Success);
        response.ext_fields = request.ext_fields.clone();
        response.body = request.body.clone();
        Some(response)
    });
}

/// A dispatcher with [`ECHO`] only.
pub fn echo_dispatcher() -> Dispatcher {
    let mut dispatcher = Dispatcher::new();
    register_echo(&mut dispatcher);
    dispatcher
}

/// An ECHO request carrying `key=value`.
pub fn echo_request(value: &str) -> RemotingCommand {
    let mut request = RemotingCommand::request_code(ECHO);
    request.put_ext_field("value", value);
    request
}

/// Invokes ECHO on `addr` and checks the value comes back.
pub async fn echo_roundtrip(client: &RemotingClient, addr: &str, value: &str) -> anyhow::Result<()> {
    let response = client.invoke(addr, echo_request(value), WAIT).await?;
    if response.code != ResponseCode::Success.as_i32() || response.ext_field("value") != Some(value) {
        bail!("unexpected echo response {response:?}");
    }
    Ok(())
}

/// A raw socket speaking frames, for tests that control opaques, flags and bytes.
pub struct RawPeer {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl RawPeer {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        Ok(RawPeer {
            stream: TcpStream::connect(addr).await?,
            buf: BytesMut::new(),
        })
    }

    pub async fn send(&mut self, command: &RemotingCommand) -> anyhow::Result<()> {
        let bytes = encode_to_bytes(command)?;
        self.stream.write_all(&bytes).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// The next frame, or `None` when the peer closed the connection (EOF or reset).
    pub async fn recv(&mut self) -> anyhow::Result<Option<RemotingCommand>> {
        let next = async {
            loop {
                if let Some(command) = decode_frame(&mut self.buf, MAX_FRAME_BYTES)? {
                    return Ok(Some(command));
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return Ok(None),
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(WAIT, next)
            .await
            .context("no frame and no close within WAIT")?
    }

    /// Waits until the server closes this connection; fails if a frame arrives instead.
    pub async fn expect_closed(&mut self) -> anyhow::Result<()> {
        match self.recv().await? {
            None => Ok(()),
            Some(command) => bail!("expected close, got {command:?}"),
        }
    }

    /// One request/response round trip with `opaque`.
    pub async fn echo(&mut self, opaque: i32) -> anyhow::Result<RemotingCommand> {
        self.send(&echo_request("raw").with_opaque(opaque)).await?;
        let response = self.recv().await?.context("closed instead of answering")?;
        if response.opaque != opaque || !response.is_response() {
            bail!("unexpected frame {response:?}");
        }
        Ok(response)
    }
}

/// Log lines captured from `tracing` (use with a current-thread runtime, where every task
/// runs on the test thread that holds the subscriber guard).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
    }
}

impl Write for LogCapture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buf) = self.0.lock() {
            buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
