//! `ferromq bench rtt`: the loopback TCP ping-pong baseline, measured in this process.
//!
//! An echo server thread on 127.0.0.1:0 and a client thread exchange frames of `size` bytes
//! (4-byte length + payload) over one connection with TCP_NODELAY, one at a time, with plain
//! blocking sockets: no runtime, no protocol, so it is the floor any request/response figure of
//! the same run should be read against.
//!
//! With `--busy-poll-us N` both sides first poll their socket with non-blocking reads for up to
//! N us before blocking, as FerroMQ's connections do (`serverBusyPollMicros`): the floor of a
//! busy-polling pair, which skips the wake-up of a sleeping thread per message.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::stats::{new_histogram, record, Percentiles};

/// Largest frame payload the baseline sends (the remoting frame limit).
pub const MAX_RTT_SIZE: usize = 16 * 1024 * 1024;
/// Most round trips one run makes.
pub const MAX_RTT_COUNT: u64 = 10_000_000;
/// Round trips made before measuring.
pub const WARMUP_ROUND_TRIPS: u64 = 1000;

/// `ferromq bench rtt` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct RttArgs {
    /// Payload bytes per frame.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Measured round trips (after 1000 warm-up ones).
    #[arg(long, default_value_t = 20_000)]
    pub count: u64,
    /// Poll with non-blocking reads for up to this many microseconds before blocking (both
    /// sides); 0 = plain blocking reads.
    #[arg(long, default_value_t = 0)]
    pub busy_poll_us: u64,
    /// Requests kept in flight; above 1 the run is pipelined (`rtt_pipeline`): a throughput
    /// floor, no per-round-trip latency.
    #[arg(long, default_value_t = 1)]
    pub in_flight: usize,
    /// Reply payload bytes of a pipelined run (default: `--size`); a ping-pong echoes.
    #[arg(long)]
    pub reply_size: Option<usize>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Measured loopback round trips.
#[derive(Debug, Clone, Copy)]
pub struct RttSummary {
    /// Payload bytes per frame.
    pub size: usize,
    /// Round-trip latency.
    pub latency: Percentiles,
    /// Round trips per second (one at a time).
    pub round_trips_per_sec: f64,
    /// Busy-poll window of both sides (zero: blocking reads).
    pub busy_poll: Duration,
}

impl RttSummary {
    /// As a JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bench": "rtt",
            "size": self.size,
            "round_trips_per_sec": self.round_trips_per_sec.round(),
            "busy_poll_us": self.busy_poll.as_micros(),
            "rtt_us": self.latency.json(),
        })
    }
}

/// Runs the ping-pong with blocking reads and returns the percentiles (blocking; call from a
/// blocking context).
pub fn measure(size: usize, count: u64) -> anyhow::Result<RttSummary> {
    measure_polling(size, count, Duration::ZERO)
}

/// Longest accepted busy-poll window.
pub const MAX_RTT_BUSY_POLL: Duration = Duration::from_millis(10);

/// Runs the ping-pong, each side busy-polling for up to `busy_poll` before blocking.
pub fn measure_polling(size: usize, count: u64, busy_poll: Duration) -> anyhow::Result<RttSummary> {
    if busy_poll > MAX_RTT_BUSY_POLL {
        bail!("--busy-poll-us must be at most {}", MAX_RTT_BUSY_POLL.as_micros());
    }
    if size == 0 || size > MAX_RTT_SIZE {
        bail!("--size must be between 1 and {MAX_RTT_SIZE} bytes");
    }
    if count == 0 || count > MAX_RTT_COUNT {
        bail!("--count must be between 1 and {MAX_RTT_COUNT}");
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the echo server")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut stream = Polling::new(stream, busy_poll)?;
        let mut frame = Vec::new();
        while read_frame(&mut stream, &mut frame)? {
            stream.write_all(&frame)?;
        }
        Ok(())
    });
    let stream = TcpStream::connect(addr).context("connecting to the echo server")?;
    stream.set_nodelay(true)?;
    let mut stream = Polling::new(stream, busy_poll)?;
    let out = frame_of(size)?;
    let mut back = Vec::with_capacity(size + 4);
    let mut histogram = new_histogram();
    for _ in 0..WARMUP_ROUND_TRIPS {
        round_trip(&mut stream, &out, &mut back)?;
    }
    let started = Instant::now();
    for _ in 0..count {
        let t0 = Instant::now();
        round_trip(&mut stream, &out, &mut back)?;
        record(
            &mut histogram,
            u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX),
        );
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    drop(stream);
    join_server(server, "echo server")?;
    Ok(RttSummary {
        size,
        latency: Percentiles::of(&histogram),
        round_trips_per_sec: count as f64 / elapsed,
        busy_poll,
    })
}

/// One frame of the baselines: the length word and `size` payload bytes.
pub(super) fn frame_of(size: usize) -> anyhow::Result<Vec<u8>> {
    let length = u32::try_from(size).context("size fits the length word")?;
    let mut frame = Vec::with_capacity(size + 4);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend((0..size).map(|i| (i % 251) as u8));
    Ok(frame)
}

/// Waits for a baseline's server thread (after the client closed its connection) and returns
/// its outcome, named `what` in errors.
pub(super) fn join_server(
    server: std::thread::JoinHandle<std::io::Result<()>>,
    what: &'static str,
) -> anyhow::Result<()> {
    match server.join() {
        Ok(result) => result.context(what),
        Err(_) => bail!("{what} thread panicked"),
    }
}

/// A stream whose reads poll (non-blocking) for up to `window` before blocking.
struct Polling {
    stream: TcpStream,
    window: Duration,
}

impl Polling {
    fn new(stream: TcpStream, window: Duration) -> std::io::Result<Self> {
        stream.set_nonblocking(!window.is_zero())?;
        Ok(Polling { stream, window })
    }
}

impl Read for Polling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.window.is_zero() {
            return self.stream.read(buf);
        }
        let deadline = Instant::now() + self.window;
        loop {
            match self.stream.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            if Instant::now() >= deadline {
                // Missed: block for this read, then poll again.
                self.stream.set_nonblocking(false)?;
                let read = self.stream.read(buf);
                self.stream.set_nonblocking(true)?;
                return read;
            }
            std::hint::spin_loop();
        }
    }
}

impl Write for Polling {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match self.stream.write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn round_trip(stream: &mut Polling, out: &[u8], back: &mut Vec<u8>) -> anyhow::Result<()> {
    stream.write_all(out)?;
    if !read_frame(stream, back)? {
        bail!("echo server closed the connection");
    }
    if back.as_slice() != out {
        bail!("echo mismatch");
    }
    Ok(())
}

/// Reads one length-prefixed frame (length word included) into `frame`; false on clean EOF.
fn read_frame(stream: &mut Polling, frame: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut length = [0u8; 4];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(length) as usize;
    if len > MAX_RTT_SIZE {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "frame too large"));
    }
    frame.clear();
    frame.extend_from_slice(&length);
    frame.resize(4 + len, 0);
    stream.read_exact(&mut frame[4..])?;
    Ok(true)
}

/// `ferromq bench rtt`: the ping-pong, or with `--in-flight` above 1 the pipelined floor.
pub async fn run(args: RttArgs) -> anyhow::Result<()> {
    if args.in_flight > 1 {
        if args.busy_poll_us != 0 {
            bail!("--busy-poll-us applies to the ping-pong (--in-flight 1) only");
        }
        let (size, count, in_flight) = (args.size, args.count, args.in_flight);
        let reply_size = args.reply_size.unwrap_or(size);
        let summary = tokio::task::spawn_blocking(move || {
            super::rtt_pipeline::measure_pipelined(size, reply_size, in_flight, count)
        })
        .await??;
        if args.json {
            println!("{}", summary.json());
        } else {
            println!(
                "=== loopback TCP, pipelined ({} B requests, {} B replies, {} in flight) ===",
                summary.size, summary.reply_size, summary.in_flight
            );
            println!("round trips/s : {:.0}", summary.round_trips_per_sec);
        }
        return Ok(());
    }
    if args.reply_size.is_some_and(|reply| reply != args.size) {
        bail!("--reply-size applies to pipelined runs (--in-flight 2 or more); a ping-pong echoes");
    }
    let (size, count) = (args.size, args.count);
    let busy_poll = Duration::from_micros(args.busy_poll_us);
    let summary = tokio::task::spawn_blocking(move || measure_polling(size, count, busy_poll)).await??;
    if args.json {
        println!("{}", summary.json());
    } else {
        println!(
            "=== loopback TCP round trip ({} B frames, one in flight, busy poll {} us) ===",
            summary.size,
            summary.busy_poll.as_micros()
        );
        println!("round trips/s : {:.0}", summary.round_trips_per_sec);
        println!("rtt           : {}", summary.latency.line());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong_measures_every_round_trip() {
        // Goal: the baseline completes and counts exactly the measured round trips with sane
        // percentiles. Method: 200 round trips of 1 KiB.
        let summary = measure(1024, 200).unwrap();
        assert_eq!(summary.latency.count, 200);
        assert!(summary.latency.p50_us > 0.0);
        assert!(summary.latency.p50_us <= summary.latency.p99_us);
        assert!(summary.latency.p99_us <= summary.latency.max_us);
        assert!(measure(0, 1).is_err());
    }

    #[test]
    fn busy_polling_ping_pong_measures_every_round_trip() {
        // Goal: the polling variant completes, counts every round trip and refuses a window
        // above the limit. Method: 200 round trips polling up to 50 us; one with 11 ms.
        let summary = measure_polling(1024, 200, Duration::from_micros(50)).unwrap();
        assert_eq!(summary.latency.count, 200);
        assert_eq!(summary.busy_poll, Duration::from_micros(50));
        assert!(measure_polling(1024, 1, Duration::from_millis(11)).is_err());
    }
}
