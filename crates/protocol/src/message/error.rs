//! Errors of the message codecs (record, batch, ids, compression).

/// Why message bytes could not be encoded or decoded.
///
/// Decoding errors are operating errors (a torn tail, a hostile peer): callers handle them, the
/// codec never panics. Encoding errors mean the caller passed something the format cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A field needs more bytes than are left (in the record, or in the buffer).
    #[error("{what} needs {needed} bytes but only {available} are left")]
    Truncated {
        /// Which field was being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The TOTALSIZE word is negative, too small for a record, or larger than the buffer.
    #[error("record total size {total_size} is invalid ({available} bytes available)")]
    InvalidTotalSize {
        /// The TOTALSIZE word as stored.
        total_size: i32,
        /// Bytes available from the start of the record.
        available: usize,
    },
    /// TOTALSIZE disagrees with the sum of the record's fields.
    #[error("record total size {total_size} does not match its content length {content_len}")]
    SizeMismatch {
        /// The TOTALSIZE word as stored.
        total_size: i32,
        /// Length implied by the fields.
        content_len: usize,
    },
    /// The MAGICCODE word is neither a message magic nor BLANK.
    #[error("unknown magic code {:#010x}", *magic as u32)]
    BadMagic {
        /// The MAGICCODE word as stored.
        magic: i32,
    },
    /// A BLANK end-of-file marker was found where a message record was expected.
    #[error("BLANK end-of-file marker of {total_size} bytes where a message was expected")]
    BlankRecord {
        /// The TOTALSIZE word of the marker.
        total_size: i32,
    },
    /// A length field is negative.
    #[error("negative {what} length {len}")]
    NegativeLength {
        /// Which length field.
        what: &'static str,
        /// The value as stored.
        len: i32,
    },
    /// A port is outside 0..=65535.
    #[error("{what} port {port} is out of range")]
    InvalidPort {
        /// Which host field.
        what: &'static str,
        /// The value as stored.
        port: i32,
    },
    /// The stored body CRC differs from the CRC of the body bytes.
    #[error("body CRC mismatch: stored {stored}, computed {computed}")]
    CrcMismatch {
        /// BODYCRC as stored.
        stored: i32,
        /// Masked CRC-32 of the body as read.
        computed: i32,
    },
    /// The body exceeds the maximum message size.
    #[error("body of {len} bytes exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// Body length.
        len: usize,
        /// The limit (`maxMessageSize`).
        max: usize,
    },
    /// The topic does not fit the record's topic length field.
    #[error("topic of {len} bytes exceeds the limit of {max} bytes")]
    TopicTooLong {
        /// Topic length in UTF-8 bytes.
        len: usize,
        /// The limit of the chosen record version.
        max: usize,
    },
    /// The properties string does not fit its signed 16-bit length field.
    #[error("properties of {len} bytes exceed the limit of {max} bytes")]
    PropertiesTooLong {
        /// Properties length in UTF-8 bytes.
        len: usize,
        /// The limit (32767).
        max: usize,
    },
    /// The whole record (or batch entry) would not fit its signed 32-bit TOTALSIZE.
    #[error("encoded length {len} does not fit a signed 32-bit size")]
    RecordTooLarge {
        /// The length that was computed.
        len: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which field.
        what: &'static str,
    },
    /// A message id has the wrong length or a non-hex character.
    #[error("invalid {what} {id:?}: {reason}")]
    InvalidMessageId {
        /// Which kind of id (`offsetMsgId`, `UNIQ_KEY`).
        what: &'static str,
        /// The id (truncated to 64 chars).
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The body uses a compression this codec does not implement (LZ4, ZSTD or an unknown type).
    #[error("unsupported compression type {compression_type}")]
    UnsupportedCompression {
        /// Value of sysFlag bits 8-10 (1 LZ4, 2 ZSTD, 4-7 unknown).
        compression_type: u8,
    },
    /// zlib compression failed (only possible on allocation failure of the output buffer).
    #[error("compression failed: {kind:?}")]
    CompressFailed {
        /// The underlying IO error kind.
        kind: std::io::ErrorKind,
    },
    /// zlib data is malformed.
    #[error("decompression failed: {kind:?}")]
    DecompressFailed {
        /// The underlying IO error kind.
        kind: std::io::ErrorKind,
    },
    /// The inflated body would exceed the caller's cap (zip bomb guard).
    #[error("decompressed body exceeds the limit of {max} bytes")]
    DecompressedTooLarge {
        /// The cap given by the caller.
        max: usize,
    },
    /// A batch holds more messages than the caller allows.
    #[error("batch holds more than {max} messages")]
    TooManyMessages {
        /// The cap given by the caller.
        max: usize,
    },
}
