//! `ferromq bench rtt --in-flight N`: the loopback floor of a pipelined request/response
//! exchange — how many requests per second two single-threaded peers doing nothing but TCP and
//! framing move over one connection, with N requests in flight. It is the physical limit a
//! "many in flight" send figure of the same run should be read against (the ping-pong of
//! [`super::rtt`] is the limit of one in flight).
//!
//! Shape (the same as a producer's async sends against one broker connection):
//! - the server thread reads what has arrived (up to [`READ_CHUNK`] bytes), answers every
//!   complete request frame with one reply frame, and writes all of that read's replies with
//!   one `write_all` — the batching FerroMQ's connection driver does;
//! - the client thread keeps N requests outstanding: each time replies arrive it writes as
//!   many new requests as replies came back, in one write, then reads again. Its socket is
//!   non-blocking and made blocking only while it has nothing to write and no reply to read,
//!   so it never blocks on a write (a blocking write of requests while the server is blocked
//!   writing replies could deadlock both) — the way an async client waits in `epoll_wait`.
//!
//! Frames are a 4-byte big-endian length and a payload; request and reply sizes are separate,
//! so the floor can carry what a real exchange carries (a 1 KiB SEND_MESSAGE_V2 is a ~1,370-byte
//! frame, its response ~300 bytes). Every reply's length is checked, and the count of replies
//! must equal the count of requests.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use anyhow::{bail, Context};

use super::rtt::{frame_of, join_server, MAX_RTT_COUNT, MAX_RTT_SIZE, WARMUP_ROUND_TRIPS};

/// Bytes one read takes at most (FerroMQ's busy connections grow their reads to this too).
pub const READ_CHUNK: usize = 256 * 1024;
/// Most requests in flight.
pub const MAX_PIPELINE_IN_FLIGHT: usize = 65_536;

/// One pipelined run's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineSummary {
    /// Request payload bytes (the frame adds a 4-byte length).
    pub size: usize,
    /// Reply payload bytes.
    pub reply_size: usize,
    /// Requests kept outstanding.
    pub in_flight: usize,
    /// Round trips asked for after the warm-up (the rate counts from the first read that
    /// completed the warm-up).
    pub count: u64,
    /// Completed round trips per second.
    pub round_trips_per_sec: f64,
}

impl PipelineSummary {
    /// As a JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "rtt",
            "mode": "pipelined",
            "size": self.size,
            "reply_size": self.reply_size,
            "in_flight": self.in_flight,
            "count": self.count,
            "round_trips_per_sec": self.round_trips_per_sec.round(),
        })
    }
}

/// Counts the complete frames at the front of `buf[..filled]`, each of which must carry
/// `size` payload bytes; returns the count and the bytes they take.
fn complete_frames(buf: &[u8], size: usize) -> std::io::Result<(usize, usize)> {
    let mut at = 0;
    let mut frames = 0;
    while let Some(word) = buf.get(at..at + 4) {
        let len = u32::from_be_bytes([word[0], word[1], word[2], word[3]]) as usize;
        if len != size {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                format!("frame of {len} bytes, expected {size}"),
            ));
        }
        if buf.len() < at + 4 + len {
            break;
        }
        at += 4 + len;
        frames += 1;
    }
    Ok((frames, at))
}

/// Reads into `buf[*filled..]` and moves the complete frames out: returns how many arrived, or
/// `None` at end of stream.
fn read_frames(
    stream: &mut TcpStream,
    buf: &mut [u8],
    filled: &mut usize,
    size: usize,
) -> std::io::Result<Option<usize>> {
    let spare = buf.get_mut(*filled..).unwrap_or_default();
    let n = stream.read(spare)?;
    if n == 0 {
        return Ok(None);
    }
    *filled += n;
    let (frames, used) = complete_frames(buf.get(..*filled).unwrap_or_default(), size)?;
    buf.copy_within(used..*filled, 0);
    *filled -= used;
    Ok(Some(frames))
}

/// The server side: answers every request frame of `size` bytes with a reply of `reply_size`.
fn serve(listener: TcpListener, size: usize, reply_size: usize) -> std::io::Result<()> {
    let (mut stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    let reply = frame_of(reply_size).map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
    // Room for one chunk plus a partial frame left over from the previous one.
    let mut buf = vec![0u8; READ_CHUNK + size + 4];
    let mut filled = 0;
    let mut out = Vec::new();
    while let Some(frames) = read_frames(&mut stream, &mut buf, &mut filled, size)? {
        if frames == 0 {
            continue;
        }
        out.clear();
        for _ in 0..frames {
            out.extend_from_slice(&reply);
        }
        stream.write_all(&out)?;
    }
    Ok(())
}

/// Runs `WARMUP_ROUND_TRIPS` then `count` round trips with `in_flight` outstanding (blocking;
/// call from a blocking context).
pub fn measure_pipelined(
    size: usize,
    reply_size: usize,
    in_flight: usize,
    count: u64,
) -> anyhow::Result<PipelineSummary> {
    if size == 0 || size > MAX_RTT_SIZE || reply_size == 0 || reply_size > MAX_RTT_SIZE {
        bail!("--size and --reply-size must be between 1 and {MAX_RTT_SIZE} bytes");
    }
    if !(2..=MAX_PIPELINE_IN_FLIGHT).contains(&in_flight) {
        bail!("--in-flight must be between 2 and {MAX_PIPELINE_IN_FLIGHT} for a pipelined run");
    }
    if count == 0 || count > MAX_RTT_COUNT {
        bail!("--count must be between 1 and {MAX_RTT_COUNT}");
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the reply server")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || serve(listener, size, reply_size));
    let mut stream = TcpStream::connect(addr).context("connecting to the reply server")?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    let request = frame_of(size)?;
    let total = WARMUP_ROUND_TRIPS + count;
    let mut buf = vec![0u8; READ_CHUNK + reply_size + 4];
    let mut filled = 0;
    let mut out: Vec<u8> = Vec::new();
    let mut written = 0;
    let (mut sent, mut done) = (0u64, 0u64);
    // When the warm-up ended, and how many round trips had completed then.
    let mut started: Option<(Instant, u64)> = None;
    while done < total {
        // Refill the window: one write of every request that fits.
        if written == out.len() {
            let outstanding = sent - done;
            let room = (in_flight as u64).saturating_sub(outstanding).min(total - sent);
            if room > 0 {
                out.clear();
                written = 0;
                for _ in 0..room {
                    out.extend_from_slice(&request);
                }
                sent += room;
            }
        }
        let mut progress = false;
        if let Some(rest) = out.get(written..).filter(|rest| !rest.is_empty()) {
            match stream.write(rest) {
                Ok(n) => {
                    written += n;
                    progress = n > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("writing requests"),
            }
        }
        match read_frames(&mut stream, &mut buf, &mut filled, reply_size) {
            Ok(Some(frames)) => {
                done += frames as u64;
                progress = true;
            }
            Ok(None) => bail!("reply server closed the connection"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e).context("reading replies"),
        }
        if !progress && done < total {
            // Nothing to do: wait for replies. Safe to block on the read: requests are
            // outstanding (else the window would have been refilled), so the server answers.
            stream.set_nonblocking(false)?;
            let read = read_frames(&mut stream, &mut buf, &mut filled, reply_size);
            stream.set_nonblocking(true)?;
            match read.context("reading replies")? {
                Some(frames) => done += frames as u64,
                None => bail!("reply server closed the connection"),
            }
        }
        if started.is_none() && done >= WARMUP_ROUND_TRIPS {
            started = Some((Instant::now(), done));
        }
    }
    let (elapsed, measured) = match started {
        Some((at, done_then)) => (at.elapsed().as_secs_f64().max(1e-9), total - done_then),
        None => (1e-9, 0),
    };
    if done != total || sent != total {
        bail!("{done} replies for {sent} requests");
    }
    drop(stream);
    join_server(server, "reply server")?;
    Ok(PipelineSummary {
        size,
        reply_size,
        in_flight,
        count,
        round_trips_per_sec: measured as f64 / elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_run_answers_every_request() {
        // Goal: a pipelined run completes with every request answered, at sizes that make
        // frames straddle reads (a request larger than a small window's worth, odd sizes).
        // Method: 256 in flight, 1,366 / 294-byte payloads (a SEND_MESSAGE_V2 exchange), then
        // 3 in flight of 300 KiB requests (each spans several reads) with 1-byte replies.
        let summary = measure_pipelined(1366, 294, 256, 5_000).unwrap();
        assert_eq!(
            (summary.size, summary.reply_size, summary.in_flight, summary.count),
            (1366, 294, 256, 5_000)
        );
        assert!(summary.round_trips_per_sec > 0.0);
        let large = measure_pipelined(300 * 1024, 1, 3, 50).unwrap();
        assert_eq!(large.count, 50);
    }

    #[test]
    fn bad_arguments_are_refused() {
        // Goal: bounds are checked before anything starts. Method: each bound just past.
        assert!(measure_pipelined(0, 1, 2, 1).is_err());
        assert!(measure_pipelined(1, 0, 2, 1).is_err());
        assert!(measure_pipelined(1, 1, 1, 1).is_err());
        assert!(measure_pipelined(1, 1, MAX_PIPELINE_IN_FLIGHT + 1, 1).is_err());
        assert!(measure_pipelined(1, 1, 2, 0).is_err());
    }

    #[test]
    fn frames_are_counted_only_when_complete_and_of_the_expected_size() {
        // Goal: the frame counter takes whole frames only and refuses a wrong length. Method:
        // two 3-byte frames plus a partial one; then a frame announcing 4 bytes.
        let mut bytes = Vec::new();
        for _ in 0..2 {
            bytes.extend_from_slice(&3u32.to_be_bytes());
            bytes.extend_from_slice(b"abc");
        }
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.push(b'a');
        assert_eq!(complete_frames(&bytes, 3).unwrap(), (2, 14));
        assert_eq!(complete_frames(&bytes[..3], 3).unwrap(), (0, 0));
        assert!(complete_frames(&4u32.to_be_bytes(), 3).is_err());
    }
}
