//! Shared by the targets that feed arbitrary JSON headers to the frame readers.

use bytes::Bytes;

/// `headerTag | header | body` with a JSON tag around `header` (a frame without its length
/// word), or `None` when `header` is too long for the tag's three length bytes.
pub fn json_frame(header: &[u8]) -> Option<Bytes> {
    if header.len() > 0xFF_FFFF {
        return None;
    }
    let mut frame = Vec::with_capacity(header.len() + 8);
    // Serialize type JSON (0) in the top byte, the header length in the low three.
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header);
    frame.extend_from_slice(b"body");
    Some(Bytes::from(frame))
}
