//! Errors of frame and header decoding.

/// Why bytes could not be decoded as a remoting frame. Any of these closes the connection
/// that sent them (and only that one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The length word exceeds the frame limit.
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Length announced by the peer.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// The length word is too small to hold the header-length word.
    #[error("frame length {len} is shorter than the 4-byte header-length word")]
    FrameTooShort {
        /// Length announced by the peer (as a signed Java int).
        len: i32,
    },
    /// The header length does not fit in the frame.
    #[error("header length {header_len} exceeds frame length {frame_len} - 4")]
    HeaderTooLong {
        /// Header length from the header-length word.
        header_len: usize,
        /// Frame length from the length word.
        frame_len: usize,
    },
    /// The serialize-type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    #[error("unknown header serialize type {0}")]
    UnknownSerializeType(u8),
    /// The JSON header is not valid JSON of the expected shape.
    #[error("invalid JSON header: {0}")]
    InvalidJsonHeader(String),
    /// The ROCKETMQ binary header is truncated or a length inside it overruns.
    #[error("invalid ROCKETMQ header: {what} at byte {at}")]
    InvalidBinaryHeader {
        /// Which part failed.
        what: &'static str,
        /// Byte position inside the header.
        at: usize,
    },
    /// A string in a binary header is not UTF-8.
    #[error("invalid UTF-8 in ROCKETMQ header field {what}")]
    InvalidUtf8 {
        /// Which field.
        what: &'static str,
    },
    /// The command cannot be expressed in the requested encoding.
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
}
