//! Java-compatible parsing and writing of ext-field values.
//!
//! [`FieldReader`] / [`FieldWriter`] read and write single values; [`FieldValue`] lets the
//! header macro pick the rule from the field's type: plain types are required, `Option`s are
//! optional.

use std::fmt::Write as _;

use crate::command::ExtFields;
use crate::ext_fields::ValueText;
use crate::header::HeaderError;

/// Reads typed values out of ext fields with Java's parse semantics.
pub struct FieldReader<'a> {
    fields: &'a ExtFields,
    /// Where the next lookup looks first (see [`ExtFields::get_hinted`]).
    next: std::cell::Cell<usize>,
}

fn invalid(field: &'static str, value: &str, expected: &'static str) -> HeaderError {
    let mut shown: String = value.chars().take(64).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    HeaderError::InvalidField {
        field,
        value: shown,
        expected,
    }
}

/// `Boolean.parseBoolean`: "true" in any case is true, anything else false.
pub fn parse_java_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// `field`'s text as an `int` (`Integer.parseInt`: optional sign, decimal digits, in range),
/// the rule of [`FieldReader::i32`] for readers of ext fields that hold no [`ExtFields`].
pub fn parse_i32(field: &'static str, value: &str) -> Result<i32, HeaderError> {
    if let Some(n) = plain_digits(value, 9).and_then(|n| i32::try_from(n).ok()) {
        return Ok(n);
    }
    value.parse::<i32>().map_err(|_| invalid(field, value, "int"))
}

/// `field`'s text as a `long` (`Long.parseLong`), the rule of [`FieldReader::i64`].
pub fn parse_i64(field: &'static str, value: &str) -> Result<i64, HeaderError> {
    if let Some(n) = plain_digits(value, 18) {
        return Ok(n);
    }
    value.parse::<i64>().map_err(|_| invalid(field, value, "long"))
}

/// The value of 1 to `max_digits` (at most 18) decimal digits and nothing else, the shape of
/// nearly every number a client writes, read without the overflow checks `str::parse` makes
/// per digit (18 digits cannot overflow an `i64`); `None` for anything else, which
/// `str::parse` then reads (or rejects) as before.
#[inline]
fn plain_digits(value: &str, max_digits: usize) -> Option<i64> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits.min(18) {
        return None;
    }
    bytes.iter().try_fold(0i64, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        (digit <= 9).then(|| n * 10 + i64::from(digit))
    })
}

impl<'a> FieldReader<'a> {
    /// Wraps ext fields.
    pub fn new(fields: &'a ExtFields) -> Self {
        FieldReader {
            fields,
            next: std::cell::Cell::new(0),
        }
    }

    fn get(&self, field: &str) -> Option<&'a str> {
        let mut hint = self.next.get();
        let value = self.fields.get_hinted(field, &mut hint);
        self.next.set(hint);
        value
    }

    /// An optional string field.
    pub fn opt_str(&self, field: &'static str) -> Option<String> {
        self.get(field).map(str::to_owned)
    }

    /// A required string field.
    pub fn str(&self, field: &'static str) -> Result<String, HeaderError> {
        self.opt_str(field).ok_or(HeaderError::MissingField { field })
    }

    /// An optional `int` (`Integer.parseInt`: optional sign, decimal digits, in range).
    pub fn opt_i32(&self, field: &'static str) -> Result<Option<i32>, HeaderError> {
        self.get(field).map(|v| parse_i32(field, v)).transpose()
    }

    /// A required `int`.
    pub fn i32(&self, field: &'static str) -> Result<i32, HeaderError> {
        self.opt_i32(field)?.ok_or(HeaderError::MissingField { field })
    }

    /// An optional `long` (`Long.parseLong`).
    pub fn opt_i64(&self, field: &'static str) -> Result<Option<i64>, HeaderError> {
        self.get(field).map(|v| parse_i64(field, v)).transpose()
    }

    /// A required `long`.
    pub fn i64(&self, field: &'static str) -> Result<i64, HeaderError> {
        self.opt_i64(field)?.ok_or(HeaderError::MissingField { field })
    }

    /// An optional `boolean` (`Boolean.parseBoolean`: never fails).
    pub fn opt_bool(&self, field: &'static str) -> Option<bool> {
        self.get(field).map(parse_java_bool)
    }

    /// A required `boolean`.
    pub fn bool(&self, field: &'static str) -> Result<bool, HeaderError> {
        self.opt_bool(field).ok_or(HeaderError::MissingField { field })
    }
}

/// Writes typed values into ext fields as Java's `String.valueOf` would, formatting each
/// value straight into the fields' arena (no temporary `String` per value).
pub struct FieldWriter<'a> {
    fields: &'a mut ExtFields,
}

impl<'a> FieldWriter<'a> {
    /// Wraps ext fields.
    pub fn new(fields: &'a mut ExtFields) -> Self {
        FieldWriter { fields }
    }

    /// Writes any displayable value.
    pub fn put(&mut self, field: &str, value: impl std::fmt::Display) -> &mut Self {
        self.fields.insert_with(field, |text| {
            // Appending to a String cannot fail: an error could only come from a broken
            // `Display` impl, and then the field keeps the text written before it.
            let _ = write!(text, "{value}");
        });
        self
    }

    /// Sets `field` to `text` as is.
    pub fn put_text(&mut self, field: &str, text: &str) -> &mut Self {
        self.fields.insert(field, text);
        self
    }

    /// Writes the value when present.
    pub fn put_opt<T: std::fmt::Display>(&mut self, field: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.put(field, value);
        }
        self
    }

    /// Writes a value of a [`FieldText`] type (strings, integers, booleans) without `fmt`.
    fn put_field_text<T: FieldText + ?Sized>(&mut self, field: &str, value: &T) {
        self.fields.insert_with(field, |text| value.write_text(text));
    }
}

/// A Rust type that can live in one ext field. Plain types are required (absence is
/// [`HeaderError::MissingField`]); `Option<T>` is optional.
pub trait FieldValue: Sized {
    /// True when absence is an error.
    const REQUIRED: bool;
    /// Reads the value of `field`.
    fn read(reader: &FieldReader<'_>, field: &'static str) -> Result<Self, HeaderError>;
    /// Writes the value under `field` (optional values only when present).
    fn write(&self, writer: &mut FieldWriter<'_>, field: &str);
    /// At least the length of the text [`FieldValue::write`] writes (0 when it writes none),
    /// so that a header reserves its fields' arena once.
    fn text_len_hint(&self) -> usize {
        16
    }
}

macro_rules! field_value {
    ($ty:ty, $required:ident, $optional:ident) => {
        impl FieldValue for $ty {
            const REQUIRED: bool = true;
            fn read(reader: &FieldReader<'_>, field: &'static str) -> Result<Self, HeaderError> {
                reader.$required(field)
            }
            fn write(&self, writer: &mut FieldWriter<'_>, field: &str) {
                writer.put_field_text(field, self);
            }
            fn text_len_hint(&self) -> usize {
                FieldText::text_len_hint(self)
            }
        }

        impl FieldValue for Option<$ty> {
            const REQUIRED: bool = false;
            fn read(reader: &FieldReader<'_>, field: &'static str) -> Result<Self, HeaderError> {
                reader.$optional(field)
            }
            fn write(&self, writer: &mut FieldWriter<'_>, field: &str) {
                if let Some(value) = self {
                    writer.put_field_text(field, value);
                }
            }
            fn text_len_hint(&self) -> usize {
                self.as_ref().map_or(0, FieldText::text_len_hint)
            }
        }
    };
}

field_value!(String, str, opt_str_result);
field_value!(i32, i32, opt_i32);
field_value!(i64, i64, opt_i64);
field_value!(bool, bool, opt_bool_result);

/// A value's ext-field text, written without going through `fmt` for the common types.
pub(crate) trait FieldText {
    /// Appends the text Java's `String.valueOf` would give.
    fn write_text(&self, out: &mut ValueText<'_>);
    /// An upper bound of that text's length.
    fn text_len_hint(&self) -> usize;
}

impl FieldText for String {
    fn write_text(&self, out: &mut ValueText<'_>) {
        out.push_str(self);
    }
    fn text_len_hint(&self) -> usize {
        self.len()
    }
}

impl FieldText for bool {
    fn write_text(&self, out: &mut ValueText<'_>) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn text_len_hint(&self) -> usize {
        5
    }
}

impl FieldText for i32 {
    fn write_text(&self, out: &mut ValueText<'_>) {
        out.push_integer(i64::from(*self));
    }
    fn text_len_hint(&self) -> usize {
        11
    }
}

impl FieldText for i64 {
    fn write_text(&self, out: &mut ValueText<'_>) {
        out.push_integer(*self);
    }
    fn text_len_hint(&self) -> usize {
        20
    }
}

impl FieldReader<'_> {
    fn opt_str_result(&self, field: &'static str) -> Result<Option<String>, HeaderError> {
        Ok(self.opt_str(field))
    }

    fn opt_bool_result(&self, field: &'static str) -> Result<Option<bool>, HeaderError> {
        Ok(self.opt_bool(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn values_parse_with_java_semantics() {
        // Goal: parseInt/parseLong/parseBoolean behaviour. Method: edge values.
        let f = fields(&[
            ("a", "+12"),
            ("b", "-2147483648"),
            ("c", "2147483648"),
            ("d", "TRUE"),
            ("e", "yes"),
            ("g", " 1"),
        ]);
        let r = FieldReader::new(&f);
        assert_eq!(r.i32("a"), Ok(12));
        assert_eq!(r.i32("b"), Ok(i32::MIN));
        assert!(matches!(r.i32("c"), Err(HeaderError::InvalidField { field: "c", .. })));
        assert_eq!(r.i64("c"), Ok(2_147_483_648));
        assert_eq!(r.bool("d"), Ok(true));
        assert_eq!(r.bool("e"), Ok(false));
        assert!(r.i32("g").is_err(), "parseInt rejects whitespace");
        assert_eq!(r.i32("missing"), Err(HeaderError::MissingField { field: "missing" }));
        assert_eq!(r.opt_i32("missing"), Ok(None));
    }

    #[test]
    fn java_boolean_parsing_is_lenient_and_never_fails() {
        // Goal: Boolean.parseBoolean semantics — only "true" in any case is true; anything
        // else, including garbage, is false rather than an error. Method: table of inputs.
        for (input, expected) in [
            ("true", true),
            ("TRUE", true),
            ("tRuE", true),
            ("false", false),
            ("1", false),
            ("yes", false),
            ("", false),
            (" true", false),
            ("true ", false),
        ] {
            assert_eq!(parse_java_bool(input), expected, "input {input:?}");
            let f = fields(&[("flag", input)]);
            assert_eq!(<bool as FieldValue>::read(&FieldReader::new(&f), "flag"), Ok(expected));
            assert_eq!(
                <Option<bool> as FieldValue>::read(&FieldReader::new(&f), "flag"),
                Ok(Some(expected))
            );
        }
    }

    #[test]
    fn field_values_pick_required_or_optional_from_the_type() {
        // Goal: plain types are required, Options optional. Method: read an absent key.
        let f = fields(&[]);
        let r = FieldReader::new(&f);
        assert_eq!(
            <String as FieldValue>::read(&r, "x"),
            Err(HeaderError::MissingField { field: "x" })
        );
        assert_eq!(<Option<i64> as FieldValue>::read(&r, "x"), Ok(None));
    }

    proptest::proptest! {
        // Goal: the digits-only fast path never changes what parse_i32 / parse_i64 accept or
        // return. Method: strings mostly of digits (with signs, leading zeros, other bytes,
        // lengths around 9 and 18) and every i64 as text, against `str::parse`.
        #[test]
        fn integer_parse_equals_str_parse(
            text in proptest::prop_oneof![
                "[0-9]{0,20}",
                "[-+]?[0-9]{1,19}",
                "[0-9 a+-]{0,12}",
                proptest::num::i64::ANY.prop_map(|n| n.to_string()),
                proptest::num::i32::ANY.prop_map(|n| n.to_string()),
            ],
        ) {
            proptest::prop_assert_eq!(parse_i64("n", &text).ok(), text.parse::<i64>().ok());
            proptest::prop_assert_eq!(parse_i32("n", &text).ok(), text.parse::<i32>().ok());
        }

        // Goal: integers written into the arena without `fmt` read back exactly as
        // `to_string` gives them, for every i64/i32 and the edges. Method: proptest plus
        // i64::MIN/MAX and 0, through FieldWriter, overwriting one key.
        #[test]
        fn integer_text_matches_to_string(value in proptest::num::i64::ANY) {
            for v in [value, i64::MIN, i64::MAX, 0, -1, 9, 10, -10] {
                let mut fields = ExtFields::new();
                FieldWriter::new(&mut fields).put_field_text("n", &v);
                proptest::prop_assert_eq!(fields.get("n").map(str::to_owned), Some(v.to_string()));
                let narrow = v as i32;
                FieldWriter::new(&mut fields).put_field_text("n", &narrow);
                proptest::prop_assert_eq!(fields.get("n").map(str::to_owned), Some(narrow.to_string()));
            }
        }
    }
}
