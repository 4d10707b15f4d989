//! Request/response behaviour over real sockets: opaque matching, oneway, timeouts, unknown
//! codes, header encodings, multi-segment bodies, panicking processors, backpressure.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use common::*;
use ferromq_protocol::frame::encode_to_bytes;
use ferromq_protocol::{Body, RemotingCommand, ResponseCode, SerializeType};
use ferromq_remoting::{Dispatcher, RemotingError};
use tokio::sync::{mpsc, oneshot, Notify};

const HELD: i32 = 1001;
const NEVER: i32 = 1002;
const PANIC: i32 = 1003;
const ONEWAY_PROBE: i32 = 1004;
const SEGMENTED_ECHO: i32 = 1005;

/// Registers HELD: each request is reported with a release switch and answered once released.
fn register_held(dispatcher: &mut Dispatcher) -> mpsc::UnboundedReceiver<(String, oneshot::Sender<()>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    dispatcher.register_fn(HELD, move |_ctx, request: RemotingCommand| {
        let tx = tx.clone();
        async move {
            let value = request.ext_field("value").unwrap_or_default().to_owned();
            let (release_tx, release_rx) = oneshot::channel();
            tx.send((value.clone(), release_tx)).ok()?;
            release_rx.await.ok()?;
            let mut response = RemotingCommand::response_to(&request, ResponseCode::Success);
            response.put_ext_field("value", value);
            Some(response)
        }
    });
    rx
}

/// Registers NEVER: requests wait on the returned `Notify` and are never answered.
fn register_never(dispatcher: &mut Dispatcher) -> Arc<Notify> {
    let never = Arc::new(Notify::new());
    let never_in = Arc::clone(&never);
    dispatcher.register_fn(NEVER, move |_ctx, _request| {
        let never = Arc::clone(&never_in);
        async move {
            never.notified().await;
            None
        }
    });
    never
}

// Goal: many concurrent invokes on one connection each get their own response even when the
// server answers in reverse order. Method: hold 64 requests until all arrived, release them
// last-first, check each caller's echoed value and that the opaque table ends empty. Runs on
// a multi-threaded runtime so reader, writer and callers really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invokes_answered_out_of_order_get_their_own_responses() -> anyhow::Result<()> {
    let mut dispatcher = Dispatcher::new();
    let mut held = register_held(&mut dispatcher);
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let count = 64;
    let mut calls = Vec::new();
    for i in 0..count {
        let client = client.clone();
        let addr = addr.clone();
        calls.push(tokio::spawn(async move {
            let mut request = RemotingCommand::request_code(HELD);
            request.put_ext_field("value", i.to_string());
            let response = client.invoke(&addr, request, WAIT).await?;
            anyhow::ensure!(
                response.ext_field("value") == Some(i.to_string().as_str()),
                "{response:?}"
            );
            anyhow::Ok(response.opaque)
        }));
    }
    let mut releases = Vec::new();
    for _ in 0..count {
        releases.push(held.recv().await.context("held request")?);
    }
    for (_, release) in releases.into_iter().rev() {
        release.send(()).ok().context("release")?;
    }
    let mut opaques = Vec::new();
    for call in calls {
        opaques.push(call.await??);
    }
    opaques.sort_unstable();
    opaques.dedup();
    assert_eq!(opaques.len(), count, "every invoke used its own opaque");
    assert_eq!(client.connection(&addr).await?.pending_invokes(), 0);
    server.stop().await
}

// Goal: a ONEWAY request is never answered, even when its processor returns a response.
// Method: raw socket sends a oneway request, waits until the processor ran, then sends two
// requests; the next two frames must be exactly their responses.
#[tokio::test]
async fn oneway_request_is_never_answered() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let (ran_tx, mut ran_rx) = mpsc::unbounded_channel();
    dispatcher.register_fn(ONEWAY_PROBE, move |_ctx, request: RemotingCommand| {
        let ran_tx = ran_tx.clone();
        async move {
            let response = RemotingCommand::response_to(&request, ResponseCode::Success);
            ran_tx.send(request.opaque).ok()?;
            Some(response)
        }
    });
    let server = start_server(local_config(), dispatcher).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    let mut oneway = RemotingCommand::request_code(ONEWAY_PROBE).with_opaque(1);
    oneway.set_oneway();
    peer.send(&oneway).await?;
    assert_eq!(ran_rx.recv().await, Some(1));
    // Anything the oneway request produced was queued before these requests were even sent.
    assert_eq!(peer.echo(2).await?.opaque, 2);
    assert_eq!(peer.echo(3).await?.opaque, 3);
    server.stop().await
}

// Goal: an unanswered invoke fails with Timeout after its own timeout and leaves the
// connection usable. Method: invoke a processor that never answers with 100 ms, then echo.
#[tokio::test]
async fn invoke_without_response_times_out_and_connection_stays_usable() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let never = register_never(&mut dispatcher);
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let started = tokio::time::Instant::now();
    let result = client
        .invoke(&addr, RemotingCommand::request_code(NEVER), Duration::from_millis(100))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    match result {
        Err(RemotingError::Timeout { timeout_ms: 100, .. }) => {}
        other => anyhow::bail!("expected timeout, got {other:?}"),
    }
    assert_eq!(client.connection(&addr).await?.pending_invokes(), 0);
    echo_roundtrip(&client, &addr, "after timeout").await?;
    never.notify_waiters();
    server.stop().await
}

// Goal: invokes sharing one connection each time out at their own deadline (the short one
// is not held back by a longer one sent before it), and one answered in between is not
// affected. Method: a 900 ms invoke of a processor that never answers, then a 100 ms one,
// then an echo; check the outcomes and when each timeout came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invokes_on_one_connection_time_out_at_their_own_deadlines() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let never = register_never(&mut dispatcher);
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    echo_roundtrip(&client, &addr, "connect first").await?;
    let started = tokio::time::Instant::now();
    let long = tokio::spawn({
        let (client, addr) = (client.clone(), addr.clone());
        async move {
            let result = client
                .invoke(&addr, RemotingCommand::request_code(NEVER), Duration::from_millis(900))
                .await;
            (result, started.elapsed())
        }
    });
    let short = client
        .invoke(&addr, RemotingCommand::request_code(NEVER), Duration::from_millis(100))
        .await;
    let short_elapsed = started.elapsed();
    assert!(
        matches!(short, Err(RemotingError::Timeout { timeout_ms: 100, .. })),
        "{short:?}"
    );
    assert!(short_elapsed >= Duration::from_millis(100), "{short_elapsed:?}");
    assert!(
        short_elapsed < Duration::from_millis(800),
        "short waited for the long one: {short_elapsed:?}"
    );
    echo_roundtrip(&client, &addr, "between timeouts").await?;
    let (long, long_elapsed) = long.await?;
    assert!(
        matches!(long, Err(RemotingError::Timeout { timeout_ms: 900, .. })),
        "{long:?}"
    );
    assert!(long_elapsed >= Duration::from_millis(900), "{long_elapsed:?}");
    assert_eq!(client.connection(&addr).await?.pending_invokes(), 0);
    never.notify_waiters();
    server.stop().await
}

// Goal: an invoke that cannot even be queued (the write queue is full because the peer reads
// nothing) still ends with Timeout at its deadline and leaves no opaque-table entry.
// Method: a listener that accepts and never reads; a client whose write queue holds one
// frame; three invokes of 8 MiB bodies with a 300 ms timeout: the first fills the socket
// buffers, the second the queue, the third waits for room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_waiting_for_room_in_a_full_write_queue_times_out() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let silent = tokio::spawn(async move {
        let accepted = listener.accept().await;
        // Holds the socket open without reading until the test ends.
        std::future::pending::<()>().await;
        drop(accepted);
    });
    let mut config = ferromq_remoting::ClientConfig::default();
    config.connection.write_queue_frames = 1;
    let client = ferromq_remoting::RemotingClient::new(config, Arc::new(Dispatcher::new()))?;
    let body = Bytes::from(vec![7u8; 8 << 20]);
    let started = tokio::time::Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let (client, addr, body) = (client.clone(), addr.clone(), body.clone());
            tokio::spawn(async move {
                let request = RemotingCommand::request_code(NEVER).with_body(body);
                client.invoke(&addr, request, Duration::from_millis(300)).await
            })
        })
        .collect();
    for call in calls {
        let result = call.await?;
        assert!(
            matches!(result, Err(RemotingError::Timeout { timeout_ms: 300, .. })),
            "{result:?}"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(client.connection(&addr).await?.pending_invokes(), 0);
    silent.abort();
    Ok(())
}

// Goal: an unknown code is answered REQUEST_CODE_NOT_SUPPORTED with Java's remark and the
// connection stays open. Method: invoke code 9999, then echo on the same connection.
#[tokio::test]
async fn unknown_code_is_answered_not_supported_and_connection_stays_open() -> anyhow::Result<()> {
    let server = start_server(local_config(), echo_dispatcher()).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let first = client.connection(&addr).await?;
    let response = client.invoke(&addr, RemotingCommand::request_code(9999), WAIT).await?;
    assert_eq!(response.code, ResponseCode::RequestCodeNotSupported.as_i32());
    assert_eq!(response.remark.as_deref(), Some(" request type 9999 not supported"));
    assert!(response.is_response());
    echo_roundtrip(&client, &addr, "still open").await?;
    assert_eq!(client.connection(&addr).await?.id(), first.id());
    server.stop().await
}

// Goal: JSON and ROCKETMQ headers are both accepted and each answered in its own encoding.
// Method: one raw socket sends an echo in each encoding and inspects the responses.
#[tokio::test]
async fn json_and_rocketmq_requests_are_answered_in_their_own_encoding() -> anyhow::Result<()> {
    let server = start_server(local_config(), echo_dispatcher()).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    for (opaque, serialize_type) in [
        (11, SerializeType::RocketMq),
        (12, SerializeType::Json),
        (13, SerializeType::RocketMq),
    ] {
        let mut request = echo_request("typed").with_opaque(opaque);
        request.serialize_type = serialize_type;
        peer.send(&request).await?;
        let response = peer.recv().await?.context("answer")?;
        assert_eq!(response.opaque, opaque);
        assert_eq!(response.serialize_type, serialize_type);
        assert_eq!(response.ext_field("value"), Some("typed"));
        assert_eq!(response.code, ResponseCode::Success.as_i32());
    }
    server.stop().await
}

// Goal: multi-segment bodies are sent and received intact both ways. Method: send a body of
// three segments (one over 1 MiB), the server echoes it split into other segments.
#[tokio::test]
async fn multi_segment_body_is_sent_and_received_intact() -> anyhow::Result<()> {
    let mut dispatcher = Dispatcher::new();
    dispatcher.register_fn(SEGMENTED_ECHO, |_ctx, request: RemotingCommand| async move {
        let whole = request.body.to_bytes();
        let cut_a = whole.len() / 3;
        let cut_b = whole.len() - 5;
        let segments = vec![whole.slice(..cut_a), whole.slice(cut_a..cut_b), whole.slice(cut_b..)];
        Some(RemotingCommand::response_to(&request, ResponseCode::Success).with_body(Body::from_segments(segments)))
    });
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let pattern = |len: usize, seed: u8| -> Bytes { (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect() };
    let segments = vec![pattern(1024 * 1024 + 1, 1), pattern(7, 2), pattern(300_001, 3)];
    let expected: Vec<u8> = segments.iter().flat_map(|s| s.to_vec()).collect();
    let request = RemotingCommand::request_code(SEGMENTED_ECHO).with_body(Body::from_segments(segments));
    let response = client.invoke(&server.addr.to_string(), request, WAIT).await?;
    assert_eq!(response.body.len(), expected.len());
    assert!(response.body.to_bytes() == expected, "body differs");
    server.stop().await
}

// Goal: a panicking processor is answered SYSTEM_ERROR and the server keeps serving, while a
// oneway request to it gets nothing. Method: invoke the panicking code (twice, once oneway),
// then echo on the same and on a new connection.
#[tokio::test]
async fn panicking_processor_is_answered_system_error_and_server_keeps_serving() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let panics = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&panics);
    dispatcher.register_fn(PANIC, move |_ctx, _request| {
        let counter = Arc::clone(&counter);
        async move {
            if counter.fetch_add(1, Ordering::Relaxed) < usize::MAX {
                panic!("boom in processor");
            }
            None
        }
    });
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let response = client.invoke(&addr, RemotingCommand::request_code(PANIC), WAIT).await?;
    assert_eq!(response.code, ResponseCode::SystemError.as_i32());
    assert!(response
        .remark
        .as_deref()
        .unwrap_or_default()
        .contains("boom in processor"));
    echo_roundtrip(&client, &addr, "after panic").await?;

    let mut peer = RawPeer::connect(server.addr).await?;
    let mut oneway = RemotingCommand::request_code(PANIC).with_opaque(1);
    oneway.set_oneway();
    peer.send(&oneway).await?;
    assert_eq!(peer.echo(2).await?.opaque, 2);
    // Requests run concurrently, so the oneway panic may be handled after the echo: a no-event
    // check (can only pass wrongly, never fail wrongly) shows no answer follows.
    let late = tokio::time::timeout(Duration::from_millis(200), peer.recv()).await;
    assert!(late.is_err(), "oneway request answered: {late:?}");
    assert_eq!(panics.load(Ordering::Relaxed), 2, "both requests reached the processor");
    server.stop().await
}

// Goal: when a connection's in-flight limit is reached and one more request has to wait, the
// server stops reading the connection until a waiting request finishes (backpressure, no
// queue); requests answered inline take no permit. Method: limit 2; hold two requests, send an
// echo (answered: it never waits), hold a third (it has started but has no permit), send an
// echo; it must not be answered while the three are held, and must be after one is released.
#[tokio::test]
async fn full_in_flight_limit_pauses_reading_until_a_request_finishes() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let mut held = register_held(&mut dispatcher);
    let config = ferromq_remoting::ServerConfig {
        max_in_flight_requests_per_connection: 2,
        ..local_config()
    };
    let server = start_server(config, dispatcher).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    let held_request = |opaque: i32| {
        let mut request = RemotingCommand::request_code(HELD).with_opaque(opaque);
        request.put_ext_field("value", opaque.to_string());
        request
    };
    for opaque in [1, 2] {
        peer.send(&held_request(opaque)).await?;
    }
    let first = held.recv().await.context("first held")?;
    let second = held.recv().await.context("second held")?;
    peer.send(&echo_request("inline").with_opaque(10)).await?;
    assert_eq!(peer.recv().await?.context("frame")?.opaque, 10);
    peer.send(&held_request(3)).await?;
    let third = held.recv().await.context("third held")?;
    peer.send(&echo_request("queued").with_opaque(4)).await?;
    // A no-event check can only pass wrongly, never fail wrongly: the echo must stay unanswered.
    let early = tokio::time::timeout(Duration::from_millis(200), peer.recv()).await;
    assert!(
        early.is_err(),
        "echo answered while the in-flight limit was full: {early:?}"
    );
    first.1.send(()).ok().context("release")?;
    let mut opaques = vec![
        peer.recv().await?.context("frame")?.opaque,
        peer.recv().await?.context("frame")?.opaque,
    ];
    opaques.sort_unstable();
    assert_eq!(opaques, vec![1, 4]);
    second.1.send(()).ok().context("release")?;
    assert_eq!(peer.recv().await?.context("frame")?.opaque, 2);
    third.1.send(()).ok().context("release")?;
    assert_eq!(peer.recv().await?.context("frame")?.opaque, 3);
    server.stop().await
}

// Goal: the opaque table is bounded: with one request waiting and a limit of 1, the next invoke
// fails at once with TooManyInFlight, and works again once the first is answered. Method: a
// client with max_pending_invokes = 1 and a held request.
#[tokio::test]
async fn full_opaque_table_fails_fast_with_too_many_in_flight() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let mut held = register_held(&mut dispatcher);
    let server = start_server(local_config(), dispatcher).await?;
    let mut config = ferromq_remoting::ClientConfig::default();
    config.connection.max_pending_invokes = 1;
    let client = ferromq_remoting::RemotingClient::new(config, Arc::new(Dispatcher::new()))?;
    let addr = server.addr.to_string();
    let first = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move { client.invoke(&addr, RemotingCommand::request_code(HELD), WAIT).await })
    };
    let (_, release) = held.recv().await.context("held")?;
    match client.invoke(&addr, echo_request("second"), WAIT).await {
        Err(RemotingError::TooManyInFlight { limit: 1 }) => {}
        other => anyhow::bail!("expected TooManyInFlight, got {other:?}"),
    }
    release.send(()).ok().context("release")?;
    first.await??;
    echo_roundtrip(&client, &addr, "second").await?;
    server.stop().await
}

const PANIC_LATER: i32 = 1006;

// Goal: a request whose processor has to wait moves off the connection's reader, so fast
// requests sent after it on the same connection are answered (inline) while it waits; it is
// answered once it completes; a processor that panics after its first wait is still answered
// SYSTEM_ERROR. Method: hold one request, run 50 echoes on the same connection, release it;
// then invoke a processor that yields before panicking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_request_moves_to_its_own_task_and_fast_ones_keep_flowing() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let mut held = register_held(&mut dispatcher);
    dispatcher.register_fn(PANIC_LATER, |_ctx, _request| async move {
        tokio::task::yield_now().await;
        if std::hint::black_box(true) {
            panic!("late boom");
        }
        None
    });
    let server = start_server(local_config(), dispatcher).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let waiting = {
        let (client, addr) = (client.clone(), addr.clone());
        tokio::spawn(async move {
            let mut request = RemotingCommand::request_code(HELD);
            request.put_ext_field("value", "slow");
            client.invoke(&addr, request, WAIT).await
        })
    };
    let (_, release) = held.recv().await.context("held request")?;
    for i in 0..50 {
        echo_roundtrip(&client, &addr, &format!("fast {i}")).await?;
    }
    assert!(!waiting.is_finished(), "the held request cannot have been answered yet");
    release.send(()).ok().context("release")?;
    let response = waiting.await??;
    assert_eq!(response.ext_field("value"), Some("slow"));

    let response = client
        .invoke(&addr, RemotingCommand::request_code(PANIC_LATER), WAIT)
        .await?;
    assert_eq!(response.code, ResponseCode::SystemError.as_i32());
    assert!(response.remark.as_deref().unwrap_or_default().contains("late boom"));
    echo_roundtrip(&client, &addr, "after late panic").await?;
    server.stop().await
}

const BATCH_PROBE: i32 = 1006;

// Goal: a burst of pipelined requests that one read takes in whole is answered in slices of at
// most MAX_BATCH_FRAMES, each ending with its deferred work (so a pipelining peer gets answers
// while the rest is still being handled). Method: a processor that counts requests and defers a
// hook recording how many ran since the last hook; 100 requests sent in one write, all answered;
// every slice is at most MAX_BATCH_FRAMES and the slices add up to 100.
#[tokio::test]
async fn a_burst_of_requests_is_answered_in_bounded_batches() -> anyhow::Result<()> {
    const BURST: usize = 100;
    let ran = Arc::new(AtomicUsize::new(0));
    let slices = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook: ferromq_remoting::BatchHook = {
        let (ran, slices) = (Arc::clone(&ran), Arc::clone(&slices));
        Arc::new(move || slices.lock().unwrap().push(ran.swap(0, Ordering::SeqCst)))
    };
    let mut dispatcher = Dispatcher::new();
    dispatcher.register_fn(BATCH_PROBE, move |ctx, request: RemotingCommand| {
        ran.fetch_add(1, Ordering::SeqCst);
        ctx.connection().defer_to_batch_end(&hook);
        async move { Some(RemotingCommand::response_to(&request, ResponseCode::Success)) }
    });
    let server = start_server(local_config(), dispatcher).await?;
    let mut peer = RawPeer::connect(server.addr).await?;
    let mut burst = Vec::new();
    for opaque in 0..BURST as i32 {
        burst.extend_from_slice(&encode_to_bytes(
            &RemotingCommand::request_code(BATCH_PROBE).with_opaque(opaque),
        )?);
    }
    peer.send_raw(&burst).await?;
    for _ in 0..BURST {
        let response = peer.recv().await?.context("closed before answering the burst")?;
        assert_eq!(response.code, ResponseCode::Success.as_i32());
    }
    let slices = slices.lock().unwrap().clone();
    assert_eq!(
        slices.iter().sum::<usize>(),
        BURST,
        "every request ran in some batch: {slices:?}"
    );
    assert!(
        slices.iter().all(|n| *n <= ferromq_remoting::MAX_BATCH_FRAMES),
        "batches larger than the cap: {slices:?}"
    );
    server.stop().await
}

// Goal: on a client connection a JSON response reaches its invoke with the header only
// scanned, reads like the decoded command (escaped text included), and `invoke` still hands
// out the whole decoded command; a ROCKETMQ response arrives decoded. Method: echo requests
// through `invoke_received` and `invoke`, compare.
#[tokio::test]
async fn responses_reach_invokes_scanned_and_read_like_decoded_commands() -> anyhow::Result<()> {
    let server = start_server(local_config(), echo_dispatcher()).await?;
    let client = client(Dispatcher::new())?;
    let addr = server.addr.to_string();
    let deadline = || tokio::time::Instant::now() + WAIT;
    let mut request = RemotingCommand::request_code(ECHO).with_body(b"payload".to_vec());
    request.put_ext_field("msgId", "7F000001");
    request.put_ext_field("quoted", "a \"b\" \\ c\n é");
    let received = client.invoke_received(&addr, request.clone(), deadline(), WAIT).await?;
    assert!(received.is_scanned());
    assert_eq!(received.code(), ResponseCode::Success.as_i32());
    let [msg_id, quoted, absent] = received.ext_fields_of(["msgId", "quoted", "absent"]);
    assert_eq!(msg_id.as_deref(), Some("7F000001"));
    assert_eq!(quoted.as_deref(), Some("a \"b\" \\ c\n é"));
    assert_eq!(absent, None);
    let decoded = received.into_command()?;
    let invoked = client.invoke(&addr, request.clone(), WAIT).await?;
    assert_eq!(decoded.ext_fields, invoked.ext_fields);
    assert_eq!(decoded.body, invoked.body);
    assert_eq!(invoked.body.to_bytes(), Bytes::from_static(b"payload"));

    request.serialize_type = SerializeType::RocketMq;
    let binary = client.invoke_received(&addr, request, deadline(), WAIT).await?;
    assert!(!binary.is_scanned());
    assert_eq!(binary.ext_fields_of(["msgId"])[0].as_deref(), Some("7F000001"));
    server.stop().await
}

// Goal: a callback invoke (`invoke_with`) hands its callback exactly one outcome: the
// response, a Timeout at its own deadline, TooManyInFlight when the opaque table is full, or
// ConnectionClosed when the connection closes with it pending; the table ends empty.
// Method: a client whose opaque table holds 2 entries; an echo, an unanswered request with a
// 100 ms deadline, then one held unanswered request plus one that fills the table and one
// refused, then close the connection; every callback reports on one channel, which must
// carry exactly one outcome per invoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_invokes_get_exactly_one_outcome() -> anyhow::Result<()> {
    let mut dispatcher = echo_dispatcher();
    let never = register_never(&mut dispatcher);
    let server = start_server(local_config(), dispatcher).await?;
    let mut config = ferromq_remoting::ClientConfig::default();
    config.connection.max_pending_invokes = 2;
    let client = ferromq_remoting::RemotingClient::new(config, Arc::new(Dispatcher::new()))?;
    let connection = client.connection(&server.addr.to_string()).await?;
    let (tx, mut outcomes) = mpsc::unbounded_channel();
    let invoke = |request: RemotingCommand, timeout: Duration, name: &'static str| {
        let tx = tx.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        connection.invoke_with(request, deadline, timeout, move |outcome| {
            let _ = tx.send((name, outcome));
        })
    };

    invoke(echo_request("called back"), WAIT, "echo").await;
    let (name, outcome) = outcomes.recv().await.context("echo outcome")?;
    let response = outcome?.into_command()?;
    assert_eq!((name, response.ext_field("value")), ("echo", Some("called back")));

    let started = tokio::time::Instant::now();
    invoke(
        RemotingCommand::request_code(NEVER),
        Duration::from_millis(100),
        "short",
    )
    .await;
    let (name, outcome) = outcomes.recv().await.context("timeout outcome")?;
    assert_eq!(name, "short");
    assert!(
        matches!(outcome, Err(RemotingError::Timeout { timeout_ms: 100, .. })),
        "{outcome:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));

    invoke(RemotingCommand::request_code(NEVER), WAIT, "held 1").await;
    invoke(RemotingCommand::request_code(NEVER), WAIT, "held 2").await;
    assert_eq!(connection.pending_invokes(), 2);
    invoke(echo_request("refused"), WAIT, "refused").await;
    let (name, outcome) = outcomes.recv().await.context("refusal")?;
    assert_eq!(name, "refused");
    assert!(
        matches!(outcome, Err(RemotingError::TooManyInFlight { limit: 2 })),
        "{outcome:?}"
    );

    connection.close();
    let mut closed = Vec::new();
    for _ in 0..2 {
        let (name, outcome) = outcomes.recv().await.context("close outcome")?;
        assert!(
            matches!(outcome, Err(RemotingError::ConnectionClosed { .. })),
            "{outcome:?}"
        );
        closed.push(name);
    }
    closed.sort_unstable();
    assert_eq!(closed, ["held 1", "held 2"]);
    connection.closed().await;
    assert_eq!(connection.pending_invokes(), 0);
    // After a close, a new callback invoke is refused at once, through its callback.
    invoke(echo_request("late"), WAIT, "late").await;
    let (name, outcome) = outcomes.recv().await.context("late outcome")?;
    assert_eq!(name, "late");
    assert!(
        matches!(outcome, Err(RemotingError::ConnectionClosed { .. })),
        "{outcome:?}"
    );
    drop(tx);
    assert!(outcomes.try_recv().is_err(), "an invoke was called back twice");
    never.notify_waiters();
    server.stop().await
}
