//! Server-initiated requests, graceful shutdown, reconnects and connect failures.

mod common;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::*;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{Connection, Dispatcher, RemotingError, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

const SLOW: i32 = 1010;
const PEER: i32 = 1011;

// Goal: the server can call the client over the client's own connection: the client's
// processor answers CHECK_TRANSACTION_STATE, receives a oneway NOTIFY_CONSUMER_IDS_CHANGED,
// and an unknown code is answered REQUEST_CODE_NOT_SUPPORTED. Method: a HEART_BEAT processor
// hands its RequestContext's connection to the test, which then invokes the client.
#[tokio::test]
async fn server_initiated_requests_reach_the_client_processor() -> anyhow::Result<()> {
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel::<(Connection, std::net::SocketAddr)>();
    let mut server_dispatcher = Dispatcher::new();
    server_dispatcher.register_fn(RequestCode::HeartBeat, move |ctx, request: RemotingCommand| {
        let conn_tx = conn_tx.clone();
        async move {
            conn_tx.send((ctx.connection().clone(), ctx.peer_addr())).ok()?;
            Some(RemotingCommand::response_to(&request, ResponseCode::Success))
        }
    });
    let server = start_server(local_config(), server_dispatcher).await?;

    let (notified_tx, mut notified_rx) = mpsc::unbounded_channel::<String>();
    let mut client_dispatcher = Dispatcher::new();
    client_dispatcher.register_fn(
        RequestCode::CheckTransactionState,
        |_ctx, request: RemotingCommand| async move {
            let mut response = RemotingCommand::response_to(&request, ResponseCode::Success);
            response.put_ext_field("checked", request.ext_field("msgId").unwrap_or_default());
            Some(response)
        },
    );
    client_dispatcher.register_fn(
        RequestCode::NotifyConsumerIdsChanged,
        move |_ctx, request: RemotingCommand| {
            let notified_tx = notified_tx.clone();
            async move {
                let group = request.ext_field("consumerGroup").unwrap_or_default().to_owned();
                notified_tx.send(group).ok()?;
                None
            }
        },
    );
    let client = client(client_dispatcher)?;
    let addr = server.addr.to_string();
    let heartbeat = client
        .invoke(&addr, RemotingCommand::request(RequestCode::HeartBeat), WAIT)
        .await?;
    assert_eq!(heartbeat.code, ResponseCode::Success.as_i32());
    let (to_client, peer) = conn_rx.recv().await.context("server saw the connection")?;
    assert_eq!(peer, client.connection(&addr).await?.local_addr());

    let mut check = RemotingCommand::request(RequestCode::CheckTransactionState);
    check.put_ext_field("msgId", "ABC");
    let answer = to_client.invoke(check, WAIT).await?;
    assert_eq!(answer.code, ResponseCode::Success.as_i32());
    assert_eq!(answer.ext_field("checked"), Some("ABC"));

    let mut notify = RemotingCommand::request(RequestCode::NotifyConsumerIdsChanged);
    notify.put_ext_field("consumerGroup", "group-a");
    to_client.invoke_oneway(notify, WAIT).await?;
    assert_eq!(notified_rx.recv().await.as_deref(), Some("group-a"));

    let unknown = to_client.invoke(RemotingCommand::request_code(7777), WAIT).await?;
    assert_eq!(unknown.code, ResponseCode::RequestCodeNotSupported.as_i32());
    assert_eq!(unknown.remark.as_deref(), Some(" request type 7777 not supported"));

    // The server's handle sees the client go away.
    client.shutdown();
    tokio::time::timeout(WAIT, to_client.closed()).await?;
    server.stop().await
}

/// A dispatcher whose SLOW processor reports its start and answers when `release` fires.
fn slow_dispatcher(started: mpsc::UnboundedSender<()>, release: Arc<Notify>) -> Dispatcher {
    let mut dispatcher = echo_dispatcher();
    dispatcher.register_fn(SLOW, move |_ctx, request: RemotingCommand| {
        let started = started.clone();
        let release = Arc::clone(&release);
        async move {
            started.send(()).ok()?;
            release.notified().await;
            Some(RemotingCommand::response_to(&request, ResponseCode::Success).with_remark("slow done"))
        }
    });
    dispatcher
}

// Goal: graceful shutdown stops accepting but lets an in-flight request finish and its
// response reach the client. Method: start a slow request, cancel the server, wait until new
// connects are refused, release the request; the invoke succeeds and run() returns.
#[tokio::test]
async fn graceful_shutdown_drains_an_in_flight_slow_request() -> anyhow::Result<()> {
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let server = start_server(local_config(), slow_dispatcher(started_tx, Arc::clone(&release))).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let call = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move { client.invoke(&addr, RemotingCommand::request_code(SLOW), WAIT).await })
    };
    started_rx.recv().await.context("slow request started")?;
    server.shutdown.cancel();
    tokio::time::timeout(WAIT, async {
        while tokio::net::TcpStream::connect(server.addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .context("listener still accepting")?;
    assert!(!server.handle.is_finished(), "run() returned before the drain");
    release.notify_one();
    let response = call.await??;
    assert_eq!(response.remark.as_deref(), Some("slow done"));
    tokio::time::timeout(WAIT, server.handle).await???;
    Ok(())
}

// Goal: a request outliving the drain timeout does not hold shutdown forever: run() returns
// after the drain timeout and the waiting invoke fails with ConnectionClosed. Method: drain
// timeout 200 ms, a slow request never released.
#[tokio::test]
async fn shutdown_closes_requests_that_outlive_the_drain_timeout() -> anyhow::Result<()> {
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let config = ServerConfig {
        drain_timeout: Duration::from_millis(200),
        ..local_config()
    };
    let server = start_server(config, slow_dispatcher(started_tx, Arc::clone(&release))).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let call = {
        let client = client.clone();
        tokio::spawn(async move { client.invoke(&addr, RemotingCommand::request_code(SLOW), WAIT).await })
    };
    started_rx.recv().await.context("slow request started")?;
    let stopping = tokio::time::Instant::now();
    server.stop().await?;
    assert!(
        stopping.elapsed() >= Duration::from_millis(150),
        "returned before the drain timeout"
    );
    match call.await? {
        Err(RemotingError::ConnectionClosed { .. }) => Ok(()),
        other => anyhow::bail!("expected ConnectionClosed, got {other:?}"),
    }
}

// Goal: the client reconnects by itself after the server restarts on the same address.
// Method: echo, stop the server, wait for the client's connection to report closed, start a
// new server on the same port, echo again over a new connection.
#[tokio::test]
async fn client_reconnects_after_server_restart() -> anyhow::Result<()> {
    let server = start_server(local_config(), echo_dispatcher()).await?;
    let port_addr = server.addr;
    let client = client(Dispatcher::new())?;
    let addr = port_addr.to_string();
    echo_roundtrip(&client, &addr, "first life").await?;
    let old = client.connection(&addr).await?;
    server.stop().await?;
    tokio::time::timeout(WAIT, old.closed()).await?;
    assert!(client.connected_addrs().is_empty());

    let restarted = start_server(ServerConfig::new(port_addr), echo_dispatcher()).await?;
    echo_roundtrip(&client, &addr, "second life").await?;
    let new = client.connection(&addr).await?;
    assert_ne!(new.id(), old.id());
    assert_eq!(client.connected_addrs(), vec![addr.clone()]);
    restarted.stop().await
}

// Goal: concurrent first calls to an address share one connect attempt, and the calls made
// while it is open all use that connection. Method: 64 invokes spawned at once on a fresh
// client (all start before the connect completes), then 64 more; the server answers each with
// the peer address it saw; one peer in all, and it is the client's only connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_connection() -> anyhow::Result<()> {
    let mut dispatcher = Dispatcher::new();
    dispatcher.register_fn(PEER, |ctx, request: RemotingCommand| async move {
        let mut response = RemotingCommand::response_to(&request, ResponseCode::Success);
        response.put_ext_field("peer", ctx.peer_addr().to_string());
        Some(response)
    });
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let mut peers = std::collections::BTreeSet::new();
    for _round in 0..2 {
        let calls: Vec<_> = (0..64)
            .map(|_| {
                let client = client.clone();
                let addr = addr.clone();
                tokio::spawn(async move { client.invoke(&addr, RemotingCommand::request_code(PEER), WAIT).await })
            })
            .collect();
        for call in calls {
            let response = call.await??;
            peers.insert(response.ext_field("peer").context("peer")?.to_owned());
        }
    }
    let connection = client.connection(&addr).await?;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers.first(), Some(&connection.local_addr().to_string()));
    assert_eq!(client.connected_addrs(), vec![addr]);
    server.stop().await
}

// Goal: connecting to an address nobody listens on fails with ConnectFailed naming it.
// Method: bind a port, release it, invoke it.
#[tokio::test]
async fn invoke_to_a_closed_port_fails_with_connect_failed() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    drop(listener);
    let client = client(Dispatcher::new())?;
    match client.invoke(&addr, echo_request("x"), WAIT).await {
        Err(RemotingError::ConnectFailed { addr: failed, .. }) => assert_eq!(failed, addr),
        other => anyhow::bail!("expected ConnectFailed, got {other:?}"),
    }
    Ok(())
}

// Goal: one dispatcher serves two listeners (a broker's main and VIP ports). Method: bind two
// servers, run both with the same Arc<Dispatcher>, echo on each.
#[tokio::test]
async fn one_dispatcher_serves_main_and_vip_listeners() -> anyhow::Result<()> {
    let dispatcher = Arc::new(echo_dispatcher());
    let shutdown = ferromq_remoting::CancellationToken::new();
    let main = ferromq_remoting::RemotingServer::bind(local_config()).await?;
    let vip = ferromq_remoting::RemotingServer::bind(local_config()).await?;
    let addrs = [main.local_addr()?.to_string(), vip.local_addr()?.to_string()];
    let main_run = tokio::spawn(main.run(Arc::clone(&dispatcher), shutdown.clone()));
    let vip_run = tokio::spawn(vip.run(dispatcher, shutdown.clone()));
    let client = client(Dispatcher::new())?;
    for addr in &addrs {
        echo_roundtrip(&client, addr, "port").await?;
    }
    shutdown.cancel();
    main_run.await??;
    vip_run.await??;
    Ok(())
}
