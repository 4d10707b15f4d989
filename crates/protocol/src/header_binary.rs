//! ROCKETMQ binary command header (serialize type 1; `RocketMQSerializable.java`, reference 1.3).
//!
//! Layout: i16 code, u8 language, i16 version, i32 opaque, i32 flag, i32 remark length +
//! UTF-8 (0 = none), i32 ext-fields length + repeated `{u16 key len, key, i32 value len,
//! value}`. Duplicate keys: the last one wins.

use crate::command::{Body, LanguageCode, RemotingCommand, SerializeType};
use crate::error::CodecError;
use crate::ext_fields::ExtFieldsBuilder;

/// True when `cmd` fits the binary header (code and version are i16 there).
pub fn fits_binary_header(cmd: &RemotingCommand) -> bool {
    i16::try_from(cmd.code).is_ok() && i16::try_from(cmd.version).is_ok()
}

/// Appends the binary header of `cmd`. The caller checks [`fits_binary_header`] first.
pub fn encode_binary_header(cmd: &RemotingCommand, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let code = i16::try_from(cmd.code).map_err(|_| CodecError::Unencodable("code does not fit i16"))?;
    let version = i16::try_from(cmd.version).map_err(|_| CodecError::Unencodable("version does not fit i16"))?;
    let ext_len: usize = 6 * cmd.ext_fields.len() + cmd.ext_fields.text_len();
    out.reserve(21 + cmd.remark.as_ref().map_or(0, String::len) + ext_len);
    out.extend_from_slice(&code.to_be_bytes());
    out.push(cmd.language.as_u8());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&cmd.opaque.to_be_bytes());
    out.extend_from_slice(&cmd.flag.to_be_bytes());
    match &cmd.remark {
        Some(remark) if !remark.is_empty() => {
            out.extend_from_slice(&len_i32(remark.len())?.to_be_bytes());
            out.extend_from_slice(remark.as_bytes());
        }
        _ => out.extend_from_slice(&0i32.to_be_bytes()),
    }
    out.extend_from_slice(&len_i32(ext_len)?.to_be_bytes());
    for (key, value) in &cmd.ext_fields {
        let key_len =
            u16::try_from(key.len()).map_err(|_| CodecError::Unencodable("ext-field key longer than 65535 bytes"))?;
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&len_i32(value.len())?.to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    Ok(())
}

fn len_i32(len: usize) -> Result<i32, CodecError> {
    i32::try_from(len).map_err(|_| CodecError::Unencodable("length does not fit i32"))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(CodecError::InvalidBinaryHeader { what, at: self.pos })?;
        let slice = self
            .buf
            .get(self.pos..end)
            .ok_or(CodecError::InvalidBinaryHeader { what, at: self.pos })?;
        self.pos = end;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }
    fn len(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let at = self.pos;
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| CodecError::InvalidBinaryHeader { what, at })
    }
    fn str(&mut self, n: usize, what: &'static str) -> Result<&'a str, CodecError> {
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes).map_err(|_| CodecError::InvalidUtf8 { what })
    }
}

/// Decodes a binary header; the body is attached by the caller.
pub fn decode_binary_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    let mut r = Reader { buf: header, pos: 0 };
    let code = i16::from_be_bytes(r.array("code")?);
    let [language] = r.array::<1>("language")?;
    let version = i16::from_be_bytes(r.array("version")?);
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.len("remark length")?;
    let remark = if remark_len > 0 {
        Some(r.str(remark_len, "remark")?.to_owned())
    } else {
        None
    };
    let ext_len = r.len("ext fields length")?;
    let ext = r.take(ext_len, "ext fields")?;
    // Keys and values are copied into one arena no larger than the ext block. The span count
    // is guessed from a typical 16-byte field, capped so a huge block reserves little up front.
    let mut fields = ExtFieldsBuilder::with_capacity((ext.len() / 16 + 1).min(64), ext.len());
    let mut e = Reader { buf: ext, pos: 0 };
    while e.pos < ext.len() {
        let key_len = usize::from(u16::from_be_bytes(e.array("ext key length")?));
        let key = e.str(key_len, "ext key")?;
        let value_len = e.len("ext value length")?;
        let value = e.str(value_len, "ext value")?;
        fields.push(key, value);
    }
    let fields = fields.finish();
    Ok(RemotingCommand {
        code: i32::from(code),
        language: LanguageCode::from_u8(language),
        version: i32::from(version),
        opaque,
        flag,
        remark,
        ext_fields: fields,
        serialize_type: SerializeType::RocketMq,
        body: Body::empty(),
    })
}
