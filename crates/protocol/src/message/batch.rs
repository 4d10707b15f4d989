//! The SEND_BATCH_MESSAGE body (reference 4.6): inner messages back to back.
//!
//! Each inner message: `i32 TOTALSIZE | i32 MAGIC (0) | i32 BODYCRC (0) | i32 FLAG | i32 BODYLEN
//! | BODY | i16 PROPLEN | PROPERTIES`. Topic, queue id, sysFlag and born timestamp come from the
//! request header, not from here.
//!
//! Invariants:
//! - decoding never panics, checks every length against the bytes left and requires each
//!   TOTALSIZE to equal the inner message's length; MAGIC and BODYCRC are ignored, as Java does
//!   (clients write 0);
//! - the message count is capped by the caller and, in any case, by the bytes available
//!   (each inner message takes at least [`MIN_BATCH_ENTRY_BYTES`]), so allocation is bounded;
//! - bodies are zero-copy slices of the input.

use bytes::{BufMut, Bytes};

use super::cursor::Cursor;
use super::error::MessageError;
use super::properties::{decode_properties, Properties};
use super::record::{ensure_room, MAX_PROPERTIES_BYTES};

/// Smallest inner message: all fixed fields, empty body and properties.
pub const MIN_BATCH_ENTRY_BYTES: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message of a batch body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMessage {
    /// User flag.
    pub flag: i32,
    /// The body (compressed or not per the header's sysFlag).
    pub body: Bytes,
    /// Encoded properties string (reference 4.2), kept verbatim.
    pub properties: String,
}

impl BatchMessage {
    /// The parsed properties.
    pub fn properties(&self) -> Properties {
        decode_properties(&self.properties)
    }

    /// Length of this message inside a batch body (its TOTALSIZE).
    pub fn encoded_len(&self) -> usize {
        MIN_BATCH_ENTRY_BYTES
            .saturating_add(self.body.len())
            .saturating_add(self.properties.len())
    }
}

/// Appends the batch body of `messages` to `dst`; returns the bytes written. Validates every
/// message before writing anything.
pub fn encode_batch<B: BufMut>(messages: &[BatchMessage], dst: &mut B) -> Result<usize, MessageError> {
    let mut total: usize = 0;
    for m in messages {
        if m.properties.len() > MAX_PROPERTIES_BYTES {
            return Err(MessageError::PropertiesTooLong {
                len: m.properties.len(),
                max: MAX_PROPERTIES_BYTES,
            });
        }
        let len = m.encoded_len();
        i32::try_from(len).map_err(|_| MessageError::RecordTooLarge { len })?;
        total = total.saturating_add(len);
    }
    ensure_room(dst, total)?;
    for m in messages {
        // Lengths were bounded above, so the casts are lossless.
        dst.put_i32(m.encoded_len() as i32);
        dst.put_i32(0); // MAGIC: unused in batch entries
        dst.put_i32(0); // BODYCRC: the broker computes it per stored record
        dst.put_i32(m.flag);
        dst.put_i32(m.body.len() as i32);
        dst.put_slice(&m.body);
        dst.put_i16(m.properties.len() as i16);
        dst.put_slice(m.properties.as_bytes());
    }
    Ok(total)
}

/// Decodes a batch body into at most `max_messages` messages.
pub fn decode_batch(body: &Bytes, max_messages: usize) -> Result<Vec<BatchMessage>, MessageError> {
    let bound = max_messages.min(body.len() / MIN_BATCH_ENTRY_BYTES);
    let mut out = Vec::with_capacity(bound);
    let mut c = Cursor::new(body);
    while c.remaining() > 0 {
        if out.len() == max_messages {
            return Err(MessageError::TooManyMessages { max: max_messages });
        }
        let start = c.position();
        let total_size = c.i32("batch entry size")?;
        let _magic = c.i32("batch entry magic")?;
        let _body_crc = c.i32("batch entry body CRC")?;
        let flag = c.i32("batch entry flag")?;
        let body_len = c.len_i32("batch entry body")?;
        let body_range = c.take(body_len, "batch entry body")?;
        let props_len = c.len_i16("batch entry properties")?;
        let props_range = c.take(props_len, "batch entry properties")?;
        let content_len = c.position() - start;
        if usize::try_from(total_size) != Ok(content_len) {
            return Err(MessageError::SizeMismatch {
                total_size,
                content_len,
            });
        }
        let properties = body
            .get(props_range)
            .map(std::str::from_utf8)
            .and_then(Result::ok)
            .ok_or(MessageError::InvalidUtf8 {
                what: "batch entry properties",
            })?
            .to_owned();
        out.push(BatchMessage {
            flag,
            body: body.slice(body_range),
            properties,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn msg(flag: i32, body: &'static [u8], properties: &str) -> BatchMessage {
        BatchMessage {
            flag,
            body: Bytes::from_static(body),
            properties: properties.to_string(),
        }
    }

    fn encode(messages: &[BatchMessage]) -> Bytes {
        let mut buf = BytesMut::new();
        let n = encode_batch(messages, &mut buf).expect("encodable");
        assert_eq!(n, buf.len());
        buf.freeze()
    }

    // Goal: the batch body is byte-exact with reference 4.6. Method: two messages written out
    // by hand, compared with the encoder and decoded back.
    #[test]
    fn two_message_batch_matches_the_hand_built_body() {
        let p1 = "UNIQ_KEY\u{1}A1\u{2}";
        let p2 = "KEYS\u{1}k\u{2}";
        let mut g: Vec<u8> = Vec::new();
        // message 1: flag 1, body "ab"
        g.extend_from_slice(&(22 + 2 + p1.len() as i32).to_be_bytes());
        g.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        g.extend_from_slice(b"ab");
        g.extend_from_slice(&(p1.len() as i16).to_be_bytes());
        g.extend_from_slice(p1.as_bytes());
        // message 2: flag -1, empty body
        g.extend_from_slice(&(22 + p2.len() as i32).to_be_bytes());
        g.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
        g.extend_from_slice(&(p2.len() as i16).to_be_bytes());
        g.extend_from_slice(p2.as_bytes());

        let messages = vec![msg(1, b"ab", p1), msg(-1, b"", p2)];
        assert_eq!(encode(&messages).as_ref(), g.as_slice());
        let decoded = decode_batch(&Bytes::from(g), 16).expect("valid batch");
        assert_eq!(decoded, messages);
        assert_eq!(decoded[0].properties().get("UNIQ_KEY"), Some("A1"));
    }

    // Goal: Java ignores MAGIC and BODYCRC of inner messages, so do we. Method: non-zero values.
    #[test]
    fn magic_and_crc_of_entries_are_ignored() {
        let mut bytes = encode(&[msg(0, b"x", "")]).to_vec();
        bytes[4..12].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(decode_batch(&Bytes::from(bytes), 1), Ok(vec![msg(0, b"x", "")]));
    }

    // Goal: the count cap is enforced. Method: three messages, cap two.
    #[test]
    fn batch_with_more_messages_than_the_cap_is_rejected() {
        let bytes = encode(&[msg(0, b"", ""), msg(0, b"", ""), msg(0, b"", "")]);
        assert_eq!(decode_batch(&bytes, 2), Err(MessageError::TooManyMessages { max: 2 }));
        assert_eq!(decode_batch(&bytes, 3).map(|v| v.len()), Ok(3));
        assert_eq!(decode_batch(&Bytes::new(), 0), Ok(vec![]));
    }

    // Goal: malformed entries give typed errors. Method: wrong TOTALSIZE, negative lengths,
    // truncation and invalid UTF-8.
    #[test]
    fn malformed_entries_give_typed_errors() {
        let good = encode(&[msg(0, b"abc", "k\u{1}v\u{2}")]).to_vec();
        let mut wrong_size = good.clone();
        wrong_size[3] += 1;
        assert_eq!(
            decode_batch(&Bytes::from(wrong_size), 8),
            Err(MessageError::SizeMismatch {
                total_size: good.len() as i32 + 1,
                content_len: good.len()
            })
        );
        let mut negative_body = good.clone();
        negative_body[16..20].copy_from_slice(&(-3i32).to_be_bytes());
        assert_eq!(
            decode_batch(&Bytes::from(negative_body), 8),
            Err(MessageError::NegativeLength {
                what: "batch entry body",
                len: -3
            })
        );
        let mut negative_props = good.clone();
        negative_props[23..25].copy_from_slice(&(-1i16).to_be_bytes());
        assert!(matches!(
            decode_batch(&Bytes::from(negative_props), 8),
            Err(MessageError::NegativeLength { .. })
        ));
        let mut bad_utf8 = good.clone();
        bad_utf8[25] = 0xFF;
        assert_eq!(
            decode_batch(&Bytes::from(bad_utf8), 8),
            Err(MessageError::InvalidUtf8 {
                what: "batch entry properties"
            })
        );
        for len in 1..good.len() {
            assert!(decode_batch(&Bytes::copy_from_slice(&good[..len]), 8).is_err());
        }
    }

    // Goal: oversized properties are refused before anything is written. Method: 32768 bytes.
    #[test]
    fn encoder_rejects_oversized_properties() {
        let mut buf = BytesMut::new();
        let big = BatchMessage {
            flag: 0,
            body: Bytes::new(),
            properties: "p".repeat(32768),
        };
        assert_eq!(
            encode_batch(&[msg(0, b"", ""), big], &mut buf),
            Err(MessageError::PropertiesTooLong { len: 32768, max: 32767 })
        );
        assert!(buf.is_empty());
    }

    // Goal: a fixed-size destination that is too small is an error, not a panic, and nothing
    // is written. Method: a 22-byte entry into a 21-byte slice.
    #[test]
    fn encoding_into_a_short_slice_is_an_error() {
        let mut room = [0u8; 21];
        let mut dst = &mut room[..];
        assert_eq!(
            encode_batch(&[msg(0, b"", "")], &mut dst),
            Err(MessageError::Truncated {
                what: "output buffer",
                needed: 22,
                available: 21
            })
        );
        assert_eq!(room, [0u8; 21]);
    }

    fn message_strategy() -> impl Strategy<Value = BatchMessage> {
        (
            any::<i32>(),
            proptest::collection::vec(any::<u8>(), 0..64),
            "[a-z\u{1}\u{2}é]{0,32}",
        )
            .prop_map(|(flag, body, properties)| BatchMessage {
                flag,
                body: Bytes::from(body),
                properties,
            })
    }

    proptest! {
        // Goal: decode(encode(batch)) == batch. Method: random batches.
        #[test]
        fn batch_round_trips(messages in proptest::collection::vec(message_strategy(), 0..8)) {
            let bytes = encode(&messages);
            prop_assert_eq!(decode_batch(&bytes, 8), Ok(messages));
        }

        // Goal: arbitrary bytes never panic. Method: random buffers.
        #[test]
        fn arbitrary_batch_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_batch(&Bytes::from(data), 1000);
        }
    }
}
