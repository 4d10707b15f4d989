//! Body compression (reference 4.4 and sysFlag bits of 2.3).
//!
//! sysFlag 0x1 marks a compressed body; bits 8-10 name the algorithm: 0 (what 4.x clients send)
//! or 3 = ZLIB, 1 = LZ4, 2 = ZSTD. Only ZLIB is implemented; LZ4/ZSTD and unknown types are
//! [`MessageError::UnsupportedCompression`]. The broker stores bodies as received; only clients
//! (and tools) inflate.
//!
//! Invariant: inflating never produces more than the caller's cap, whatever the input claims
//! (zip-bomb guard); malformed zlib data is a typed error.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::error::MessageError;
use super::sys_flag::{COMPRESSED, COMPRESSION_TYPE_MASK, COMPRESSION_ZLIB};

/// zlib level Java clients use by default (`compressLevel`).
pub const DEFAULT_ZLIB_LEVEL: u32 = 5;
/// Java clients compress bodies larger than this (`compressMsgBodyOverHowmuch`).
pub const COMPRESS_BODY_OVER_BYTES: usize = 4096;

/// Compression algorithm named by sysFlag bits 8-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    /// zlib (deflate with zlib header), types 0 and 3.
    Zlib,
    /// LZ4 frame, type 1.
    Lz4,
    /// Zstandard, type 2.
    Zstd,
}

impl CompressionType {
    /// The algorithm named by `sys_flag` (regardless of the COMPRESSED bit).
    pub fn from_sys_flag(sys_flag: i32) -> Result<Self, MessageError> {
        let compression_type = ((sys_flag & COMPRESSION_TYPE_MASK) >> 8) as u8;
        match compression_type {
            0 | 3 => Ok(CompressionType::Zlib),
            1 => Ok(CompressionType::Lz4),
            2 => Ok(CompressionType::Zstd),
            _ => Err(MessageError::UnsupportedCompression { compression_type }),
        }
    }

    /// The sysFlag bits 8-10 of this algorithm.
    pub const fn sys_flag_bits(self) -> i32 {
        match self {
            CompressionType::Zlib => COMPRESSION_ZLIB,
            CompressionType::Lz4 => 0x100,
            CompressionType::Zstd => 0x200,
        }
    }
}

/// zlib-compresses `data` at `level` (0-9, clamped).
pub fn zlib_compress(data: &[u8], level: u32) -> Result<Vec<u8>, MessageError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(level.min(9)));
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| MessageError::CompressFailed { kind: e.kind() })
}

/// Inflates zlib `data`, failing if the output would exceed `max_bytes`.
pub fn zlib_decompress(data: &[u8], max_bytes: usize) -> Result<Vec<u8>, MessageError> {
    let mut out = Vec::new();
    let cap = u64::try_from(max_bytes).unwrap_or(u64::MAX).saturating_add(1);
    ZlibDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| MessageError::DecompressFailed { kind: e.kind() })?;
    if out.len() > max_bytes {
        return Err(MessageError::DecompressedTooLarge { max: max_bytes });
    }
    Ok(out)
}

/// Compresses `body` with zlib at `level` and returns it with the sysFlag to send: COMPRESSED
/// plus the ZLIB type bits (5.x style, which 4.x readers accept since they only test bit 0).
pub fn compress_body(body: &[u8], sys_flag: i32, level: u32) -> Result<(Vec<u8>, i32), MessageError> {
    let compressed = zlib_compress(body, level)?;
    let flag = (sys_flag & !COMPRESSION_TYPE_MASK) | COMPRESSED | COMPRESSION_ZLIB;
    Ok((compressed, flag))
}

/// The plain body of a message: `body` itself (zero-copy) when sysFlag has no COMPRESSED bit,
/// else the inflated body, at most `max_bytes` long.
pub fn decompress_body(body: &Bytes, sys_flag: i32, max_bytes: usize) -> Result<Bytes, MessageError> {
    if sys_flag & COMPRESSED == 0 {
        return Ok(body.clone());
    }
    match CompressionType::from_sys_flag(sys_flag)? {
        CompressionType::Zlib => zlib_decompress(body, max_bytes).map(Bytes::from),
        other => Err(MessageError::UnsupportedCompression {
            compression_type: (other.sys_flag_bits() >> 8) as u8,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Goal: compressed bodies inflate back and carry COMPRESSED|ZLIB. Method: a repetitive
    // 10 KiB body (above the client threshold) through compress_body/decompress_body.
    #[test]
    fn zlib_body_round_trips_and_sets_the_flags() {
        let body: Vec<u8> = b"RocketMQ ".iter().copied().cycle().take(10 * 1024).collect();
        let (compressed, flag) = compress_body(&body, 0x2, DEFAULT_ZLIB_LEVEL).expect("compress");
        assert!(compressed.len() < body.len() / 10);
        assert_eq!(flag, 0x2 | 0x1 | 0x300);
        let plain = decompress_body(&Bytes::from(compressed), flag, 1 << 20).expect("inflate");
        assert_eq!(plain.as_ref(), body.as_slice());
    }

    // Goal: 4.x clients set only bit 0 (type 0), which means zlib. Method: a fixed zlib stream
    // produced by zlib itself (Python `zlib.compress(b"hello", 5)`), flag 0x1.
    #[test]
    fn type_zero_is_zlib_as_4x_clients_send() {
        let zlib_stream = [
            0x78, 0x5E, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x06, 0x2C, 0x02, 0x15,
        ];
        let plain = decompress_body(&Bytes::copy_from_slice(&zlib_stream), 0x1, 100).expect("inflate");
        assert_eq!(plain.as_ref(), b"hello");
    }

    // Goal: uncompressed bodies are passed through without copying. Method: pointer equality.
    #[test]
    fn uncompressed_body_is_returned_as_is() {
        let body = Bytes::from_static(b"plain");
        let out = decompress_body(&body, 0x300, 1).expect("no inflation");
        assert_eq!(out.as_ptr(), body.as_ptr());
    }

    // Goal: LZ4, ZSTD and unknown types are typed errors. Method: each type with bit 0 set.
    #[test]
    fn lz4_zstd_and_unknown_types_are_unsupported() {
        let body = Bytes::from_static(b"x");
        for (bits, ty) in [(0x100, 1u8), (0x200, 2), (0x400, 4), (0x700, 7)] {
            assert_eq!(
                decompress_body(&body, 0x1 | bits, 10),
                Err(MessageError::UnsupportedCompression { compression_type: ty })
            );
        }
        assert_eq!(CompressionType::from_sys_flag(0x301), Ok(CompressionType::Zlib));
        assert_eq!(CompressionType::from_sys_flag(0x101), Ok(CompressionType::Lz4));
    }

    // Goal: a zip bomb stops at the cap. Method: 1 MiB of zeros compresses to ~1 KiB; inflate
    // with a 64 KiB cap, then with an exact cap.
    #[test]
    fn inflation_beyond_the_cap_is_refused() {
        let bomb = zlib_compress(&vec![0u8; 1 << 20], 9).expect("compress");
        assert!(bomb.len() < 4096);
        assert_eq!(
            zlib_decompress(&bomb, 64 * 1024),
            Err(MessageError::DecompressedTooLarge { max: 64 * 1024 })
        );
        assert_eq!(zlib_decompress(&bomb, 1 << 20).map(|v| v.len()), Ok(1 << 20));
    }

    // Goal: malformed zlib data is an error, not a panic. Method: garbage and a truncated stream.
    #[test]
    fn malformed_zlib_data_is_an_error() {
        assert!(matches!(
            zlib_decompress(b"not zlib at all", 100),
            Err(MessageError::DecompressFailed { .. })
        ));
        let good = zlib_compress(b"hello hello hello", 5).expect("compress");
        assert!(zlib_decompress(&good[..good.len() - 3], 100).is_err());
    }

    proptest! {
        // Goal: zlib round trips at every level. Method: random data and levels.
        #[test]
        fn zlib_round_trips(data in proptest::collection::vec(any::<u8>(), 0..2048), level in 0u32..=9) {
            let compressed = zlib_compress(&data, level).expect("compress");
            prop_assert_eq!(zlib_decompress(&compressed, data.len()), Ok(data));
        }

        // Goal: arbitrary input never panics the inflater. Method: random bytes with a zlib header.
        #[test]
        fn arbitrary_zlib_input_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..256)) {
            if data.len() >= 2 { data[0] = 0x78; data[1] = 0x9C; }
            let _ = zlib_decompress(&data, 4096);
        }
    }
}
