//! `ConsumerManager`: connected consumers per group, as told by heartbeats
//! (`broker/.../client/ConsumerManager.java`, `ConsumerGroupInfo.java`).
//!
//! Each group holds its client channels (connection, client id, language, version, last
//! heartbeat), its subscriptions by topic and its consume type / model / start point. Pulls of
//! push consumers carry no subscription, so this table is what the pull path filters with.
//!
//! Invariants:
//! - a group with no channel left is removed;
//! - membership changes (a channel joins or leaves, a topic is subscribed or dropped) are
//!   reported to the caller, which notifies the group's remaining channels;
//! - the lock is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferromq_protocol::body::{
    Connection as ConnectionBody, ConsumeFromWhere, ConsumeType, ConsumerConnection, MessageModel, SubscriptionData,
};
use ferromq_protocol::LanguageCode;
use ferromq_remoting::Connection;

/// One client connection as known from its heartbeats (`ClientChannelInfo`).
#[derive(Debug, Clone)]
pub struct ClientChannel {
    /// The connection (used for NOTIFY_CONSUMER_IDS_CHANGED and closing on expiry).
    pub connection: Connection,
    /// `ip@pid` style client id.
    pub client_id: String,
    /// Client language.
    pub language: LanguageCode,
    /// Client version.
    pub version: i32,
    /// Last heartbeat, ms.
    pub last_update_ms: i64,
}

impl ClientChannel {
    /// The connection body of admin answers.
    pub fn to_body(&self) -> ConnectionBody {
        ConnectionBody {
            client_addr: self.connection.peer_addr().to_string(),
            client_id: self.client_id.clone(),
            language: self.language,
            version: self.version,
        }
    }
}

/// What a consumer heartbeat says about one group.
#[derive(Debug, Clone)]
pub struct ConsumerRegistration {
    /// The channel.
    pub channel: ClientChannel,
    /// Pull / push / pop.
    pub consume_type: ConsumeType,
    /// Clustering / broadcasting.
    pub message_model: MessageModel,
    /// Start point of new queues.
    pub consume_from_where: ConsumeFromWhere,
    /// Subscriptions of the group.
    pub subscriptions: Vec<SubscriptionData>,
}

#[derive(Debug)]
struct GroupInfo {
    channels: HashMap<u64, ClientChannel>,
    subscriptions: BTreeMap<String, SubscriptionData>,
    consume_type: ConsumeType,
    message_model: MessageModel,
    consume_from_where: ConsumeFromWhere,
}

impl GroupInfo {
    fn connections(&self) -> Vec<Connection> {
        self.channels.values().map(|c| c.connection.clone()).collect()
    }
}

/// A group whose membership changed, with the channels still in it.
#[derive(Debug, Clone)]
pub struct GroupChange {
    /// The group.
    pub group: String,
    /// Remaining connections (to notify).
    pub remaining: Vec<Connection>,
}

/// Consumers per group.
#[derive(Debug, Default)]
pub struct ConsumerManager {
    groups: Mutex<HashMap<String, GroupInfo>>,
}

impl ConsumerManager {
    /// An empty table.
    pub fn new() -> Self {
        ConsumerManager::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, GroupInfo>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a heartbeat. Returns the group's connections when its membership changed (a
    /// new channel, or a topic subscribed / dropped), so the caller can notify them.
    pub fn register(&self, group: &str, registration: ConsumerRegistration) -> Option<Vec<Connection>> {
        let mut groups = self.lock();
        let info = groups.entry(group.to_owned()).or_insert_with(|| GroupInfo {
            channels: HashMap::new(),
            subscriptions: BTreeMap::new(),
            consume_type: registration.consume_type,
            message_model: registration.message_model,
            consume_from_where: registration.consume_from_where,
        });
        info.consume_type = registration.consume_type;
        info.message_model = registration.message_model;
        info.consume_from_where = registration.consume_from_where;

        let id = registration.channel.connection.id();
        let channel_changed = match info.channels.get_mut(&id) {
            Some(existing) => {
                let changed = existing.client_id != registration.channel.client_id;
                *existing = registration.channel;
                changed
            }
            None => {
                info.channels.insert(id, registration.channel);
                true
            }
        };

        // Java `updateSubscription`: new topics and dropped topics are changes; a newer version
        // of an existing subscription replaces it quietly.
        let mut subscription_changed = false;
        let mut seen = Vec::with_capacity(registration.subscriptions.len());
        for sub in registration.subscriptions {
            seen.push(sub.topic.clone());
            match info.subscriptions.get(&sub.topic) {
                None => {
                    info.subscriptions.insert(sub.topic.clone(), sub);
                    subscription_changed = true;
                }
                Some(old) if sub.sub_version > old.sub_version => {
                    info.subscriptions.insert(sub.topic.clone(), sub);
                }
                Some(_) => {}
            }
        }
        let before = info.subscriptions.len();
        info.subscriptions.retain(|topic, _| seen.contains(topic));
        subscription_changed |= info.subscriptions.len() != before;

        (channel_changed || subscription_changed).then(|| info.connections())
    }

    /// Removes one channel from a group (UNREGISTER_CLIENT). Returns the change, if the channel
    /// was there.
    pub fn unregister(&self, group: &str, connection_id: u64) -> Option<GroupChange> {
        let mut groups = self.lock();
        let info = groups.get_mut(group)?;
        info.channels.remove(&connection_id)?;
        let remaining = info.connections();
        if remaining.is_empty() {
            groups.remove(group);
            tracing::info!(group, "last consumer of the group unregistered");
        }
        Some(GroupChange {
            group: group.to_owned(),
            remaining,
        })
    }

    /// Removes a closed channel from every group; returns the groups that lost it.
    pub fn remove_connection(&self, connection_id: u64) -> Vec<GroupChange> {
        let mut groups = self.lock();
        let mut changes = Vec::new();
        for (group, info) in groups.iter_mut() {
            if info.channels.remove(&connection_id).is_some() {
                changes.push(GroupChange {
                    group: group.clone(),
                    remaining: info.connections(),
                });
            }
        }
        groups.retain(|_, info| !info.channels.is_empty());
        changes
    }

    /// Connections whose last heartbeat is older than `now_ms - timeout_ms`.
    pub fn expired_connections(&self, now_ms: i64, timeout_ms: i64) -> Vec<Connection> {
        self.lock()
            .values()
            .flat_map(|info| info.channels.values())
            .filter(|c| now_ms.saturating_sub(c.last_update_ms) > timeout_ms)
            .map(|c| c.connection.clone())
            .collect()
    }

    /// Whether the group has any consumer connected.
    pub fn has_group(&self, group: &str) -> bool {
        self.lock().contains_key(group)
    }

    /// The group's subscription of `topic`: `Ok(None)` if the group is online but does not
    /// subscribe it, `Err(())` if the group is not online.
    #[allow(clippy::result_unit_err)]
    pub fn find_subscription(&self, group: &str, topic: &str) -> Result<Option<SubscriptionData>, ()> {
        let groups = self.lock();
        let info = groups.get(group).ok_or(())?;
        Ok(info.subscriptions.get(topic).cloned())
    }

    /// The group's message model, if online.
    pub fn message_model(&self, group: &str) -> Option<MessageModel> {
        self.lock().get(group).map(|info| info.message_model)
    }

    /// Number of topics the group subscribes (0 if offline).
    pub fn subscription_count(&self, group: &str) -> usize {
        self.lock().get(group).map_or(0, |info| info.subscriptions.len())
    }

    /// Client ids of the group, sorted (GET_CONSUMER_LIST_BY_GROUP).
    pub fn client_ids(&self, group: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lock()
            .get(group)
            .map(|info| info.channels.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The group's connections, for a NOTIFY_CONSUMER_IDS_CHANGED broadcast.
    pub fn connections(&self, group: &str) -> Vec<Connection> {
        self.lock().get(group).map(GroupInfo::connections).unwrap_or_default()
    }

    /// GET_CONSUMER_CONNECTION_LIST answer; `None` if the group is not online.
    pub fn connection_body(&self, group: &str) -> Option<ConsumerConnection> {
        let groups = self.lock();
        let info = groups.get(group)?;
        let mut connection_set: Vec<ConnectionBody> = info.channels.values().map(ClientChannel::to_body).collect();
        connection_set.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Some(ConsumerConnection {
            connection_set,
            consume_from_where: Some(info.consume_from_where),
            consume_type: Some(info.consume_type),
            message_model: Some(info.message_model),
            subscription_table: info.subscriptions.clone(),
        })
    }

    /// Online groups subscribing `topic`.
    pub fn groups_subscribing(&self, topic: &str) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, info)| info.subscriptions.contains_key(topic))
            .map(|(group, _)| group.clone())
            .collect()
    }
}
