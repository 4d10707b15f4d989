//! `BrokerError`: every way a request or the broker itself can fail, and
//! [`BrokerError::response_code`], the one place where failures become RocketMQ response codes.
//!
//! The `Display` text is what goes into the response's `remark`; it follows Java's wording where
//! clients or operators might recognise it (`[REJECTREQUEST]system busy, ...`,
//! `topic[T] not exist, apply first please!`).

use std::io;
use std::path::PathBuf;

use ferromq_protocol::body::BodyError;
use ferromq_protocol::header::HeaderError;
use ferromq_protocol::message::MessageError;
use ferromq_protocol::ResponseCode;
use ferromq_remoting::RemotingError;
use ferromq_store::StoreError;
use thiserror::Error;

use crate::validate::NameError;

/// Why the broker refused a request with SYSTEM_BUSY (Java's flow-control remark prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyReason {
    /// A put has held the store for longer than `osPageCacheBusyTimeOutMills` (`[REJECTREQUEST]`).
    RejectRequest,
    /// The send queue is full (`[OVERLOAD]`).
    Overload,
    /// The request waited in the send queue longer than `waitTimeMillsInSendQueue`
    /// (`[TIMEOUT_CLEAN_QUEUE]`).
    TimeoutCleanQueue,
    /// The store stayed busy while the request was queued (`[PC_SYNCHRONIZED]`).
    PageCacheSynchronized,
}

/// A broker failure. Variants carry the data needed for the remark.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// A required header field is missing or malformed (Java: RemotingCommandException).
    #[error("{0}")]
    Header(#[from] HeaderError),
    /// A JSON body could not be decoded.
    #[error("invalid body: {0}")]
    Body(#[from] BodyError),
    /// A batch body could not be decoded.
    #[error("the message is illegal: {0}")]
    Message(#[from] MessageError),
    /// A topic name breaks the naming rules (send path).
    #[error("the specified topic[{topic}] is invalid: {reason}")]
    TopicNameInvalid {
        /// The name.
        topic: String,
        /// The broken rule.
        reason: NameError,
    },
    /// A client tried to send to a reserved system topic.
    #[error("sending message to topic[{topic}] is forbidden")]
    TopicForbidden {
        /// The topic.
        topic: String,
    },
    /// The topic does not exist (and could not be auto-created).
    #[error("topic[{topic}] not exist, apply first please!")]
    TopicNotExist {
        /// The topic.
        topic: String,
    },
    /// The topic (or the broker) has no write permission.
    #[error("the topic[{topic}] sending message is forbidden")]
    TopicNotWritable {
        /// The topic.
        topic: String,
    },
    /// The topic has no read permission.
    #[error("the topic[{topic}] pulling message is forbidden")]
    TopicNotReadable {
        /// The topic.
        topic: String,
    },
    /// The broker's permission forbids writes.
    #[error("the broker[{addr}] sending message is forbidden")]
    BrokerNotWritable {
        /// The broker address.
        addr: String,
    },
    /// The broker's permission forbids reads.
    #[error("the broker[{addr}] pulling message is forbidden")]
    BrokerNotReadable {
        /// The broker address.
        addr: String,
    },
    /// A send named a queue the topic does not have.
    #[error("request queueId[{queue_id}] is illegal, topic[{topic}] has {queue_nums} queues, producer: {peer}")]
    SendQueueIdInvalid {
        /// The topic.
        topic: String,
        /// Requested queue.
        queue_id: i32,
        /// Queues of the topic.
        queue_nums: i32,
        /// The producer's address.
        peer: String,
    },
    /// A pull or offset request named a queue the topic does not have.
    #[error("queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{queue_nums}]")]
    QueueIdInvalid {
        /// The topic.
        topic: String,
        /// Requested queue.
        queue_id: i32,
        /// Readable queues of the topic.
        queue_nums: i32,
    },
    /// A message body is over `maxMessageSize`.
    #[error("the message body size {size} exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Body bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A message's properties string is over 32767 bytes.
    #[error("the message properties size {size} exceeds the limit of {max} bytes")]
    PropertiesTooLarge {
        /// Properties bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A batch breaks a batch rule (retry topic, topic too long, empty).
    #[error("illegal batch: {reason}")]
    IllegalBatch {
        /// The rule.
        reason: &'static str,
    },
    /// Transactional messages are not supported (or refused by `rejectTransactionMessage`).
    #[error("the broker[{addr}] sending transaction message is forbidden")]
    TransactionForbidden {
        /// The broker address.
        addr: String,
    },
    /// The consumer group does not exist (and may not be auto-created).
    #[error("subscription group [{group}] does not exist")]
    SubscriptionGroupNotExist {
        /// The group.
        group: String,
    },
    /// The consumer group may not consume (consumeEnable false, or broadcast not allowed).
    #[error("subscription group [{group}] no permission")]
    SubscriptionGroupForbidden {
        /// The group.
        group: String,
    },
    /// The subscription in a pull header cannot be parsed.
    #[error("parse the consumer's subscription[{expression}] failed")]
    SubscriptionParseFailed {
        /// The expression.
        expression: String,
    },
    /// No heartbeat-registered subscription for the group (or the topic).
    #[error("the consumer's subscription not exist, group: {group}, topic: {topic}")]
    SubscriptionNotExist {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
    },
    /// The registered subscription is older than the pull's.
    #[error("the consumer's subscription not latest, group: {group}, topic: {topic}")]
    SubscriptionNotLatest {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
    },
    /// A filter type FerroMQ does not evaluate (SQL92, class filter).
    #[error("The broker does not support consumer to filter message by {expression_type}")]
    FilterNotSupported {
        /// The expression type.
        expression_type: String,
    },
    /// No consumer of the group is connected.
    #[error("no consumer for this group, {group}")]
    NoConsumerInGroup {
        /// The group.
        group: String,
    },
    /// No consumer of the group is connected (admin connection list).
    #[error("the consumer group[{group}] not online")]
    ConsumerNotOnline {
        /// The group.
        group: String,
    },
    /// No producer of the group is connected.
    #[error("the producer group[{group}] not exist")]
    ProducerGroupNotExist {
        /// The group.
        group: String,
    },
    /// No readable message at a CommitLog offset.
    #[error("can not find message by the offset, {phy_offset}")]
    MessageNotFound {
        /// The offset.
        phy_offset: i64,
    },
    /// A query found nothing (QUERY_CONSUMER_OFFSET, QUERY_MESSAGE).
    #[error("{what}")]
    QueryNotFound {
        /// Java's remark.
        what: &'static str,
    },
    /// An admin request carries an unusable value.
    #[error("invalid parameter: {reason}")]
    InvalidParameter {
        /// Why.
        reason: String,
    },
    /// An admin request tried to change a system topic.
    #[error("the topic[{topic}] is conflict with system topic")]
    SystemTopicConflict {
        /// The topic.
        topic: String,
    },
    /// UPDATE_BROKER_CONFIG tried to change a key that cannot change at runtime.
    #[error("can not update config {key} at runtime")]
    ConfigKeyForbidden {
        /// The key.
        key: String,
    },
    /// UPDATE_BROKER_CONFIG could not write the change to `brokerConfigPath`; nothing changed.
    #[error("config change not applied: {reason}")]
    ConfigPersist {
        /// What failed.
        reason: String,
    },
    /// The broker is overloaded; the remark carries Java's flow-control prefix.
    #[error("{}", busy_remark(*.reason, *.waited_ms, *.queue_len))]
    SystemBusy {
        /// Which rule fired.
        reason: BusyReason,
        /// Time spent queued, ms (for `[TIMEOUT_CLEAN_QUEUE]`).
        waited_ms: u64,
        /// Requests queued at the time.
        queue_len: usize,
    },
    /// The store refused or failed an operation.
    #[error("{}", store_remark(.0))]
    Store(#[from] StoreError),
    /// The message was appended but its fsync failed: durability unknown, so the producer is
    /// told to retry (the store refuses further writes).
    #[error("service not available now: the message store failed to flush to disk")]
    FlushFailed,
    /// A put that must be confirmed durable (send-back) was not (Java answers the status name).
    #[error("{status}")]
    PutNotConfirmed {
        /// Java's PutMessageStatus name.
        status: &'static str,
    },
    /// The broker is shutting down.
    #[error("the broker is shutting down")]
    ShuttingDown,
    /// A configuration value cannot work; names the RocketMQ key.
    #[error("invalid config {key}: {reason}")]
    InvalidConfig {
        /// The RocketMQ key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// A config file under `<storePathRootDir>/config` could not be read or written.
    #[error("config file {path}: {source}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A config file holds JSON of the wrong shape (and so does its `.bak`).
    #[error("config file {path} is corrupt: {reason}")]
    ConfigFileCorrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The remoting layer failed (bind, serve).
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// Socket setup failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

fn busy_remark(reason: BusyReason, waited_ms: u64, queue_len: usize) -> String {
    match reason {
        BusyReason::RejectRequest => "[REJECTREQUEST]system busy, start flow control for a while".to_owned(),
        BusyReason::Overload => "[OVERLOAD]system busy, start flow control for a while".to_owned(),
        BusyReason::TimeoutCleanQueue => format!(
            "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: {waited_ms}ms, \
             size of queue: {queue_len}"
        ),
        BusyReason::PageCacheSynchronized => "[PC_SYNCHRONIZED]broker busy, start flow control for a while".to_owned(),
    }
}

fn store_remark(error: &StoreError) -> String {
    match error {
        StoreError::DiskFull { .. } | StoreError::NotAvailable(_) => format!(
            "service not available now: {error}. It may be caused by the broker's disk being full, or the \
             message store being shut down or failed"
        ),
        StoreError::CreateMappedFileFailed { .. } => {
            format!("create mapped file failed, server is busy or broken: {error}")
        }
        StoreError::MessageTooLarge { .. } | StoreError::Encode(_) => {
            format!("the message is illegal, maybe msg body or properties length not matched: {error}")
        }
        _ => error.to_string(),
    }
}

impl BrokerError {
    /// The RocketMQ response code for this failure — the only mapping from errors to codes.
    pub fn response_code(&self) -> ResponseCode {
        use BrokerError as E;
        match self {
            E::Header(_) | E::Body(_) => ResponseCode::SystemError,
            E::Message(_) | E::MessageTooLarge { .. } | E::PropertiesTooLarge { .. } | E::IllegalBatch { .. } => {
                ResponseCode::MessageIllegal
            }
            // Java's validateTopic answers SYSTEM_ERROR on the send path.
            E::TopicNameInvalid { .. } => ResponseCode::SystemError,
            E::TopicForbidden { .. }
            | E::TopicNotWritable { .. }
            | E::TopicNotReadable { .. }
            | E::BrokerNotWritable { .. }
            | E::BrokerNotReadable { .. }
            | E::TransactionForbidden { .. }
            | E::SubscriptionGroupForbidden { .. }
            | E::ConfigKeyForbidden { .. } => ResponseCode::NoPermission,
            E::TopicNotExist { .. } => ResponseCode::TopicNotExist,
            E::SendQueueIdInvalid { .. } => ResponseCode::SystemError,
            E::QueueIdInvalid { .. } | E::InvalidParameter { .. } | E::SystemTopicConflict { .. } => {
                ResponseCode::InvalidParameter
            }
            E::SubscriptionGroupNotExist { .. } => ResponseCode::SubscriptionGroupNotExist,
            E::SubscriptionParseFailed { .. } => ResponseCode::SubscriptionParseFailed,
            E::SubscriptionNotExist { .. } => ResponseCode::SubscriptionNotExist,
            E::SubscriptionNotLatest { .. } => ResponseCode::SubscriptionNotLatest,
            E::FilterNotSupported { .. } => ResponseCode::SystemError,
            E::NoConsumerInGroup { .. }
            | E::ProducerGroupNotExist { .. }
            | E::MessageNotFound { .. }
            | E::PutNotConfirmed { .. } => ResponseCode::SystemError,
            E::ConsumerNotOnline { .. } => ResponseCode::ConsumerNotOnline,
            E::QueryNotFound { .. } => ResponseCode::QueryNotFound,
            E::SystemBusy { .. } => ResponseCode::SystemBusy,
            E::Store(store) => match store {
                StoreError::DiskFull { .. } | StoreError::NotAvailable(_) => ResponseCode::ServiceNotAvailable,
                StoreError::MessageTooLarge { .. } | StoreError::Encode(_) => ResponseCode::MessageIllegal,
                StoreError::InvalidTopic { .. } => ResponseCode::InvalidParameter,
                _ => ResponseCode::SystemError,
            },
            E::ShuttingDown | E::FlushFailed => ResponseCode::ServiceNotAvailable,
            E::InvalidConfig { .. } => ResponseCode::InvalidParameter,
            E::ConfigFile { .. }
            | E::ConfigFileCorrupt { .. }
            | E::ConfigPersist { .. }
            | E::Remoting(_)
            | E::Io(_) => ResponseCode::SystemError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the busy remarks carry Java's prefixes, which operators grep for. Method: format each.
    #[test]
    fn busy_remarks_carry_java_prefixes() {
        let cases = [
            (BusyReason::RejectRequest, "[REJECTREQUEST]"),
            (BusyReason::Overload, "[OVERLOAD]"),
            (BusyReason::TimeoutCleanQueue, "[TIMEOUT_CLEAN_QUEUE]"),
            (BusyReason::PageCacheSynchronized, "[PC_SYNCHRONIZED]"),
        ];
        for (reason, prefix) in cases {
            let error = BrokerError::SystemBusy {
                reason,
                waited_ms: 250,
                queue_len: 3,
            };
            assert!(error.to_string().starts_with(prefix), "{error}");
            assert_eq!(error.response_code(), ResponseCode::SystemBusy);
        }
    }

    // Goal: a full disk is a clear SERVICE_NOT_AVAILABLE. Method: map the store error.
    #[test]
    fn disk_full_maps_to_service_not_available_with_a_clear_remark() {
        let error = BrokerError::Store(StoreError::DiskFull {
            used_ratio_percent: 97,
            limit_percent: 90,
        });
        assert_eq!(error.response_code(), ResponseCode::ServiceNotAvailable);
        assert!(error.to_string().contains("disk full"), "{error}");
    }

    // Goal: codes clients act on are right. Method: spot-check the mapping.
    #[test]
    fn client_visible_codes_match_rocketmq() {
        let topic = || "T".to_owned();
        assert_eq!(
            BrokerError::TopicNotExist { topic: topic() }.response_code(),
            ResponseCode::TopicNotExist
        );
        assert_eq!(
            BrokerError::TopicForbidden { topic: topic() }.response_code(),
            ResponseCode::NoPermission
        );
        assert_eq!(
            BrokerError::MessageTooLarge { size: 2, max: 1 }.response_code(),
            ResponseCode::MessageIllegal
        );
        assert_eq!(
            BrokerError::SubscriptionNotExist {
                group: "g".into(),
                topic: topic()
            }
            .response_code(),
            ResponseCode::SubscriptionNotExist
        );
        assert_eq!(
            BrokerError::Header(HeaderError::MissingField { field: "topic" }).response_code(),
            ResponseCode::SystemError
        );
    }
}
