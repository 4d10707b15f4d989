//! `RemotingCommand`: the logical content of one remoting frame (reference 1.2).

use bytes::{Bytes, BytesMut};

use crate::code::{RequestCode, ResponseCode};

/// The "custom header" of a command: string keys to string values, sorted for determinism
/// (fastjson also writes them sorted). Defined in [`crate::ext_fields`].
pub use crate::ext_fields::ExtFields;

/// Version FerroMQ stamps on the commands it sends: `V5_3_3` (reference 1.5). Clients
/// refuse SQL92 subscriptions against brokers reporting less than 228.
pub const CURRENT_VERSION: i32 = 475;

/// `flag` bit 0: the command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// `flag` bit 1: the request expects no response.
pub const FLAG_ONEWAY: i32 = 2;

/// Header serialization (`SerializeType.java`), carried in the top byte of the header-length word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// JSON header (type byte 0), the Java default.
    #[default]
    Json,
    /// RocketMQ's compact binary header (type byte 1).
    RocketMq,
}

impl SerializeType {
    /// The type byte on the wire.
    pub const fn as_u8(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// Maps the wire byte; `None` for anything but 0 and 1.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }

    /// The name fastjson writes for `serializeTypeCurrentRPC`.
    pub const fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

macro_rules! language_codes {
    ($($(#[$vmeta:meta])* $variant:ident = $value:expr => $name:literal),* $(,)?) => {
        /// Client language (`LanguageCode.java`): a name in JSON headers, a byte in ROCKETMQ headers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum LanguageCode {
            $(
                $(#[$vmeta])*
                #[doc = concat!("`", $name, "` = ", stringify!($value))]
                $variant,
            )*
            /// A byte this crate does not name (ROCKETMQ headers only), kept as received.
            Unknown(u8),
        }

        impl LanguageCode {
            /// The ROCKETMQ-header byte.
            pub const fn as_u8(self) -> u8 {
                match self { $(LanguageCode::$variant => $value,)* LanguageCode::Unknown(v) => v }
            }
            /// Maps a ROCKETMQ-header byte.
            pub const fn from_u8(value: u8) -> Self {
                match value { $($value => LanguageCode::$variant,)* other => LanguageCode::Unknown(other) }
            }
            /// The JSON name; unknown bytes are written as `OTHER`.
            pub const fn name(self) -> &'static str {
                match self { $(LanguageCode::$variant => $name,)* LanguageCode::Unknown(_) => "OTHER" }
            }
            /// Maps a JSON name; unknown names become `OTHER` (Java would reject them; we accept).
            pub fn from_name(name: &str) -> Self {
                match name { $($name => LanguageCode::$variant,)* _ => LanguageCode::Other }
            }
        }
    };
}

language_codes! {
    #[default]
    Java = 0 => "JAVA",
    Cpp = 1 => "CPP",
    Dotnet = 2 => "DOTNET",
    Python = 3 => "PYTHON",
    Delphi = 4 => "DELPHI",
    Erlang = 5 => "ERLANG",
    Ruby = 6 => "RUBY",
    Other = 7 => "OTHER",
    Http = 8 => "HTTP",
    Go = 9 => "GO",
    Php = 10 => "PHP",
    Oms = 11 => "OMS",
    Rust = 12 => "RUST",
    NodeJs = 13 => "NODE_JS",
}

/// A command body: empty, one buffer, or several buffers sent back to back (a pull response
/// made of CommitLog slices is sent with one vectored write, never copied into one buffer).
#[derive(Clone, Debug, Default)]
pub struct Body {
    segments: Vec<Bytes>,
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Body { segments: Vec::new() }
    }

    /// A body made of several buffers, in order. Empty buffers are dropped.
    pub fn from_segments(segments: Vec<Bytes>) -> Self {
        let mut segments = segments;
        segments.retain(|s| !s.is_empty());
        Body { segments }
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Bytes::len).sum()
    }

    /// True when the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The buffers, in order.
    pub fn segments(&self) -> &[Bytes] {
        &self.segments
    }

    /// The segments, moved out (no reference-count traffic).
    pub fn into_segments(self) -> Vec<Bytes> {
        self.segments
    }

    /// The body as one buffer: free for zero or one segment, one copy for several.
    pub fn to_bytes(&self) -> Bytes {
        match self.segments.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut out = BytesMut::with_capacity(self.len());
                for segment in many {
                    out.extend_from_slice(segment);
                }
                out.freeze()
            }
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::from_segments(vec![bytes])
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(bytes))
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Body {}

/// One remoting command, request or response (reference 1.2). The default is what a JSON
/// header `{}` decodes to: code 0, `JAVA`, version 0, no fields, JSON, no body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code (requests) or response code (responses), see [`RequestCode`]/[`ResponseCode`].
    pub code: i32,
    /// Sender's language.
    pub language: LanguageCode,
    /// Sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id; a response carries its request's value.
    pub opaque: i32,
    /// Bit 0 response, bit 1 oneway.
    pub flag: i32,
    /// Error text of responses (`None` = absent).
    pub remark: Option<String>,
    /// The custom header, all values strings.
    pub ext_fields: ExtFields,
    /// How the header was (or will be) serialized.
    pub serialize_type: SerializeType,
    /// Opaque payload.
    pub body: Body,
}

impl RemotingCommand {
    /// A new request with the given code and no fields; `opaque` is the caller's to set.
    pub fn request(code: RequestCode) -> Self {
        Self::request_code(code.as_i32())
    }

    /// A new request with a raw code.
    pub fn request_code(code: i32) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: ExtFields::new(),
            serialize_type: SerializeType::Json,
            body: Body::empty(),
        }
    }

    /// A response to `request`: same opaque and serialization, response flag set.
    /// Responses say `language: JAVA`, which every client accepts (reference 1.2).
    pub fn response_to(request: &RemotingCommand, code: ResponseCode) -> Self {
        RemotingCommand {
            code: code.as_i32(),
            language: LanguageCode::Java,
            version: CURRENT_VERSION,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark: None,
            ext_fields: ExtFields::new(),
            serialize_type: request.serialize_type,
            body: Body::empty(),
        }
    }

    /// Sets the remark (builder style).
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Sets the body (builder style).
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the opaque (builder style).
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    /// Encodes a typed header into the ext fields (builder style).
    pub fn with_header<H: crate::header::CommandHeader>(mut self, header: &H) -> Self {
        header.encode(&mut self.ext_fields);
        self
    }

    /// Decodes a typed header from the ext fields.
    pub fn decode_header<H: crate::header::CommandHeader>(&self) -> Result<H, crate::header::HeaderError> {
        H::decode(&self.ext_fields)
    }

    /// The code as a request code.
    pub fn request_code_enum(&self) -> RequestCode {
        RequestCode::from_i32(self.code)
    }

    /// The code as a response code.
    pub fn response_code_enum(&self) -> ResponseCode {
        ResponseCode::from_i32(self.code)
    }

    /// True for responses (flag bit 0).
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// True for oneway requests (flag bit 1): never answered.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Marks the command oneway.
    pub fn set_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// One ext field's value.
    pub fn ext_field(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key)
    }

    /// Sets one ext field (replacing an earlier value).
    pub fn put_ext_field(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) {
        self.ext_fields.insert(key, value);
    }
}
