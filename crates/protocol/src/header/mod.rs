//! Typed request and response headers, carried in a command's ext fields (reference 2.2).
//!
//! Decoding follows Java's `decodeCommandCustomHeader`: values are parsed with
//! `Integer.parseInt` / `Long.parseLong` / `Boolean.parseBoolean` semantics, unknown keys
//! are ignored, and a missing required field is a typed error (the server answers
//! SYSTEM_ERROR, as Java does).
//!
//! Components, one file per request family:
//! - [`namesrv`] holds KV config, broker registration, routes, write permissions, data version;
//! - [`send_message`] holds SEND_MESSAGE (long names), SEND_MESSAGE_V2 (short names `a`..`n`),
//!   the send response, and [`send_message::decode_send_request_header`];
//! - [`send_back`] holds CONSUMER_SEND_MSG_BACK;
//! - [`pull_message`] holds PULL_MESSAGE / LITE_PULL_MESSAGE request and response;
//! - [`consumer_offset`] holds consumer offsets and queue offset look-ups;
//! - [`query_message`] holds QUERY_MESSAGE and VIEW_MESSAGE_BY_ID;
//! - [`client`] holds UNREGISTER_CLIENT and GET_CONSUMER_LIST_BY_GROUP;
//! - [`transaction`] holds END_TRANSACTION and CHECK_TRANSACTION_STATE;
//! - [`pop`] holds POP / ACK / CHANGE_INVISIBLE_TIME / PEEK / NOTIFICATION / POLLING_INFO;
//! - [`admin`] holds topic, subscription group and statistics administration;
//! - [`broker_to_client`] holds requests a broker sends to clients (and their admin twins).
//!
//! Invariants:
//! - a header's wire names are exactly Java's field names (`clientID`, `proxyFrowardClientId`);
//! - required (`@CFNotNull`) fields are plain types, optional ones are `Option`;
//! - `H::decode(encode(h)) == h` for every header value;
//! - RPC keys that a header does not list (`ns`, `nsd`, `bname`, `oway`, `lo`) are ignored.

mod fields;

pub mod admin;
pub mod broker_to_client;
pub mod client;
pub mod consumer_offset;
pub mod namesrv;
pub mod pop;
pub mod pull_message;
pub mod query_message;
pub mod send_back;
pub mod send_message;
pub(crate) mod send_message_decode;
pub mod transaction;

pub use fields::{parse_i32, parse_i64, parse_java_bool, FieldReader, FieldValue, FieldWriter};

use crate::command::ExtFields;

/// A typed view of a command's ext fields.
pub trait CommandHeader: Sized {
    /// Reads the header from ext fields (lenient: unknown keys ignored).
    fn decode(fields: &ExtFields) -> Result<Self, HeaderError>;
    /// Writes the header's fields (absent optional fields are not written).
    fn encode(&self, fields: &mut ExtFields);
}

/// Why a typed header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A required (`@CFNotNull`) field is absent.
    #[error("the custom header field {field} is null")]
    MissingField {
        /// Field name as on the wire.
        field: &'static str,
    },
    /// A field is present but does not parse as its type.
    #[error("the custom header field {field} has an invalid value {value:?} (expected {expected})")]
    InvalidField {
        /// Field name as on the wire.
        field: &'static str,
        /// The value received (truncated to 64 chars).
        value: String,
        /// What was expected, e.g. `int`.
        expected: &'static str,
    },
    /// A header family was asked of a command whose code does not carry it
    /// (e.g. a send header from a PULL_MESSAGE request).
    #[error("request code {code} does not carry this header")]
    UnexpectedCode {
        /// The command's code.
        code: i32,
    },
}

/// Declares a header struct whose fields map one to one onto ext-field keys.
///
/// Each field is `rust_name: Type = "wireName"`; the type decides the rule: a plain type is
/// required, an `Option` is optional (see [`FieldValue`]). Generates the struct, its
/// [`CommandHeader`] impl, `FIELD_NAMES`, `required_fields()` and, under `cfg(test)`, a proptest
/// `Arbitrary` impl used by the round-trip tests.
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident : $ty:ty = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )*
        }

        impl $crate::header::CommandHeader for $name {
            #[allow(unused_variables)]
            fn decode(
                fields: &$crate::command::ExtFields,
            ) -> Result<Self, $crate::header::HeaderError> {
                let reader = $crate::header::FieldReader::new(fields);
                Ok($name {
                    $( $field: <$ty as $crate::header::FieldValue>::read(&reader, $wire)?, )*
                })
            }

            #[allow(unused_variables, unused_mut)]
            fn encode(&self, fields: &mut $crate::command::ExtFields) {
                // One reservation for every field's key and value: no arena growth below.
                let text = 0 $( + $wire.len() + $crate::header::FieldValue::text_len_hint(&self.$field) )*;
                fields.reserve(Self::FIELD_NAMES.len(), text);
                let mut writer = $crate::header::FieldWriter::new(fields);
                $( $crate::header::FieldValue::write(&self.$field, &mut writer, $wire); )*
            }
        }

        impl $name {
            /// Every wire name of this header, in declaration order.
            pub const FIELD_NAMES: &'static [&'static str] = &[$($wire),*];

            /// The wire names of the required (`@CFNotNull`) fields.
            pub fn required_fields() -> Vec<&'static str> {
                let all: &[(&'static str, bool)] =
                    &[$(($wire, <$ty as $crate::header::FieldValue>::REQUIRED)),*];
                all.iter().filter(|(_, required)| *required).map(|(wire, _)| *wire).collect()
            }
        }

        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;

            fn arbitrary_with(_: ()) -> Self::Strategy {
                use proptest::strategy::Strategy;
                $crate::header::nested_any!($($ty),*)
                    .prop_map(|$crate::header::nested_pat!($($field),*)| $name { $($field),* })
                    .boxed()
            }
        }
    };
}

/// A right-nested tuple of `any::<T>()` strategies (proptest tuples stop at 12 elements).
#[cfg(test)]
macro_rules! nested_any {
    () => { proptest::strategy::Just(()) };
    ($head:ty $(, $tail:ty)*) => {
        (proptest::arbitrary::any::<$head>(), $crate::header::nested_any!($($tail),*))
    };
}

/// The pattern matching [`nested_any!`]'s values.
#[cfg(test)]
macro_rules! nested_pat {
    () => { () };
    ($head:ident $(, $tail:ident)*) => { ($head, $crate::header::nested_pat!($($tail),*)) };
}

/// Generates, for each listed header type, a proptest that encodes an arbitrary value, decodes
/// it back and compares, and a test that dropping any required field yields `MissingField`.
#[cfg(test)]
macro_rules! header_round_trip_tests {
    ($($test:ident => $ty:ty),* $(,)?) => {
        $(
            mod $test {
                use super::*;
                #[allow(unused_imports)]
                use proptest::prelude::*;

                proptest! {
                    #[test]
                    fn encode_then_decode_is_identity(header in any::<$ty>()) {
                        // Goal: decode(encode(h)) == h. Method: arbitrary field values.
                        $crate::header::tests_support::assert_round_trip(&header)?;
                    }

                    #[test]
                    fn each_missing_required_field_is_named(header in any::<$ty>()) {
                        // Goal: an absent required field yields MissingField with its wire name.
                        // Method: encode, remove one required key at a time, decode.
                        $crate::header::tests_support::assert_missing_fields_named(
                            &header,
                            &<$ty>::required_fields(),
                        )?;
                    }
                }
            }
        )*
    };
}

pub(crate) use command_header;
#[cfg(test)]
pub(crate) use header_round_trip_tests;
#[cfg(test)]
pub(crate) use nested_any;
#[cfg(test)]
pub(crate) use nested_pat;

#[cfg(test)]
pub(crate) mod tests_support {
    //! Shared checks for the per-family header tests.

    use super::{CommandHeader, HeaderError};
    use crate::command::{ExtFields, RemotingCommand, SerializeType};
    use crate::frame::{decode_frame, encode_frame, MAX_FRAME_BYTES};
    use proptest::test_runner::TestCaseError;

    /// Encodes `header` into ext fields and decodes it back; then sends it through a whole
    /// JSON frame to make sure the values also survive the header serialization.
    pub fn assert_round_trip<H: CommandHeader + PartialEq + std::fmt::Debug>(header: &H) -> Result<(), TestCaseError> {
        let mut fields = ExtFields::new();
        header.encode(&mut fields);
        let decoded = H::decode(&fields).map_err(|e| TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert_eq!(&decoded, header);

        for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
            let mut command = RemotingCommand::request_code(10).with_header(header);
            command.serialize_type = serialize_type;
            let mut frame = bytes::BytesMut::new();
            encode_frame(&command, &mut frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = decode_frame(&mut frame, MAX_FRAME_BYTES)
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .ok_or_else(|| TestCaseError::fail("frame incomplete"))?;
            let decoded = back
                .decode_header::<H>()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(&decoded, header);
        }
        Ok(())
    }

    /// Removes each required field in turn and checks the error names it.
    pub fn assert_missing_fields_named<H: CommandHeader + std::fmt::Debug>(
        header: &H,
        required: &[&'static str],
    ) -> Result<(), TestCaseError> {
        let mut fields = ExtFields::new();
        header.encode(&mut fields);
        for field in required {
            let mut partial = fields.clone();
            proptest::prop_assert!(partial.remove(field), "required field {} not written", field);
            let result = H::decode(&partial);
            proptest::prop_assert_eq!(result.err(), Some(HeaderError::MissingField { field }));
        }
        Ok(())
    }
}
