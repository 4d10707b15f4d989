//! Errors of the name server: start-up errors ([`NamesrvError`]) and request errors
//! ([`RequestError`]), which map to wire response codes in exactly one place,
//! [`RequestError::response_code`].

use ferromq_protocol::body::BodyError;
use ferromq_protocol::header::HeaderError;
use ferromq_protocol::ResponseCode;

use crate::config::ConfigError;
use crate::kv_config::KvConfigError;
use crate::route_info::RegisterError;

/// Why the name server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The KV config file could not be loaded.
    #[error(transparent)]
    KvConfig(#[from] KvConfigError),
    /// The remoting server failed.
    #[error("remoting server: {0}")]
    Remoting(#[from] ferromq_remoting::RemotingError),
}

/// Why one request failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request header lacks a required field or has a bad value.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A body did not decode.
    #[error("Failed to decode {what}: {source}")]
    Body {
        /// Which body.
        what: &'static str,
        /// Why.
        source: BodyError,
    },
    /// A body that must be present is empty.
    #[error("{what} body is missing")]
    MissingBody {
        /// Which body.
        what: &'static str,
    },
    /// REGISTER_BROKER `bodyCrc32` does not match the body.
    #[error("crc32 not match")]
    Crc32Mismatch {
        /// `bodyCrc32` from the header.
        expected: i32,
        /// Masked crc32 of the body received.
        computed: i32,
    },
    /// REGISTER_BROKER refused by the route table.
    #[error("register broker failed")]
    RegisterRefused(#[from] RegisterError),
    /// The request is turned off by configuration (`enableAllTopicList`, `enableTopicList`).
    #[error("disable")]
    Disabled,
    /// `needWaitForService` and the start-up wait is not over.
    #[error("name server not ready")]
    NotReady,
    /// The KV config could not be persisted; nothing changed.
    #[error(transparent)]
    KvConfig(#[from] KvConfigError),
    /// UPDATE_NAMESRV_CONFIG names a black-listed key.
    #[error("Can not update config in black list.")]
    ConfigBlackListed {
        /// The key.
        key: String,
    },
    /// UPDATE_NAMESRV_CONFIG cannot be applied; nothing changed.
    #[error(transparent)]
    ConfigUpdate(ConfigError),
    /// A text body is not UTF-8.
    #[error("{what} body is not UTF-8")]
    NotUtf8 {
        /// Which body.
        what: &'static str,
    },
}

impl RequestError {
    /// The wire response code of this error.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            RequestError::ConfigBlackListed { .. } => ResponseCode::NoPermission,
            RequestError::Header(_)
            | RequestError::Body { .. }
            | RequestError::MissingBody { .. }
            | RequestError::Crc32Mismatch { .. }
            | RequestError::RegisterRefused(_)
            | RequestError::Disabled
            | RequestError::NotReady
            | RequestError::KvConfig(_)
            | RequestError::ConfigUpdate(_)
            | RequestError::NotUtf8 { .. } => ResponseCode::SystemError,
        }
    }
}

impl From<ConfigError> for RequestError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::BlackListed { key } => RequestError::ConfigBlackListed { key },
            other => RequestError::ConfigUpdate(other),
        }
    }
}
