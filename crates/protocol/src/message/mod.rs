//! Message formats (reference section 4): stored record, properties, batch body, ids.
//!
//! Components:
//! - [`hash`]: Java `String.hashCode` ([`java_hash`]) and masked CRC-32 ([`masked_crc32`]);
//! - [`properties`]: property keys and the `name\u0001value\u0002` codec ([`Properties`]);
//! - [`record`] / [`record_decode`]: the stored record of the CommitLog and of PULL bodies
//!   ([`MessageRecord`], [`encode_record`], [`patch_record`], [`decode_record`],
//!   [`decode_records`], [`count_records`], [`peek_record_header`], [`encode_blank`]);
//! - [`batch`]: the SEND_BATCH_MESSAGE body ([`encode_batch`], [`decode_batch`]);
//! - [`msg_id`]: offsetMsgId and client unique keys ([`UniqIdGenerator`]);
//! - [`compress`]: zlib bodies with a size cap ([`decompress_body`]);
//! - [`sys_flag`]: message sysFlag bits and transaction type helpers;
//! - [`error`]: the error type, [`MessageError`].
//!
//! Invariants:
//! - every decoder is total: arbitrary bytes give an error, never a panic, and allocations are
//!   bounded by the bytes given (or by an explicit cap for inflation);
//! - `decode(encode(x)) == x` for every value an encoder accepts, and encoding a decoded record
//!   reproduces its bytes (when its stored CRC was right);
//! - a record's BODYCRC covers only the body, so [`patch_record`] (queue offset, physical
//!   offset, store timestamp) keeps it valid;
//! - all integers are big-endian, as in Java's `ByteBuffer`.

pub mod batch;
pub mod compress;
mod cursor;
pub mod error;
pub mod hash;
pub mod msg_id;
pub mod properties;
pub mod record;
pub mod record_decode;
pub mod sys_flag;

pub use batch::{decode_batch, encode_batch, BatchMessage};
pub use compress::{decompress_body, CompressionType};
pub use error::MessageError;
pub use hash::{java_hash, java_hash_continue, masked_crc32};
pub use msg_id::{
    create_offset_msg_id, parse_offset_msg_id, parse_uniq_id, push_offset_msg_id, OffsetMsgId, UniqId, UniqIdGenerator,
};
pub use properties::{decode_properties, encode_properties, property_value, Properties};
pub use record::{
    encode_blank, encode_record, patch_record, peek_record_header, MessageRecord, MessageVersion, RecordHeader,
    RecordKind, BLANK_MAGIC, DEFAULT_MAX_MESSAGE_BYTES, MAGIC_V1, MAGIC_V2,
};
pub use record_decode::{count_records, decode_record, decode_records, RecordIter};
