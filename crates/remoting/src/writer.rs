//! The writer task of a connection: frames from a bounded queue go out with vectored writes.
//!
//! A frame is its encoded head (length word, header tag, header) plus the body's segments,
//! each an `IoSlice` of its own: body bytes are never copied. Frames already queued are written
//! together, up to [`MAX_IO_SLICES_PER_WRITE`] slices per system call.
//!
//! Invariants:
//! - frames leave in queue order and are never interleaved;
//! - `finish` writes what is queued, refuses new frames, shuts the socket's write side and exits;
//!   `abort` exits at once, even in the middle of a write to a peer that does not read.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf, Bytes, BytesMut};
use ferromq_protocol::frame::encode_head;
use ferromq_protocol::{CodecError, RemotingCommand};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Most slices handed to one `write_vectored` call (Linux allows 1024).
pub const MAX_IO_SLICES_PER_WRITE: usize = 64;

/// One encoded frame waiting for the writer.
#[derive(Debug)]
pub(crate) struct OutboundFrame {
    head: Bytes,
    body: Vec<Bytes>,
}

impl OutboundFrame {
    /// Encodes `cmd`'s head and takes its body segments as they are.
    pub(crate) fn encode(mut cmd: RemotingCommand) -> Result<Self, CodecError> {
        let mut head = BytesMut::new();
        encode_head(&cmd, &mut head)?;
        let body = std::mem::take(&mut cmd.body).segments().to_vec();
        Ok(OutboundFrame {
            head: head.freeze(),
            body,
        })
    }

    fn slice_count(&self) -> usize {
        1 + self.body.len()
    }
}

/// Time of the last byte read or written on a connection, for idle detection.
#[derive(Debug)]
pub(crate) struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Records activity now.
    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the last activity happened.
    pub(crate) fn last(&self) -> Instant {
        self.base + std::time::Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Runs the writer until `finish` (after flushing), `abort`, or a write error.
pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(
    mut stream: W,
    mut frames: mpsc::Receiver<OutboundFrame>,
    finish: CancellationToken,
    abort: CancellationToken,
    activity: &Activity,
) -> io::Result<()> {
    let mut bufs: VecDeque<Bytes> = VecDeque::new();
    loop {
        let first = tokio::select! {
            biased;
            _ = abort.cancelled() => return Ok(()),
            frame = frames.recv() => frame,
            _ = finish.cancelled() => None,
        };
        let Some(first) = first else { break };
        queue_frame(&mut bufs, first);
        // Batch what is already queued into the same vectored write.
        while bufs.len() < MAX_IO_SLICES_PER_WRITE {
            match frames.try_recv() {
                Ok(frame) => queue_frame(&mut bufs, frame),
                Err(_) => break,
            }
        }
        tokio::select! {
            biased;
            _ = abort.cancelled() => return Ok(()),
            written = write_all_vectored(&mut stream, &mut bufs, activity) => written?,
        }
    }
    // Finishing: accept nothing new, flush what is queued, then close our write side.
    frames.close();
    while let Ok(frame) = frames.try_recv() {
        queue_frame(&mut bufs, frame);
    }
    tokio::select! {
        biased;
        _ = abort.cancelled() => Ok(()),
        done = async {
            write_all_vectored(&mut stream, &mut bufs, activity).await?;
            stream.shutdown().await
        } => done,
    }
}

fn queue_frame(bufs: &mut VecDeque<Bytes>, frame: OutboundFrame) {
    debug_assert!(frame.slice_count() >= 1);
    bufs.push_back(frame.head);
    bufs.extend(frame.body.into_iter().filter(|segment| !segment.is_empty()));
}

/// Writes every buffer, in order, with as few `write_vectored` calls as the socket allows.
pub(crate) async fn write_all_vectored<W: AsyncWrite + Unpin>(
    stream: &mut W,
    bufs: &mut VecDeque<Bytes>,
    activity: &Activity,
) -> io::Result<()> {
    while !bufs.is_empty() {
        let written = {
            let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES_PER_WRITE];
            let mut count = 0;
            for (slot, buf) in slices.iter_mut().zip(bufs.iter()) {
                *slot = IoSlice::new(buf);
                count += 1;
            }
            let slices = slices.get(..count).unwrap_or(&[]);
            stream.write_vectored(slices).await?
        };
        if written == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        activity.touch();
        consume(bufs, written);
    }
    stream.flush().await
}

/// Drops `n` written bytes from the front of `bufs`.
fn consume(bufs: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = bufs.front_mut() else { break };
        if front.len() <= n {
            n -= front.len();
            bufs.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
    debug_assert_eq!(n, 0, "wrote more bytes than were queued");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    // Goal: partial writes resume at the right byte across segment borders. Method: write 200
    // segments through a 7-byte duplex pipe and compare what arrives.
    #[tokio::test]
    async fn partial_writes_deliver_every_segment_in_order() {
        let (mut client, server) = tokio::io::duplex(7);
        let segments: Vec<Bytes> = (0..200u32).map(|i| Bytes::from(format!("<{i}>"))).collect();
        let expected: Vec<u8> = segments.iter().flat_map(|s| s.to_vec()).collect();
        let mut bufs: VecDeque<Bytes> = segments.into_iter().collect();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.map(|_| got)
        });
        let mut server = server;
        let activity = Activity::new();
        write_all_vectored(&mut server, &mut bufs, &activity)
            .await
            .expect("write");
        drop(server);
        let got = reader.await.expect("join").expect("read");
        assert_eq!(got, expected);
        assert!(bufs.is_empty());
    }

    // Goal: `finish` flushes queued frames before closing. Method: queue frames, finish, read.
    #[tokio::test]
    async fn finish_flushes_queued_frames_then_closes() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (tx, rx) = mpsc::channel(8);
        let request = RemotingCommand::request_code(10).with_body(Bytes::from_static(b"abc"));
        let frame = OutboundFrame::encode(request.clone()).expect("encode");
        tx.send(frame).await.expect("queue");
        let finish = CancellationToken::new();
        finish.cancel();
        let activity = Activity::new();
        run_writer(server, rx, finish, CancellationToken::new(), &activity)
            .await
            .expect("writer");
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.expect("read");
        let mut src = BytesMut::from(&got[..]);
        let decoded = ferromq_protocol::decode_frame(&mut src, 1 << 20)
            .expect("decode")
            .expect("one frame");
        assert_eq!(decoded.body, request.body);
        assert!(tx.send(OutboundFrame::encode(request).expect("encode")).await.is_err());
    }
}
