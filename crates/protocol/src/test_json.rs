//! Test support shared by the JSON header tests (`header_json_test.rs`, `received_test.rs`).

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
