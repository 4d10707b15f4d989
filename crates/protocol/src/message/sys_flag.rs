//! Message sysFlag bits (reference 2.3, Java `MessageSysFlag`).
//!
//! Layout: bit 0 COMPRESSED, bit 1 MULTI_TAGS, bits 2-3 transaction type, bit 4 born host IPv6,
//! bit 5 store host IPv6, bit 6 NEED_UNWRAP, bit 7 INNER_BATCH, bits 8-10 compression type.
//! Invariant: the helpers only touch their own bits.

/// The body is compressed (see [`COMPRESSION_TYPE_MASK`] for the algorithm).
pub const COMPRESSED: i32 = 0x1;
/// The topic filter type is MULTI_TAG.
pub const MULTI_TAGS: i32 = 0x2;
/// Mask of the transaction type bits (2-3).
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
/// Not a transactional message.
pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
/// Transactional prepare (half) message.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
/// Transaction committed.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
/// Transaction rolled back.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
/// BORNHOST is 16-byte IPv6 (+ port) instead of 4-byte IPv4.
pub const BORNHOST_V6: i32 = 0x10;
/// STOREHOST is 16-byte IPv6 (+ port) instead of 4-byte IPv4.
pub const STOREHOST_V6: i32 = 0x20;
/// The body wraps inner messages to unwrap (5.x).
pub const NEED_UNWRAP: i32 = 0x40;
/// The record is an inner batch (batch ConsumeQueue, 5.x).
pub const INNER_BATCH: i32 = 0x80;
/// Mask of the compression type bits (8-10).
pub const COMPRESSION_TYPE_MASK: i32 = 0x700;
/// Compression type LZ4.
pub const COMPRESSION_LZ4: i32 = 0x100;
/// Compression type ZSTD.
pub const COMPRESSION_ZSTD: i32 = 0x200;
/// Compression type ZLIB (type 0 with COMPRESSED set also means ZLIB, as 4.x clients send).
pub const COMPRESSION_ZLIB: i32 = 0x300;

/// The transaction type bits of `sys_flag` (one of the `TRANSACTION_*_TYPE` values).
pub const fn transaction_type(sys_flag: i32) -> i32 {
    sys_flag & TRANSACTION_TYPE_MASK
}

/// `sys_flag` with its transaction type replaced by `tx_type`.
pub const fn with_transaction_type(sys_flag: i32, tx_type: i32) -> i32 {
    (sys_flag & !TRANSACTION_TYPE_MASK) | (tx_type & TRANSACTION_TYPE_MASK)
}

/// Whether the body is compressed.
pub const fn is_compressed(sys_flag: i32) -> bool {
    sys_flag & COMPRESSED != 0
}

/// Whether the born host is IPv6.
pub const fn born_host_v6(sys_flag: i32) -> bool {
    sys_flag & BORNHOST_V6 != 0
}

/// Whether the store host is IPv6.
pub const fn store_host_v6(sys_flag: i32) -> bool {
    sys_flag & STOREHOST_V6 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: transaction helpers read and replace only bits 2-3. Method: apply them to a flag
    // with every other bit set.
    #[test]
    fn transaction_type_helpers_touch_only_bits_2_and_3() {
        let others = !TRANSACTION_TYPE_MASK;
        let flag = with_transaction_type(others, TRANSACTION_COMMIT_TYPE);
        assert_eq!(transaction_type(flag), TRANSACTION_COMMIT_TYPE);
        assert_eq!(flag & others, others);
        let reset = with_transaction_type(flag, TRANSACTION_NOT_TYPE);
        assert_eq!(reset, others);
        assert_eq!(
            transaction_type(TRANSACTION_ROLLBACK_TYPE | COMPRESSED),
            TRANSACTION_ROLLBACK_TYPE
        );
    }

    // Goal: the constants equal Java's MessageSysFlag. Method: literal values from reference 2.3.
    #[test]
    fn flag_values_match_java() {
        assert_eq!(
            [
                COMPRESSED,
                MULTI_TAGS,
                BORNHOST_V6,
                STOREHOST_V6,
                NEED_UNWRAP,
                INNER_BATCH
            ],
            [0x1, 0x2, 0x10, 0x20, 0x40, 0x80]
        );
        assert_eq!(
            [COMPRESSION_LZ4, COMPRESSION_ZSTD, COMPRESSION_ZLIB],
            [0x100, 0x200, 0x300]
        );
        assert!(is_compressed(0x301) && born_host_v6(0x30) && store_host_v6(0x30));
        assert!(!is_compressed(0x300) && !born_host_v6(0x20) && !store_host_v6(0x10));
    }
}
