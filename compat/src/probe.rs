//! Direct broker queries: observable state for tests to wait on and assert against.
//!
//! [`Probe`] wraps a started client instance of its own (no producer or consumer registered, so
//! it joins no group and takes part in no rebalance) and issues single requests through the
//! client's instance API: topic route (GET_ROUTEINFO_BY_TOPIC), max offset (GET_MAX_OFFSET),
//! committed consumer offset (QUERY_CONSUMER_OFFSET) and raw pulls (PULL_MESSAGE) — raw pulls are
//! not filtered again by the client, so they show what the broker itself returns.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use rocketmq_client_rust::ClientInstanceHandle;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::result::{PullOutcome, PullStatus};
use rocketmq_protocol::protocol::header::pull_message_request_header::PullMessageRequestHeader;
use rocketmq_protocol::protocol::header::query_consumer_offset_request_header::QueryConsumerOffsetRequestHeader;

/// Timeout of each probe request.
pub const PROBE_TIMEOUT_MS: u64 = 3000;
/// RocketMQ PullSysFlag bit: the request carries its own subscription expression.
const PULL_FLAG_SUBSCRIPTION: i32 = 1 << 2;
/// Messages per raw pull.
const RAW_PULL_BATCH: i32 = 32;

/// One queue of a topic on one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub broker_addr: String,
    pub broker_name: String,
    pub queue_id: i32,
}

/// A consumer group's progress on one queue.
#[derive(Debug, Clone)]
pub struct QueueProgress {
    pub queue: QueueRef,
    /// Committed offset, or the broker's error (e.g. QUERY_NOT_FOUND before the first commit).
    pub committed: std::result::Result<i64, String>,
    pub max_offset: i64,
}

impl QueueProgress {
    /// The group has consumed everything stored in this queue.
    pub fn caught_up(&self) -> bool {
        match &self.committed {
            Ok(offset) => *offset == self.max_offset,
            Err(_) => self.max_offset == 0,
        }
    }
}

/// What [`Probe::pull_all`] got from one queue.
pub struct RawPull {
    pub queue_id: i32,
    /// The queue's max offset when the pull started.
    pub max_offset: i64,
    pub messages: Vec<MessageExt>,
    /// One line per PULL_MESSAGE round: offset, status, message count, next begin offset.
    pub rounds: Vec<String>,
}

impl std::fmt::Display for RawPull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "queue {} (max offset {}): {}",
            self.queue_id,
            self.max_offset,
            self.rounds.join(", ")
        )
    }
}

/// Client instance used for direct broker queries.
pub struct Probe {
    handle: ClientInstanceHandle,
}

impl Probe {
    pub(crate) fn new(handle: ClientInstanceHandle) -> Self {
        Self { handle }
    }

    /// The readable queues of `topic`, from the name server's route.
    pub async fn queues(&self, topic: &str) -> Result<Vec<QueueRef>> {
        let route = self
            .handle
            .topic_route(topic, PROBE_TIMEOUT_MS)
            .await
            .map_err(|e| anyhow!("route of {topic}: {e}"))?
            .ok_or_else(|| anyhow!("no route for {topic}"))?;
        let mut queues = Vec::new();
        for queue_data in &route.queue_datas {
            let broker = route
                .broker_datas
                .iter()
                .find(|b| b.broker_name() == &queue_data.broker_name)
                .ok_or_else(|| anyhow!("route of {topic} names broker {} without data", queue_data.broker_name))?;
            let addr = broker
                .broker_addrs()
                .get(&0)
                .ok_or_else(|| anyhow!("broker {} has no master address", queue_data.broker_name))?;
            for queue_id in 0..queue_data.read_queue_nums {
                queues.push(QueueRef {
                    broker_addr: addr.to_string(),
                    broker_name: queue_data.broker_name.to_string(),
                    queue_id: i32::try_from(queue_id)?,
                });
            }
        }
        if queues.is_empty() {
            bail!("route of {topic} has no readable queue");
        }
        Ok(queues)
    }

    /// The queue's max offset (one past its last entry).
    pub async fn max_offset(&self, topic: &str, queue: &QueueRef) -> Result<i64> {
        let mq = MessageQueue::from_parts(topic, queue.broker_name.as_str(), queue.queue_id);
        self.handle
            .max_offset(&queue.broker_addr, &mq, PROBE_TIMEOUT_MS)
            .await
            .map_err(|e| anyhow!("max offset of {topic}/{}: {e}", queue.queue_id))
    }

    /// The group's committed offset on the queue, or the broker's error text.
    pub async fn committed_offset(
        &self,
        group: &str,
        topic: &str,
        queue: &QueueRef,
    ) -> std::result::Result<i64, String> {
        let header = QueryConsumerOffsetRequestHeader::new(group, topic, queue.queue_id);
        self.handle
            .query_consumer_offset(&queue.broker_addr, header, PROBE_TIMEOUT_MS)
            .await
            .map_err(|e| e.to_string())
    }

    /// The group's progress on every queue of the topic.
    pub async fn progress(&self, group: &str, topic: &str) -> Result<Vec<QueueProgress>> {
        let mut out = Vec::new();
        for queue in self.queues(topic).await? {
            let max_offset = self.max_offset(topic, &queue).await?;
            let committed = self.committed_offset(group, topic, &queue).await;
            out.push(QueueProgress {
                queue,
                committed,
                max_offset,
            });
        }
        Ok(out)
    }

    /// Waits until the group's committed offset equals the max offset on every queue.
    ///
    /// Returns the final progress; fails with the last observed progress at the deadline.
    pub async fn wait_caught_up(&self, group: &str, topic: &str, timeout: Duration) -> Result<Vec<QueueProgress>> {
        let last: Mutex<Option<Result<Vec<QueueProgress>>>> = Mutex::new(None);
        let done = crate::wait::until(timeout, || async {
            let progress = self.progress(group, topic).await;
            let value = match &progress {
                Ok(p) if p.iter().all(QueueProgress::caught_up) => Some(p.clone()),
                _ => None,
            };
            *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(progress);
            value
        })
        .await;
        let last = last.into_inner().unwrap_or_else(|p| p.into_inner());
        match done {
            Some(progress) => Ok(progress),
            None => bail!(
                "group {group} did not commit up to the max offset of every {topic} queue within {timeout:?}; \
                 last progress: {last:#?}"
            ),
        }
    }

    /// Pulls the whole queue from offset 0 with its own subscription expression (TAG type),
    /// following `next_begin_offset` until the max offset read at the start. Returns every
    /// message the broker sent, with a trace of the rounds for error messages.
    pub async fn pull_all(&self, group: &str, topic: &str, queue: &QueueRef, expression: &str) -> Result<RawPull> {
        let max_offset = self.max_offset(topic, queue).await?;
        let mut pulled = RawPull {
            queue_id: queue.queue_id,
            max_offset,
            messages: Vec::new(),
            rounds: Vec::new(),
        };
        let mut offset = 0i64;
        // Each round advances by at least one entry, so this bounds the loop.
        for _ in 0..=max_offset {
            if offset >= max_offset {
                return Ok(pulled);
            }
            let outcome = self.pull_once(group, topic, queue, expression, offset).await?;
            let next = i64::try_from(outcome.next_begin_offset())?;
            let status = outcome.pull_status();
            let count = outcome.messages().map_or(0, <[MessageExt]>::len);
            pulled
                .rounds
                .push(format!("@{offset}: {status:?} {count} msgs next {next}"));
            if !matches!(status, PullStatus::Found | PullStatus::NoMatchedMsg) {
                bail!(
                    "raw pull of {topic}/{} at {offset}: status {status:?}; {pulled}",
                    queue.queue_id
                );
            }
            if let Some(messages) = outcome.into_messages() {
                pulled.messages.extend(messages);
            }
            if next <= offset {
                bail!(
                    "raw pull of {topic}/{} at {offset} did not advance; {pulled}",
                    queue.queue_id
                );
            }
            offset = next;
        }
        bail!(
            "raw pull of {topic}/{} did not reach max offset {max_offset}; {pulled}",
            queue.queue_id
        )
    }

    async fn pull_once(
        &self,
        group: &str,
        topic: &str,
        queue: &QueueRef,
        expression: &str,
        offset: i64,
    ) -> Result<PullOutcome<MessageExt>> {
        let sub_version = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let header = PullMessageRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: queue.queue_id,
            queue_offset: offset,
            max_msg_nums: RAW_PULL_BATCH,
            sys_flag: PULL_FLAG_SUBSCRIPTION,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            sub_version,
            subscription: Some(expression.into()),
            expression_type: Some("TAG".into()),
            ..PullMessageRequestHeader::default()
        };
        self.handle
            .pull_outcome_from_broker(&queue.broker_addr, header, PROBE_TIMEOUT_MS)
            .await
            .map_err(|e| anyhow!("raw pull of {topic}/{} at {offset}: {e}", queue.queue_id))
    }

    /// Releases the probe's client instance.
    pub async fn shutdown(self) {
        self.handle.shutdown_owned().await;
    }
}
