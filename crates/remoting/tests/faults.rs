//! Faulty peers and limits over real sockets: garbage, oversized frames, the connection limit
//! and the idle timeout.

mod common;

use std::time::Duration;

use bytes::BufMut;
use common::*;
use ferromq_remoting::{Dispatcher, ServerConfig, MAX_FRAME_BYTES};

// Goal: a malformed frame closes only its own connection, with exactly one WARN line naming
// the peer, the reason and the bytes read. Method: a client keeps a healthy connection while a
// raw socket sends a frame with a broken JSON header; capture logs on this (single) thread.
#[tokio::test]
async fn garbage_bytes_close_only_that_connection_with_one_warn_line() -> anyhow::Result<()> {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let server = start_server(local_config(), echo_dispatcher()).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    echo_roundtrip(&client, &addr, "before").await?;

    let mut garbage = RawPeer::connect(server.addr).await?;
    let garbage_addr = garbage.stream.local_addr()?;
    let mut frame = Vec::new();
    frame.put_i32(4 + 5);
    frame.put_u32(5); // JSON, header of 5 bytes
    frame.put_slice(b"{junk");
    garbage.send_raw(&frame).await?;
    garbage.expect_closed().await?;

    echo_roundtrip(&client, &addr, "after").await?;
    let warns: Vec<String> = logs.lines().into_iter().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warns.len(), 1, "{warns:#?}");
    let line = &warns[0];
    assert!(line.contains("malformed frame"), "{line}");
    assert!(line.contains(&garbage_addr.to_string()), "{line}");
    assert!(line.contains("bytes_read=13"), "{line}");
    assert!(line.contains("JSON"), "{line}");
    server.stop().await
}

// Goal: a length word over the frame limit closes the connection at once, without waiting for
// (or allocating) the announced bytes. Method: send only a 4-byte length word of 16 MiB and of
// i32::MAX on two connections and expect each to be closed.
#[tokio::test]
async fn oversized_length_word_closes_connection_without_waiting_for_the_frame() -> anyhow::Result<()> {
    let server = start_server(local_config(), echo_dispatcher()).await?;
    for word in [i32::try_from(MAX_FRAME_BYTES)?, i32::MAX] {
        let mut peer = RawPeer::connect(server.addr).await?;
        peer.send_raw(&word.to_be_bytes()).await?;
        peer.expect_closed().await?;
    }
    // A frame of exactly the limit is still fine to announce: the server waits for it.
    let mut peer = RawPeer::connect(server.addr).await?;
    assert_eq!(peer.echo(1).await?.opaque, 1);
    server.stop().await
}

// Goal: connections beyond max_connections are closed while existing ones keep working, and a
// slot frees when a connection closes. Method: limit 2; two raw peers do a round trip, a third
// is closed; after dropping one, a new connection is served (retry until the slot is back).
#[tokio::test]
async fn connections_over_the_limit_are_refused_and_slots_are_reused() -> anyhow::Result<()> {
    let config = ServerConfig {
        max_connections: 2,
        ..local_config()
    };
    let server = start_server(config, echo_dispatcher()).await?;
    let mut first = RawPeer::connect(server.addr).await?;
    let mut second = RawPeer::connect(server.addr).await?;
    first.echo(1).await?;
    second.echo(1).await?;
    let mut third = RawPeer::connect(server.addr).await?;
    third.send(&echo_request("refused").with_opaque(1)).await.ok();
    third.expect_closed().await?;
    second.echo(2).await?;

    drop(first);
    let served = tokio::time::timeout(WAIT, async {
        loop {
            let mut next = RawPeer::connect(server.addr).await?;
            if next.echo(1).await.is_ok() {
                return anyhow::Ok(next);
            }
            tokio::task::yield_now().await;
        }
    })
    .await??;
    drop(served);
    server.stop().await
}

// Goal: a connection with no traffic is closed after the idle timeout, not before. Method:
// idle timeout 300 ms; open a raw connection, do one round trip, then wait for the close.
#[tokio::test]
async fn idle_connection_is_closed_after_the_idle_timeout() -> anyhow::Result<()> {
    let idle = Duration::from_millis(300);
    let config = ServerConfig {
        idle_timeout: Some(idle),
        ..local_config()
    };
    let server = start_server(config, echo_dispatcher()).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    peer.echo(1).await?;
    let last_traffic = tokio::time::Instant::now();
    peer.expect_closed().await?;
    assert!(
        last_traffic.elapsed() >= idle - Duration::from_millis(20),
        "closed too early"
    );
    server.stop().await
}
