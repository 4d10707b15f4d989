//! `ClientError`: why a client operation failed, and which failures a producer retries.

use ferromq_protocol::body::BodyError;
use ferromq_protocol::header::HeaderError;
use ferromq_protocol::message::MessageError;
use ferromq_protocol::ResponseCode;
use ferromq_remoting::RemotingError;

/// Failure of a producer, consumer or route operation.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A setting cannot work (named by its RocketMQ key).
    #[error("invalid client setting {field}: {reason}")]
    Config {
        /// The setting, e.g. `namesrvAddr`.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The request could not be delivered or no response came back (connect, timeout, closed).
    #[error("request to {addr} failed: {source}")]
    Remoting {
        /// `host:port` the request was for.
        addr: String,
        /// The transport failure.
        #[source]
        source: RemotingError,
    },
    /// The server answered with a code that is not a success for this request.
    #[error("{addr} answered {code}: {}", remark.as_deref().unwrap_or(""))]
    Response {
        /// The server's address.
        addr: String,
        /// The response code.
        code: ResponseCode,
        /// The server's error text.
        remark: Option<String>,
    },
    /// No name server knows the topic (and, for producers, no TBW102 route exists either).
    #[error("topic {topic} does not exist on the name servers")]
    TopicNotExist {
        /// The topic.
        topic: String,
    },
    /// The topic's route has no queue usable for this operation (no writable master queue to
    /// produce to, or no readable queue to consume from).
    #[error("topic {topic} has no {what} queue in its route")]
    NoQueue {
        /// The topic.
        topic: String,
        /// `writable` or `readable`.
        what: &'static str,
    },
    /// The route names a broker without a master address.
    #[error("broker {broker_name} has no master address in the route of {topic}")]
    BrokerNotFound {
        /// The broker name.
        broker_name: String,
        /// The topic whose route was used.
        topic: String,
    },
    /// A response lacks a required header field or has a malformed one.
    #[error("response to request {request_code} from {addr}: {source}")]
    Header {
        /// The request's code.
        request_code: i32,
        /// The server's address.
        addr: String,
        /// What was wrong.
        #[source]
        source: HeaderError,
    },
    /// A JSON body (route, ...) could not be decoded.
    #[error("body of response to request {request_code} from {addr}: {source}")]
    Body {
        /// The request's code.
        request_code: i32,
        /// The server's address.
        addr: String,
        /// What was wrong.
        #[source]
        source: BodyError,
    },
    /// A message could not be encoded, or a pulled message could not be decoded.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The message breaks a client rule (checked before anything is sent, as Java's
    /// `Validators.checkMessage`).
    #[error("invalid message: {reason}")]
    InvalidMessage {
        /// Which rule.
        reason: String,
    },
    /// Every attempt of a send failed; `last` is the last attempt's error.
    #[error("send to {topic} failed after {attempts} attempts in {elapsed_ms} ms (brokers {brokers:?}): {last}")]
    SendFailed {
        /// The topic.
        topic: String,
        /// Attempts made.
        attempts: u32,
        /// Brokers tried, in order.
        brokers: Vec<String>,
        /// Time spent.
        elapsed_ms: u64,
        /// The last attempt's error.
        #[source]
        last: Box<ClientError>,
    },
    /// The send timeout ran out before an attempt could start (Java's "sendDefaultImpl call timeout").
    #[error("send to {topic} timed out after {timeout_ms} ms ({attempts} attempts)")]
    SendTimeout {
        /// The topic.
        topic: String,
        /// The send timeout.
        timeout_ms: u64,
        /// Attempts made before the budget ran out.
        attempts: u32,
    },
    /// The producer or consumer was shut down.
    #[error("client is shut down")]
    Shutdown,
}

/// Broker response codes after which a producer retries on another queue (Java's
/// `DefaultMQProducer.retryResponseCodes`, reference 8 step 3).
pub const RETRY_RESPONSE_CODES: [ResponseCode; 8] = [
    ResponseCode::SystemError,
    ResponseCode::SystemBusy,
    ResponseCode::ServiceNotAvailable,
    ResponseCode::NoPermission,
    ResponseCode::TopicNotExist,
    ResponseCode::NoBuyerId,
    ResponseCode::NotInCurrentUnit,
    ResponseCode::GoAway,
];

impl ClientError {
    /// True when a send that failed this way should be retried on another queue: every
    /// transport failure, a retry code from the broker, or a broker missing from the route
    /// (Java retries `RemotingException`, `MQClientException` and those broker codes).
    pub fn is_send_retryable(&self) -> bool {
        match self {
            ClientError::Remoting { .. } | ClientError::BrokerNotFound { .. } => true,
            ClientError::Response { code, .. } => RETRY_RESPONSE_CODES.contains(code),
            _ => false,
        }
    }

    /// The broker's response code, if this is a broker answer.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            ClientError::Response { code, .. } => Some(*code),
            ClientError::SendFailed { last, .. } => last.response_code(),
            _ => None,
        }
    }

    /// True when no response came back (transport failure or timeout), as opposed to a broker
    /// that answered with an error code.
    pub fn is_transport(&self) -> bool {
        match self {
            ClientError::Remoting { .. } | ClientError::SendTimeout { .. } => true,
            ClientError::SendFailed { last, .. } => last.is_transport(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_codes_are_exactly_javas_list() {
        // Goal: the retry set is 1, 2, 14, 16, 17, 204, 205, 1500 and nothing else.
        // Method: check the numbers and a few codes that must not retry.
        let numbers: Vec<i32> = RETRY_RESPONSE_CODES.iter().map(|c| c.as_i32()).collect();
        assert_eq!(numbers, vec![1, 2, 14, 16, 17, 204, 205, 1500]);
        let response = |code: i32| ClientError::Response {
            addr: "b:1".into(),
            code: ResponseCode::from_i32(code),
            remark: None,
        };
        assert!(response(2).is_send_retryable());
        assert!(!response(13).is_send_retryable()); // MESSAGE_ILLEGAL
        assert!(!response(3).is_send_retryable());
        assert!(!ClientError::Shutdown.is_send_retryable());
    }
}
