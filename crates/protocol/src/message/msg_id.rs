//! Message ids (reference 4.3): the broker's offsetMsgId and the client's unique key (UNIQ_KEY).
//!
//! - offsetMsgId: uppercase hex of store IP (4 or 16 bytes) + i32 port + i64 CommitLog offset,
//!   so 32 hex chars for IPv4 and 56 for IPv6. It locates a record for VIEW_MESSAGE_BY_ID and
//!   END_TRANSACTION.
//! - UNIQ_KEY: uppercase hex of client IP (4/16 bytes) + i16 pid + i32 class-loader hash + u32 ms
//!   since the start of the current month + i16 counter (32 or 56 hex chars).
//!
//! Invariants: creation is total; parsing accepts either hex case, rejects any other length or
//! character with a typed error, and never panics. [`UniqIdGenerator`] is thread-safe (one
//! atomic counter) and two ids of one generator differ unless 65536 ids share a millisecond.
//!
//! Deviation from Java, on purpose: Java measures "start of month" in the JVM's local time zone;
//! we use UTC (the protocol crate has no time zone database). Readers only use the value to
//! estimate the born time, so the effect is a shift of at most the UTC offset.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::MessageError;

/// Hex length of an IPv4 offsetMsgId or UNIQ_KEY.
pub const MSG_ID_HEX_LEN_V4: usize = 32;
/// Hex length of an IPv6 offsetMsgId or UNIQ_KEY.
pub const MSG_ID_HEX_LEN_V6: usize = 56;

const MS_PER_DAY: i64 = 86_400_000;

/// The offsetMsgId of the record at `phy_offset` stored by `store_host`.
pub fn create_offset_msg_id(store_host: SocketAddr, phy_offset: i64) -> String {
    // One allocation: the 16 or 28 id bytes are assembled on the stack.
    let (bytes, len) = offset_msg_id_bytes(store_host, phy_offset);
    to_hex(bytes.get(..len).unwrap_or_default())
}

/// Appends [`create_offset_msg_id`]'s text to `out` without building a `String` (a send
/// response writes it straight into its header).
pub fn push_offset_msg_id(out: &mut Vec<u8>, store_host: SocketAddr, phy_offset: i64) {
    let (bytes, len) = offset_msg_id_bytes(store_host, phy_offset);
    let mut digits = [0u8; 2 * 28];
    let digits = hex_digits(bytes.get(..len).unwrap_or_default(), &mut digits);
    out.extend_from_slice(digits);
}

/// The bytes an offsetMsgId is the hex of (IP, port, offset) and how many of the 28 are used.
fn offset_msg_id_bytes(store_host: SocketAddr, phy_offset: i64) -> ([u8; 28], usize) {
    let mut bytes = [0u8; 28];
    let ip_len = match store_host.ip() {
        IpAddr::V4(ip) => {
            bytes[..4].copy_from_slice(&ip.octets());
            4
        }
        IpAddr::V6(ip) => {
            bytes[..16].copy_from_slice(&ip.octets());
            16
        }
    };
    bytes[ip_len..ip_len + 4].copy_from_slice(&i32::from(store_host.port()).to_be_bytes());
    bytes[ip_len + 4..ip_len + 12].copy_from_slice(&phy_offset.to_be_bytes());
    (bytes, ip_len + 12)
}

/// What an offsetMsgId names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetMsgId {
    /// Address of the broker that stored the record.
    pub store_host: SocketAddr,
    /// CommitLog offset of the record.
    pub phy_offset: i64,
}

/// Parses an offsetMsgId of 32 (IPv4) or 56 (IPv6) hex chars.
pub fn parse_offset_msg_id(id: &str) -> Result<OffsetMsgId, MessageError> {
    const WHAT: &str = "offsetMsgId";
    let bytes = from_hex(id, WHAT)?;
    let (ip, rest) = split_ip(&bytes, id, WHAT)?;
    let (port, offset) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| invalid(WHAT, id, "too short"))?;
    let offset: [u8; 8] = offset.try_into().map_err(|_| invalid(WHAT, id, "wrong length"))?;
    let port = u16::try_from(i32::from_be_bytes(*port)).map_err(|_| invalid(WHAT, id, "port out of range"))?;
    Ok(OffsetMsgId {
        store_host: SocketAddr::new(ip, port),
        phy_offset: i64::from_be_bytes(offset),
    })
}

/// Creates client unique keys (UNIQ_KEY) like Java's `MessageClientIDSetter`.
#[derive(Debug)]
pub struct UniqIdGenerator {
    /// Hex of IP + pid + class-loader hash: fixed for the generator's life.
    prefix: String,
    counter: AtomicU16,
    /// The month of the last id, as [`MonthWindow::pack`]ed (Java's `startTime` /
    /// `nextStartTime`): the calendar is computed once per month, not per id.
    month: AtomicU64,
}

/// A month as days since the Unix epoch: its first day and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MonthWindow {
    first_day: i32,
    days: u32,
}

impl MonthWindow {
    /// Never matches a day (zero length): the generator's first id computes its month.
    const EMPTY: u64 = 0;

    /// The month holding `ms` (ms since the Unix epoch); `None` past the `i32` day range.
    fn holding(ms: i64) -> Option<Self> {
        let start = month_start_ms(ms);
        // 31 days on from a month's first day always lands in the next month.
        let next = month_start_ms(start.saturating_add(31 * MS_PER_DAY));
        Some(MonthWindow {
            first_day: i32::try_from(start / MS_PER_DAY).ok()?,
            days: u32::try_from((next - start) / MS_PER_DAY).ok()?,
        })
    }

    fn pack(self) -> u64 {
        (u64::from(self.first_day as u32) << 32) | u64::from(self.days)
    }

    fn unpack(v: u64) -> Self {
        MonthWindow {
            first_day: (v >> 32) as u32 as i32,
            days: v as u32,
        }
    }

    /// Milliseconds from the start of this month to `ms`, if `ms` lies in it.
    fn since_start(self, ms: i64) -> Option<i64> {
        let day = ms.div_euclid(MS_PER_DAY);
        let offset = day - i64::from(self.first_day);
        (0..i64::from(self.days))
            .contains(&offset)
            .then(|| ms - i64::from(self.first_day) * MS_PER_DAY)
    }
}

impl UniqIdGenerator {
    /// A generator for a client at `ip` with process id `pid` (only its low 16 bits are kept,
    /// as in Java) and `class_loader_hash`, Java's per-class-loader discriminator.
    pub fn new(ip: IpAddr, pid: u32, class_loader_hash: i32) -> Self {
        let mut fixed = ip_octets(ip);
        fixed.extend_from_slice(&((pid & 0xFFFF) as u16).to_be_bytes());
        fixed.extend_from_slice(&class_loader_hash.to_be_bytes());
        UniqIdGenerator {
            prefix: to_hex(&fixed),
            counter: AtomicU16::new(0),
            month: AtomicU64::new(MonthWindow::EMPTY),
        }
    }

    /// A generator for this process: its pid, and the clock's nanoseconds standing in for the
    /// class-loader hash, so generators of restarted processes (or several in one process)
    /// differ.
    pub fn for_this_process(ip: IpAddr) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0);
        Self::new(ip, std::process::id(), nanos as i32)
    }

    /// A new id stamped with the current time.
    pub fn next_id(&self) -> String {
        self.next_id_at(now_ms())
    }

    /// A new id stamped with `now_ms` (ms since the Unix epoch).
    pub fn next_id_at(&self, now_ms: i64) -> String {
        let since_month = self.since_month_start(now_ms);
        // At most 31 days of ms: fits u32 (Java writes it as an int and readers take it unsigned).
        let since_month = u32::try_from(since_month).unwrap_or(u32::MAX);
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut tail = [0u8; 6];
        let (time, count) = tail.split_at_mut(4);
        time.copy_from_slice(&since_month.to_be_bytes());
        count.copy_from_slice(&counter.to_be_bytes());
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        push_hex(&mut id, &tail);
        id
    }
}

impl UniqIdGenerator {
    /// Milliseconds from the start of the month holding `now_ms` to `now_ms`, from the cached
    /// month while `now_ms` lies in it. Threads racing over a month change each store a correct
    /// month; one packed word, so a reader never sees half of one.
    fn since_month_start(&self, now_ms: i64) -> i64 {
        let cached = MonthWindow::unpack(self.month.load(Ordering::Relaxed));
        if let Some(since) = cached.since_start(now_ms) {
            return since;
        }
        if let Some(month) = MonthWindow::holding(now_ms) {
            self.month.store(month.pack(), Ordering::Relaxed);
        }
        now_ms.saturating_sub(month_start_ms(now_ms))
    }
}

/// The parts of a UNIQ_KEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqId {
    /// Client IP.
    pub ip: IpAddr,
    /// Low 16 bits of the client's pid.
    pub pid: u16,
    /// Class-loader hash (or stand-in).
    pub class_loader_hash: i32,
    /// Milliseconds since the start of the month of creation.
    pub ms_since_month_start: u32,
    /// Per-generator counter.
    pub counter: u16,
}

impl UniqId {
    /// Java's `getNearlyTimeFromID`, in UTC: the creation time, assuming it lies in the current
    /// month if that is before `now_ms`, else in the previous month.
    pub fn born_time_ms(&self, now_ms: i64) -> i64 {
        let span = i64::from(self.ms_since_month_start);
        let this_month = month_start_ms(now_ms);
        if this_month.saturating_add(span) >= now_ms {
            month_start_ms(this_month.saturating_sub(1)).saturating_add(span)
        } else {
            this_month.saturating_add(span)
        }
    }
}

/// Parses a UNIQ_KEY of 32 (IPv4) or 56 (IPv6) hex chars.
pub fn parse_uniq_id(id: &str) -> Result<UniqId, MessageError> {
    const WHAT: &str = "UNIQ_KEY";
    let bytes = from_hex(id, WHAT)?;
    let (ip, rest) = split_ip(&bytes, id, WHAT)?;
    let rest: &[u8; 12] = rest.try_into().map_err(|_| invalid(WHAT, id, "wrong length"))?;
    let [p0, p1, h0, h1, h2, h3, t0, t1, t2, t3, c0, c1] = *rest;
    Ok(UniqId {
        ip,
        pid: u16::from_be_bytes([p0, p1]),
        class_loader_hash: i32::from_be_bytes([h0, h1, h2, h3]),
        ms_since_month_start: u32::from_be_bytes([t0, t1, t2, t3]),
        counter: u16::from_be_bytes([c0, c1]),
    })
}

/// Start (00:00 UTC on day 1) of the month holding `ms`, in ms since the Unix epoch.
pub fn month_start_ms(ms: i64) -> i64 {
    let days = ms.div_euclid(MS_PER_DAY);
    let day_of_month = day_of_month(days);
    days.saturating_sub(day_of_month - 1).saturating_mul(MS_PER_DAY)
}

/// Day of month (1..=31) of `days` since 1970-01-01, by Howard Hinnant's civil-from-days.
fn day_of_month(days: i64) -> i64 {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March
    doy - (153 * mp + 2) / 5 + 1
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ip_octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    }
}

/// Splits the IP off an id's bytes: 16 bytes of id (32 hex) mean IPv4, 28 (56 hex) mean IPv6.
fn split_ip<'a>(bytes: &'a [u8], id: &str, what: &'static str) -> Result<(IpAddr, &'a [u8]), MessageError> {
    match bytes.len() {
        16 => {
            let (ip, rest) = bytes
                .split_first_chunk::<4>()
                .ok_or_else(|| invalid(what, id, "too short"))?;
            Ok((IpAddr::V4(Ipv4Addr::from(*ip)), rest))
        }
        28 => {
            let (ip, rest) = bytes
                .split_first_chunk::<16>()
                .ok_or_else(|| invalid(what, id, "too short"))?;
            Ok((IpAddr::V6(Ipv6Addr::from(*ip)), rest))
        }
        _ => Err(invalid(what, id, "length is neither 32 nor 56 hex chars")),
    }
}

fn invalid(what: &'static str, id: &str, reason: &'static str) -> MessageError {
    MessageError::InvalidMessageId {
        what,
        id: id.chars().take(64).collect(),
        reason,
    }
}

/// Uppercase hex digits by value.
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Uppercase hex, as Java's `UtilAll.bytes2string`.
fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends the uppercase hex of `bytes` to `out`: digits are looked up into a stack buffer a
/// chunk at a time and appended with one `push_str` per chunk (ids are at most 28 bytes, one
/// chunk), instead of growing the string two bytes at a time.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const CHUNK: usize = 32;
    let mut digits = [0u8; 2 * CHUNK];
    for chunk in bytes.chunks(CHUNK) {
        // Only ASCII digits and letters were written (the check is the ASCII fast path).
        out.push_str(std::str::from_utf8(hex_digits(chunk, &mut digits)).unwrap_or_default());
    }
}

/// Writes the uppercase hex digits of `bytes` to the start of `digits` (at least twice as
/// long; extra bytes are not written) and returns them.
fn hex_digits<'d>(bytes: &[u8], digits: &'d mut [u8]) -> &'d [u8] {
    for (pair, b) in digits.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_UPPER[usize::from(b >> 4)];
        pair[1] = HEX_UPPER[usize::from(b & 0xF)];
    }
    let written = (2 * bytes.len()).min(digits.len());
    digits.get(..written).unwrap_or_default()
}

fn from_hex(id: &str, what: &'static str) -> Result<Vec<u8>, MessageError> {
    if id.len() != MSG_ID_HEX_LEN_V4 && id.len() != MSG_ID_HEX_LEN_V6 {
        return Err(invalid(what, id, "length is neither 32 nor 56 hex chars"));
    }
    id.as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => match (hex_value(*hi), hex_value(*lo)) {
                (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
                _ => Err(invalid(what, id, "not a hex digit")),
            },
            _ => Err(invalid(what, id, "odd length")),
        })
        .collect()
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[path = "msg_id_test.rs"]
mod tests;
