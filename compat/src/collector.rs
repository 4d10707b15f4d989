//! A push-consumer listener that records every delivery.
//!
//! The client calls [`MessageListenerConcurrently::consume_message`] on a blocking thread; the
//! collector appends one [`Received`] per message under a mutex and always answers
//! `ConsumeSuccess`, so nothing it sees is redelivered on its account.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, MessageListenerConcurrently,
};
use rocketmq_model::common::message::message_ext::MessageExt;

/// One delivered message, as the listener saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub topic: String,
    pub body: String,
    pub tags: Option<String>,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub reconsume_times: i32,
    pub msg_id: String,
}

/// Shared, cloneable record of deliveries.
#[derive(Clone, Default)]
pub struct Collector {
    received: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    /// Everything delivered so far, in delivery order.
    pub fn snapshot(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Deliveries per body.
    pub fn counts_by_body(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for r in self.snapshot() {
            *counts.entry(r.body).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until every body in `expected` was delivered at least once, or `timeout`.
    ///
    /// Returns the bodies still missing (empty on success).
    pub async fn wait_for_bodies(&self, expected: &[String], timeout: Duration) -> Vec<String> {
        let done = crate::wait::until(timeout, || async {
            let counts = self.counts_by_body();
            expected.iter().all(|b| counts.contains_key(b)).then_some(())
        })
        .await;
        if done.is_some() {
            return Vec::new();
        }
        let counts = self.counts_by_body();
        expected.iter().filter(|b| !counts.contains_key(*b)).cloned().collect()
    }

    /// Bodies delivered more than once, with their delivery records.
    pub fn duplicates(&self) -> BTreeMap<String, Vec<Received>> {
        let mut by_body: BTreeMap<String, Vec<Received>> = BTreeMap::new();
        for r in self.snapshot() {
            by_body.entry(r.body.clone()).or_default().push(r);
        }
        by_body.retain(|_, v| v.len() > 1);
        by_body
    }
}

impl MessageListenerConcurrently for Collector {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let mut received = self.received.lock().unwrap_or_else(|p| p.into_inner());
        for msg in msgs {
            let body = msg
                .body()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            received.push(Received {
                topic: msg.topic().to_string(),
                body,
                tags: msg.get_tags().map(|t| t.to_string()),
                queue_id: msg.queue_id(),
                queue_offset: msg.queue_offset(),
                reconsume_times: msg.reconsume_times(),
                msg_id: msg.msg_id().to_string(),
            });
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}
