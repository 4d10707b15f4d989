//! Typed request and response headers, carried in a command's ext fields (reference 2.2).
//!
//! Decoding follows Java's `decodeCommandCustomHeader`: values are parsed with
//! `Integer.parseInt` / `Long.parseLong` / `Boolean.parseBoolean` semantics, unknown keys
//! are ignored, and a missing required field is a typed error (the server answers
//! SYSTEM_ERROR, as Java does).

mod fields;

pub use fields::{FieldReader, FieldWriter};

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
}
