//! `PullConsumer`: a simple (lite-pull style) consumer: the caller picks queues and offsets
//! (`DefaultMQPullConsumer`, `PullAPIWrapper`, reference 2.2, 2.3, 7.3 and 7.4).
//!
//! Components:
//! - [`PullConsumer`]: queue discovery, PULL_MESSAGE, queue offsets (GET_MAX/MIN_OFFSET) and
//!   consumer offsets (QUERY/UPDATE_CONSUMER_OFFSET);
//! - [`PullOptions`], [`PullResult`], [`PullStatus`]: one pull's parameters and outcome.
//!
//! Invariants:
//! - pulls carry the SUBSCRIPTION flag with the expression in the header, so the broker needs
//!   no heartbeat-registered subscription; SUSPEND only when long polling is asked for;
//!   COMMIT_OFFSET only with a commit offset;
//! - status mapping: SUCCESS -> FOUND, PULL_NOT_FOUND -> NO_NEW_MSG, PULL_RETRY_IMMEDIATELY ->
//!   NO_MATCHED_MSG, PULL_OFFSET_MOVED -> OFFSET_ILLEGAL; any other code is an error;
//! - pulled bodies are inflated when compressed; with a tag expression, messages whose TAGS is
//!   not listed are dropped client-side (the broker filters by hash only);
//! - `max_nums` is capped at [`MAX_PULL_NUMS`]; a body is bounded by the 16 MiB frame limit.

use std::collections::BTreeSet;
use std::time::Duration;

use ferromq_protocol::body::MessageQueue;
use ferromq_protocol::header::consumer_offset::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader, GetMinOffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use ferromq_protocol::header::pull_message::{
    PullMessageRequestHeader, PullMessageResponseHeader, PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION,
    PULL_FLAG_SUSPEND,
};
use ferromq_protocol::header::{CommandHeader, HeaderError};
use ferromq_protocol::message::properties::{self, property_value};
use ferromq_protocol::message::sys_flag::{COMPRESSED, COMPRESSION_TYPE_MASK};
use ferromq_protocol::message::{count_records, decode_records, decompress_body, MessageRecord};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::instance::ClientInstance;
use crate::producer::request::now_ms;

/// Most messages one pull asks for (Java brokers return at most 32 from memory anyway).
pub const MAX_PULL_NUMS: i32 = 1024;
/// Largest body a compressed pulled message may inflate to.
pub const MAX_INFLATED_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Subscription expression matching every message.
pub const SUB_ALL: &str = "*";
/// Broker suspend time of a long-polled pull (`brokerSuspendMaxTimeMillis`, 20 s).
pub const DEFAULT_SUSPEND: Duration = Duration::from_secs(20);

/// Outcome class of one pull (`PullStatus.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullStatus {
    /// Messages were returned.
    Found,
    /// Nothing at or after the offset yet.
    NoNewMsg,
    /// Entries were scanned but none matched the subscription.
    NoMatchedMsg,
    /// The offset is outside the queue; restart from `next_begin_offset`.
    OffsetIllegal,
}

impl PullStatus {
    /// The status a PULL_MESSAGE response code means, or `None` for an error code.
    pub fn from_response_code(code: ResponseCode) -> Option<Self> {
        match code {
            ResponseCode::Success => Some(PullStatus::Found),
            ResponseCode::PullNotFound => Some(PullStatus::NoNewMsg),
            ResponseCode::PullRetryImmediately => Some(PullStatus::NoMatchedMsg),
            ResponseCode::PullOffsetMoved => Some(PullStatus::OffsetIllegal),
            _ => None,
        }
    }
}

/// Result of one pull (`PullResult.java`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullResult {
    /// Outcome class.
    pub status: PullStatus,
    /// Offset to pull from next.
    pub next_begin_offset: i64,
    /// Smallest offset of the queue.
    pub min_offset: i64,
    /// Offset after the queue's last message.
    pub max_offset: i64,
    /// Broker the broker suggests for the next pull (0 = master).
    pub suggest_which_broker_id: i64,
    /// The messages, in queue order (bodies inflated, filtered by tag).
    pub messages: Vec<MessageRecord>,
}

/// Parameters of one pull besides queue, offset and count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// Tag expression: `*` or `TagA || TagB`.
    pub subscription: String,
    /// Long polling: the broker holds the request up to this long when there is nothing new.
    pub suspend: Option<Duration>,
    /// Consumer offset to store on the broker with this pull (COMMIT_OFFSET flag).
    pub commit_offset: Option<i64>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            subscription: SUB_ALL.to_owned(),
            suspend: None,
            commit_offset: None,
        }
    }
}

/// A pull consumer of one consumer group.
#[derive(Debug, Clone)]
pub struct PullConsumer {
    instance: ClientInstance,
    group: String,
}

impl PullConsumer {
    /// Validates `config` and starts a consumer of `group` (route refresh task only; queues are
    /// the caller's to pick, so there is no rebalance). Must be called inside a tokio runtime.
    pub fn start(config: ClientConfig, group: impl Into<String>) -> Result<Self, ClientError> {
        let group = group.into();
        if group.is_empty() {
            return Err(ClientError::Config {
                field: "consumerGroup",
                reason: "must not be empty".to_owned(),
            });
        }
        let instance = ClientInstance::new(config)?;
        instance.start_route_refresh();
        Ok(PullConsumer { instance, group })
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The shared client machinery.
    pub fn instance(&self) -> &ClientInstance {
        &self.instance
    }

    /// The readable queues of `topic`, read from the name servers now (`fetchSubscribeMessageQueues`).
    pub async fn fetch_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        let route = self.instance.update_route(topic).await?;
        let queues = crate::route::subscribe_queues(topic, &route.data);
        if queues.is_empty() {
            return Err(ClientError::NoQueue {
                topic: topic.to_owned(),
                what: "readable",
            });
        }
        Ok(queues)
    }

    /// Pulls up to `max_nums` messages of `queue` from `offset`, without long polling.
    pub async fn pull(&self, queue: &MessageQueue, offset: i64, max_nums: i32) -> Result<PullResult, ClientError> {
        self.pull_with(queue, offset, max_nums, &PullOptions::default()).await
    }

    /// Pulls with explicit options (subscription, long polling, commit offset).
    pub async fn pull_with(
        &self,
        queue: &MessageQueue,
        offset: i64,
        max_nums: i32,
        options: &PullOptions,
    ) -> Result<PullResult, ClientError> {
        let addr = self.broker_addr(queue).await?;
        let mut sys_flag = PULL_FLAG_SUBSCRIPTION;
        if options.suspend.is_some() {
            sys_flag |= PULL_FLAG_SUSPEND;
        }
        if options.commit_offset.is_some() {
            sys_flag |= PULL_FLAG_COMMIT_OFFSET;
        }
        let suspend = options.suspend.unwrap_or(Duration::ZERO);
        let header = PullMessageRequestHeader {
            consumer_group: self.group.clone(),
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            queue_offset: offset,
            max_msg_nums: max_nums.clamp(1, MAX_PULL_NUMS),
            sys_flag,
            commit_offset: options.commit_offset.unwrap_or(0),
            suspend_timeout_millis: millis(suspend),
            subscription: Some(options.subscription.clone()),
            sub_version: now_ms(),
            expression_type: Some("TAG".to_owned()),
            max_msg_bytes: None,
            request_source: None,
            proxy_forward_client_id: None,
        };
        let config = self.instance.config();
        let timeout = match options.suspend {
            Some(suspend) => suspend + config.pull_suspend_margin,
            None => config.pull_timeout,
        };
        let request = self.instance.request(RequestCode::PullMessage).with_header(&header);
        let response = self.instance.invoke(&addr, request, timeout).await?;
        parse_pull_response(&addr, &response, &options.subscription, config.check_crc_on_pull)
    }

    /// GET_MAX_OFFSET: the offset after the queue's last message.
    pub async fn max_offset(&self, queue: &MessageQueue) -> Result<i64, ClientError> {
        let header = GetMaxOffsetRequestHeader {
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            committed: None,
        };
        let response = self.admin_call(queue, RequestCode::GetMaxOffset, &header).await?;
        decode_response_header::<GetMaxOffsetResponseHeader>(&response.1, RequestCode::GetMaxOffset, &response.0)
            .map(|h| h.offset)
    }

    /// GET_MIN_OFFSET: the queue's smallest offset still stored.
    pub async fn min_offset(&self, queue: &MessageQueue) -> Result<i64, ClientError> {
        let header = GetMinOffsetRequestHeader {
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
        };
        let response = self.admin_call(queue, RequestCode::GetMinOffset, &header).await?;
        decode_response_header::<GetMinOffsetResponseHeader>(&response.1, RequestCode::GetMinOffset, &response.0)
            .map(|h| h.offset)
    }

    /// QUERY_CONSUMER_OFFSET: the group's committed offset, `None` when the broker has none.
    pub async fn query_offset(&self, queue: &MessageQueue) -> Result<Option<i64>, ClientError> {
        let header = QueryConsumerOffsetRequestHeader {
            consumer_group: self.group.clone(),
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            set_zero_if_not_found: Some(false),
        };
        let addr = self.broker_addr(queue).await?;
        let request = self
            .instance
            .request(RequestCode::QueryConsumerOffset)
            .with_header(&header);
        let response = self
            .instance
            .invoke(&addr, request, self.instance.config().api_timeout)
            .await?;
        match response.response_code_enum() {
            ResponseCode::QueryNotFound => Ok(None),
            ResponseCode::Success => decode_response_header::<QueryConsumerOffsetResponseHeader>(
                &response,
                RequestCode::QueryConsumerOffset,
                &addr,
            )
            .map(|h| Some(h.offset)),
            code => Err(ClientError::Response {
                addr,
                code,
                remark: response.remark,
            }),
        }
    }

    /// UPDATE_CONSUMER_OFFSET, waiting for the broker's answer.
    pub async fn update_offset(&self, queue: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        let header = self.update_header(queue, offset);
        self.admin_call(queue, RequestCode::UpdateConsumerOffset, &header)
            .await
            .map(|_| ())
    }

    /// UPDATE_CONSUMER_OFFSET as ONEWAY, as Java's offset persister sends it.
    pub async fn update_offset_oneway(&self, queue: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        let header = self.update_header(queue, offset);
        let addr = self.broker_addr(queue).await?;
        let request = self
            .instance
            .request(RequestCode::UpdateConsumerOffset)
            .with_header(&header);
        self.instance
            .invoke_oneway(&addr, request, self.instance.config().api_timeout)
            .await
    }

    /// Stops the route refresh and closes connections.
    pub fn shutdown(&self) {
        self.instance.shutdown();
    }

    fn update_header(&self, queue: &MessageQueue, offset: i64) -> UpdateConsumerOffsetRequestHeader {
        UpdateConsumerOffsetRequestHeader {
            consumer_group: self.group.clone(),
            topic: queue.topic.clone(),
            queue_id: queue.queue_id,
            commit_offset: offset,
        }
    }

    /// A request that must answer SUCCESS; returns (broker address, response).
    async fn admin_call<H: CommandHeader>(
        &self,
        queue: &MessageQueue,
        code: RequestCode,
        header: &H,
    ) -> Result<(String, RemotingCommand), ClientError> {
        let addr = self.broker_addr(queue).await?;
        let request = self.instance.request(code).with_header(header);
        let response = self
            .instance
            .invoke(&addr, request, self.instance.config().api_timeout)
            .await?;
        if response.code != ResponseCode::Success.as_i32() {
            return Err(ClientError::Response {
                addr,
                code: response.response_code_enum(),
                remark: response.remark,
            });
        }
        Ok((addr, response))
    }

    /// The master of the queue's broker, reading the topic's route if the broker is unknown.
    async fn broker_addr(&self, queue: &MessageQueue) -> Result<String, ClientError> {
        if let Some(addr) = self.instance.routes().master_addr(&queue.broker_name) {
            return Ok(addr);
        }
        self.instance.update_route(&queue.topic).await?;
        self.instance
            .routes()
            .master_addr(&queue.broker_name)
            .ok_or_else(|| ClientError::BrokerNotFound {
                broker_name: queue.broker_name.clone(),
                topic: queue.topic.clone(),
            })
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn decode_response_header<H: CommandHeader>(
    response: &RemotingCommand,
    code: RequestCode,
    addr: &str,
) -> Result<H, ClientError> {
    H::decode(&response.ext_fields).map_err(|source: HeaderError| ClientError::Header {
        request_code: code.as_i32(),
        addr: addr.to_owned(),
        source,
    })
}

/// Tags of a TAG expression; empty for `*` (`FilterAPI.buildSubscriptionData`).
pub fn expression_tags(expression: &str) -> BTreeSet<String> {
    let expression = expression.trim();
    if expression.is_empty() || expression == SUB_ALL {
        return BTreeSet::new();
    }
    expression
        .split("||")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Turns a PULL_MESSAGE response into a [`PullResult`] (`processPullResponse` +
/// `processPullResult`).
pub fn parse_pull_response(
    addr: &str,
    response: &RemotingCommand,
    subscription: &str,
    check_crc: bool,
) -> Result<PullResult, ClientError> {
    let code = response.response_code_enum();
    let Some(status) = PullStatus::from_response_code(code) else {
        return Err(ClientError::Response {
            addr: addr.to_owned(),
            code,
            remark: response.remark.clone(),
        });
    };
    let header: PullMessageResponseHeader = decode_response_header(response, RequestCode::PullMessage, addr)?;
    let mut messages = Vec::new();
    if status == PullStatus::Found {
        let tags = expression_tags(subscription);
        // One segment (the received frame's tail): a zero-copy view, records are slices of it.
        let body = response.body.to_bytes();
        messages.reserve_exact(count_records(&body));
        for record in decode_records(&body, check_crc) {
            let mut record = record?;
            if !tags.is_empty() {
                let tag = property_value(&record.properties, properties::TAGS);
                if !tag.is_some_and(|t| tags.contains(t)) {
                    continue;
                }
            }
            if record.sys_flag & COMPRESSED != 0 {
                record.body = decompress_body(&record.body, record.sys_flag, MAX_INFLATED_BODY_BYTES)?;
                record.sys_flag &= !(COMPRESSED | COMPRESSION_TYPE_MASK);
            }
            messages.push(record);
        }
    }
    Ok(PullResult {
        status,
        next_begin_offset: header.next_begin_offset,
        min_offset: header.min_offset,
        max_offset: header.max_offset,
        suggest_which_broker_id: header.suggest_which_broker_id,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use ferromq_protocol::message::compress::compress_body;
    use ferromq_protocol::message::{encode_record, DEFAULT_MAX_MESSAGE_BYTES};

    fn response(code: ResponseCode, body: Bytes) -> RemotingCommand {
        let request = RemotingCommand::request(RequestCode::PullMessage);
        let mut response = RemotingCommand::response_to(&request, code).with_body(body);
        response.put_ext_field("suggestWhichBrokerId", "0");
        response.put_ext_field("nextBeginOffset", "12");
        response.put_ext_field("minOffset", "0");
        response.put_ext_field("maxOffset", "20");
        response
    }

    fn record(offset: i64, tags: &str, body: &[u8], sys_flag: i32) -> MessageRecord {
        let mut record = MessageRecord::new("T", Bytes::copy_from_slice(body));
        record.queue_offset = offset;
        record.sys_flag = sys_flag;
        record.properties = format!("TAGS\u{1}{tags}\u{2}");
        record
    }

    #[test]
    fn pull_codes_map_to_statuses_and_other_codes_are_errors() {
        // Goal: the four pull codes map as in PullAPIWrapper; e.g. SUBSCRIPTION_NOT_EXIST is an
        // error. Method: empty-body responses with each code.
        for (code, status) in [
            (ResponseCode::Success, PullStatus::Found),
            (ResponseCode::PullNotFound, PullStatus::NoNewMsg),
            (ResponseCode::PullRetryImmediately, PullStatus::NoMatchedMsg),
            (ResponseCode::PullOffsetMoved, PullStatus::OffsetIllegal),
        ] {
            let result = parse_pull_response("b:1", &response(code, Bytes::new()), "*", false).unwrap();
            assert_eq!(result.status, status);
            assert_eq!(
                (result.next_begin_offset, result.min_offset, result.max_offset),
                (12, 0, 20)
            );
            assert!(result.messages.is_empty());
        }
        let error = parse_pull_response("b:1", &response(ResponseCode::from_i32(24), Bytes::new()), "*", false);
        assert!(matches!(error, Err(ClientError::Response { .. })));
    }

    #[test]
    fn found_body_decodes_inflates_and_filters_by_tag() {
        // Goal: a FOUND body of back-to-back records decodes in order; a compressed body is
        // inflated; a tag expression drops other tags. Method: encode three records.
        let (compressed, flag) = compress_body(&[b'z'; 6000], 0, 5).unwrap();
        let mut body = BytesMut::new();
        for r in [
            record(10, "A", b"one", 0),
            record(11, "B", b"two", 0),
            record(12, "A", &compressed, flag),
        ] {
            encode_record(&r, DEFAULT_MAX_MESSAGE_BYTES, &mut body).unwrap();
        }
        let body = body.freeze();
        let all = parse_pull_response("b:1", &response(ResponseCode::Success, body.clone()), "*", true).unwrap();
        assert_eq!(all.messages.len(), 3);
        assert_eq!(all.messages[1].body, Bytes::from_static(b"two"));
        assert_eq!(all.messages[2].body, Bytes::from(vec![b'z'; 6000]));
        assert_eq!(all.messages[2].sys_flag & COMPRESSED, 0);
        let only_a = parse_pull_response("b:1", &response(ResponseCode::Success, body), "A || C", true).unwrap();
        let offsets: Vec<i64> = only_a.messages.iter().map(|m| m.queue_offset).collect();
        assert_eq!(offsets, vec![10, 12]);
    }

    #[test]
    fn corrupt_pull_body_is_an_error_not_a_panic() {
        // Goal: a truncated record is a Message error. Method: cut an encoded record short.
        let mut body = BytesMut::new();
        encode_record(&record(0, "A", b"abc", 0), DEFAULT_MAX_MESSAGE_BYTES, &mut body).unwrap();
        let cut = body.freeze().slice(..50);
        let result = parse_pull_response("b:1", &response(ResponseCode::Success, cut), "*", false);
        assert!(matches!(result, Err(ClientError::Message(_))));
    }

    #[test]
    fn tag_expressions_split_on_double_bars() {
        // Goal: "*" and "" mean all; "A || B" means {A, B}.
        assert!(expression_tags("*").is_empty());
        assert!(expression_tags(" ").is_empty());
        assert_eq!(
            expression_tags("A || B ||"),
            ["A", "B"].iter().map(|s| s.to_string()).collect()
        );
    }
}
