use super::*;
use bytes::BytesMut;
use ferromq_protocol::Body;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};

/// A connected pair: the peer's stream, and our halves.
async fn tcp_pair() -> (TcpStream, OwnedReadHalf, OwnedWriteHalf) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (peer, ours) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (read, write) = ours.expect("accept").0.into_split();
    (peer.expect("connect"), read, write)
}

fn frame(code: i32, body: Vec<u8>) -> (RemotingCommand, OutboundFrame) {
    let command = RemotingCommand::request_code(code).with_body(body);
    let frame = OutboundFrame::encode(command.clone()).expect("encode");
    (command, frame)
}

fn decode_all(bytes: &[u8]) -> Vec<RemotingCommand> {
    let mut src = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(command) = ferromq_protocol::decode_frame(&mut src, 1 << 24).expect("decode") {
        out.push(command);
    }
    assert!(src.is_empty(), "trailing bytes");
    out
}

// Goal: frames larger in total than the socket buffers arrive complete and in order, resuming
// partial writes at the right byte across segment borders. Method: queue 600 frames of 3
// segments (about 2.4 MB) through the writer task while the peer reads everything.
#[tokio::test]
async fn partial_writes_deliver_every_frame_in_order() {
    let (mut peer, _read, write) = tcp_pair().await;
    let outbound = Arc::new(Outbound::new(write, 1024));
    let finish = CancellationToken::new();
    let writer = {
        let outbound = Arc::clone(&outbound);
        let finish = finish.clone();
        tokio::spawn(async move { run_writer(&outbound, finish, CancellationToken::new()).await })
    };
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.map(|_| got)
    });
    let mut expected = Vec::new();
    for i in 0..600 {
        let body = Body::from_segments(vec![
            Bytes::from(vec![i as u8; 1000]),
            Bytes::new(),
            Bytes::from(format!("<{i}>")),
            Bytes::from(vec![7u8; 3000]),
        ]);
        let command = RemotingCommand::request_code(i).with_body(body);
        expected.push(command.clone());
        outbound
            .send(OutboundFrame::encode(command).expect("encode"))
            .await
            .expect("queued");
    }
    finish.cancel();
    writer.await.expect("join").expect("writer");
    let got = reader.await.expect("join").expect("read");
    assert_eq!(decode_all(&got), expected);
}

// Goal: `finish` flushes queued frames, then shuts the write side (the peer sees EOF), and
// the queue refuses frames afterwards. Method: queue, finish, read to the end.
#[tokio::test]
async fn finish_flushes_queued_frames_then_closes() {
    let (mut peer, _read, write) = tcp_pair().await;
    let outbound = Outbound::new(write, 8);
    let (command, first) = frame(10, b"abc".to_vec());
    outbound.send(first).await.expect("queued");
    let finish = CancellationToken::new();
    finish.cancel();
    run_writer(&outbound, finish, CancellationToken::new())
        .await
        .expect("writer");
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.expect("read");
    assert_eq!(decode_all(&got), vec![command]);
    assert_eq!(outbound.send(frame(11, Vec::new()).1).await, Err(Closed));
    assert_eq!(outbound.push_response(frame(12, Vec::new()).1), Err(Closed));
}

// Goal: inline responses are written by `flush_now` alone, in one go, with no writer task.
// Method: push three responses, flush once, read them on the peer.
#[tokio::test]
async fn pushed_responses_leave_with_one_flush_without_a_writer_task() {
    let (mut peer, _read, write) = tcp_pair().await;
    let outbound = Outbound::new(write, 8);
    let mut expected = Vec::new();
    for code in 0..3 {
        let (command, frame) = frame(code, vec![code as u8; 100]);
        expected.push(command);
        outbound.push_response(frame).expect("queued");
    }
    assert_eq!(outbound.queued_frames(), 3);
    assert_eq!(outbound.flush_now().expect("flush"), Flushed::All);
    assert_eq!(outbound.queued_frames(), 0);
    let mut got = vec![0u8; 0];
    let mut chunk = [0u8; 4096];
    while decode_all_partial(&got) < 3 {
        let n = peer.read(&mut chunk).await.expect("read");
        assert!(n > 0, "eof before every frame");
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(decode_all(&got), expected);
}

fn decode_all_partial(bytes: &[u8]) -> usize {
    let mut src = BytesMut::from(bytes);
    let mut n = 0;
    while let Ok(Some(_)) = ferromq_protocol::decode_frame(&mut src, 1 << 24) {
        n += 1;
    }
    n
}

// Goal: a full queue makes `send` wait (bounded queue, no drop), the reader sees `is_full`,
// and `close` wakes the waiting sender with `Closed`. Method: a queue of 2 frames whose peer
// never reads and whose frames are bigger than the socket buffers.
#[tokio::test]
async fn full_queue_makes_senders_wait_and_close_releases_them() {
    let (_peer, _read, write) = tcp_pair().await;
    let outbound = Arc::new(Outbound::new(write, 2));
    for code in 0..2 {
        outbound
            .push_response(frame(code, vec![0u8; 4 << 20]).1)
            .expect("queued");
    }
    assert_eq!(outbound.flush_now().expect("flush"), Flushed::Blocked);
    assert!(outbound.is_full());
    let mut waiting = Box::pin(outbound.send(frame(3, Vec::new()).1));
    assert!(
        futures_util::poll!(&mut waiting).is_pending(),
        "send must wait for room"
    );
    outbound.close();
    assert_eq!(waiting.await, Err(Closed));
    assert!(!outbound.is_full());
}

// Goal: `try_send` never waits: an idle queue with `write_if_idle` writes the frame at once
// (no writer task runs here), otherwise frames queue until `limit` and the next one comes
// back; a closed queue refuses. Method: a queue of 2 frames without a writer task; read what
// the peer got.
#[tokio::test]
async fn try_send_writes_when_idle_queues_until_full_and_hands_back_the_rest() {
    let (mut peer, _read, write) = tcp_pair().await;
    let outbound = Outbound::new(write, 2);
    let (first, frame1) = frame(1, vec![1; 10]);
    assert!(outbound.try_send(frame1, true).expect("open").is_none());
    assert_eq!(outbound.queued_frames(), 0, "an idle queue writes at once");
    let mut got = vec![0u8; ferromq_protocol::frame::encode_to_bytes(&first).expect("encode").len()];
    peer.read_exact(&mut got).await.expect("read");
    assert_eq!(decode_all(&got), vec![first]);

    for code in [2, 3] {
        let (_, queued) = frame(code, vec![2; 10]);
        assert!(outbound.try_send(queued, false).expect("open").is_none());
    }
    // Frames are queued (the writer was only notified), so even `write_if_idle` queues.
    let (_, extra) = frame(4, vec![3; 10]);
    let back = outbound.try_send(extra, true).expect("open");
    assert!(back.is_some(), "a full queue hands the frame back");
    assert_eq!(outbound.queued_frames(), 2);
    outbound.close();
    let (_, late) = frame(5, Vec::new());
    assert!(outbound.try_send(late, true).is_err());
}
