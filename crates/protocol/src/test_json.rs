//! Test support shared by the JSON header tests (`header_json_test.rs`, `received_test.rs`,
//! `received_send_test.rs`).

use bytes::{BufMut, Bytes, BytesMut};

/// A JSON string literal of `s`, with some characters written as `\uXXXX` (hex digits in
/// either case), `\/` or `\n` (chosen by `style`), as different clients write them.
pub(crate) fn escaped(s: &str, style: u8) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if style.is_multiple_of(2) => out.push_str("\\/"),
            '\n' if style.is_multiple_of(3) => out.push_str("\\n"),
            c if (c as u32) < 0x20 || (style > 128 && i % 3 == 0 && (c as u32) < 0x1_0000) => {
                // JSON allows both cases of hex digits.
                if style & 0x40 != 0 {
                    out.push_str(&format!("\\u{:04X}", c as u32));
                } else {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `headerTag | header | body` with a JSON tag (a frame without its length word).
pub(crate) fn json_frame(header: &[u8], body: &[u8]) -> Bytes {
    let mut frame = BytesMut::new();
    frame.put_u32(u32::try_from(header.len()).unwrap());
    frame.put_slice(header);
    frame.put_slice(body);
    frame.freeze()
}

/// `text` with the byte at `at` (an index into it) replaced by `byte`; empty text stays empty.
pub(crate) fn with_byte(text: String, at: proptest::sample::Index, byte: u8) -> Vec<u8> {
    let mut bytes = text.into_bytes();
    if !bytes.is_empty() {
        let i = at.index(bytes.len());
        bytes[i] = byte;
    }
    bytes
}
