//! In-process fake name server and broker for tests (feature `test-util`).
//!
//! Speaks just enough of the protocol for the client and the load generator: routes
//! (GET_ROUTEINFO_BY_TOPIC), SEND_MESSAGE(_V2), SEND_BATCH_MESSAGE, PULL_MESSAGE with long
//! polling, GET_MAX/MIN_OFFSET, QUERY/UPDATE_CONSUMER_OFFSET, HEART_BEAT and UNREGISTER_CLIENT.
//! A broker can also register itself with a real name server ([`FakeBroker::register_with`]).
//! Messages are kept in memory as stored records, so pulls return real record bytes. Every
//! broker accepts any topic (as with auto-create on). Faults are injected per broker: answer
//! the next N sends with a given code.
//!
//! Not for production: memory grows with every message stored.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferromq_protocol::body::{
    decode_body, BrokerData, DataVersion, HeartbeatData, QueueData, RegisterBrokerBody, TopicConfig,
    TopicConfigSerializeWrapper, TopicRouteData,
};
use ferromq_protocol::header::consumer_offset::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ferromq_protocol::header::namesrv::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use ferromq_protocol::header::pull_message::{PullMessageRequestHeader, PULL_FLAG_SUSPEND};
use ferromq_protocol::header::send_message::{decode_send_request_header, SendMessageResponseHeader};
use ferromq_protocol::message::{decode_batch, encode_record, masked_crc32, MessageRecord, DEFAULT_MAX_MESSAGE_BYTES};
use ferromq_protocol::{Body, RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{CancellationToken, Dispatcher, RemotingClient, RemotingServer, ServerConfig};
use tokio::sync::Notify;

use crate::producer::request::now_ms;

/// Most messages one fake batch may hold.
const MAX_BATCH_MESSAGES: usize = 10_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Binds 127.0.0.1:0 and serves `dispatcher` until `shutdown`.
async fn serve(dispatcher: Dispatcher, shutdown: CancellationToken) -> std::io::Result<SocketAddr> {
    let server = RemotingServer::bind(ServerConfig::new(local()))
        .await
        .map_err(std::io::Error::other)?;
    let addr = server.local_addr()?;
    tokio::spawn(server.run(Arc::new(dispatcher), shutdown));
    Ok(addr)
}

/// A fake name server holding routes by topic.
#[derive(Debug)]
pub struct FakeNamesrv {
    /// Listen address.
    pub addr: SocketAddr,
    /// Routes served, by topic.
    pub routes: Arc<Mutex<HashMap<String, TopicRouteData>>>,
    /// GET_ROUTEINFO_BY_TOPIC requests received.
    pub route_requests: Arc<AtomicU64>,
    shutdown: CancellationToken,
}

impl FakeNamesrv {
    /// Starts a name server on 127.0.0.1:0 with no routes.
    pub async fn start() -> std::io::Result<Self> {
        let routes: Arc<Mutex<HashMap<String, TopicRouteData>>> = Arc::default();
        let route_requests = Arc::new(AtomicU64::new(0));
        let mut dispatcher = Dispatcher::new();
        let (table, counter) = (Arc::clone(&routes), Arc::clone(&route_requests));
        dispatcher.register_fn(
            RequestCode::GetRouteinfoByTopic,
            move |_ctx, request: RemotingCommand| {
                counter.fetch_add(1, Ordering::Relaxed);
                let route = request
                    .decode_header::<GetRouteInfoRequestHeader>()
                    .ok()
                    .and_then(|h| lock(&table).get(&h.topic).cloned());
                async move {
                    Some(match route {
                        Some(route) => {
                            RemotingCommand::response_to(&request, ResponseCode::Success).with_body(route.encode(true))
                        }
                        None => RemotingCommand::response_to(&request, ResponseCode::TopicNotExist)
                            .with_remark("No topic route info in name server for the topic"),
                    })
                }
            },
        );
        let shutdown = CancellationToken::new();
        let addr = serve(dispatcher, shutdown.clone()).await?;
        Ok(FakeNamesrv {
            addr,
            routes,
            route_requests,
            shutdown,
        })
    }

    /// Serves `route` for `topic`.
    pub fn set_route(&self, topic: &str, route: TopicRouteData) {
        lock(&self.routes).insert(topic.to_owned(), route);
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for FakeNamesrv {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// State of a fake broker, readable by tests.
#[derive(Debug, Default)]
pub struct BrokerState {
    /// Broker name.
    pub name: String,
    addr: Mutex<Option<SocketAddr>>,
    queues: Mutex<HashMap<(String, i32), Vec<Bytes>>>,
    next_phy_offset: AtomicI64,
    arrivals: Notify,
    /// Messages stored (batch members counted one by one).
    pub stored: AtomicU64,
    /// Send requests received (single or batch), refused ones included.
    pub send_requests: AtomicU64,
    /// Send requests answered with an injected failure.
    pub refused_sends: AtomicU64,
    refuse_next: AtomicU32,
    refuse_code: AtomicI64,
    /// Heartbeat bodies received.
    pub heartbeats: Mutex<Vec<HeartbeatData>>,
    /// UNREGISTER_CLIENT requests received.
    pub unregisters: AtomicU64,
    /// Pull request headers received, last first out (only the last 64 are kept).
    pub pulls: Mutex<Vec<PullMessageRequestHeader>>,
    /// Consumer offsets by (group, topic, queue id).
    pub offsets: Mutex<HashMap<(String, String, i32), i64>>,
    /// Ext fields of the last send request.
    pub last_send: Mutex<Option<RemotingCommand>>,
}

impl BrokerState {
    /// Answers the next `count` sends with `code` instead of storing them.
    pub fn refuse_next_sends(&self, count: u32, code: ResponseCode) {
        self.refuse_code.store(i64::from(code.as_i32()), Ordering::SeqCst);
        self.refuse_next.store(count, Ordering::SeqCst);
    }

    /// Messages stored in one queue.
    pub fn queue_len(&self, topic: &str, queue_id: i32) -> usize {
        lock(&self.queues)
            .get(&(topic.to_owned(), queue_id))
            .map_or(0, Vec::len)
    }

    fn addr(&self) -> SocketAddr {
        lock(&self.addr).unwrap_or_else(local)
    }

    fn take_refusal(&self) -> Option<ResponseCode> {
        self.refuse_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .ok()
            .map(|_| ResponseCode::from_i32(self.refuse_code.load(Ordering::SeqCst) as i32))
    }

    /// Appends one message; returns (queue offset, offsetMsgId).
    fn store(&self, mut record: MessageRecord) -> (i64, String) {
        record.store_host = self.addr();
        record.store_timestamp = now_ms();
        let mut queues = lock(&self.queues);
        let queue = queues.entry((record.topic.clone(), record.queue_id)).or_default();
        record.queue_offset = queue.len() as i64;
        let size = record.total_size() as i64;
        record.phy_offset = self.next_phy_offset.fetch_add(size, Ordering::Relaxed);
        let mut bytes = BytesMut::with_capacity(record.total_size());
        if encode_record(&record, DEFAULT_MAX_MESSAGE_BYTES, &mut bytes).is_ok() {
            queue.push(bytes.freeze());
            self.stored.fetch_add(1, Ordering::Relaxed);
        }
        (record.queue_offset, record.offset_msg_id())
    }

    fn on_send(&self, peer: SocketAddr, request: &RemotingCommand) -> RemotingCommand {
        self.send_requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_send) = Some(request.clone());
        if let Some(code) = self.take_refusal() {
            self.refused_sends.fetch_add(1, Ordering::Relaxed);
            return RemotingCommand::response_to(request, code).with_remark("[OVERLOAD] injected by the fake broker");
        }
        let header = match decode_send_request_header(request) {
            Ok(header) => header,
            Err(error) => {
                return RemotingCommand::response_to(request, ResponseCode::SystemError).with_remark(error.to_string())
            }
        };
        let queue_id = header.queue_id.max(0);
        let template = |body: Bytes, flag: i32, properties: String| {
            let mut record = MessageRecord::new(header.topic.clone(), body);
            record.queue_id = queue_id;
            record.flag = flag;
            record.sys_flag = header.sys_flag;
            record.born_timestamp = header.born_timestamp;
            record.born_host = peer;
            record.properties = properties;
            record
        };
        let is_batch = request.code == RequestCode::SendBatchMessage.as_i32() || header.batch == Some(true);
        let (first_offset, ids) = if is_batch {
            let Ok(messages) = decode_batch(&request.body.to_bytes(), MAX_BATCH_MESSAGES) else {
                return RemotingCommand::response_to(request, ResponseCode::MessageIllegal).with_remark("bad batch");
            };
            let mut first = None;
            let mut ids = Vec::with_capacity(messages.len());
            for message in messages {
                let (offset, id) = self.store(template(message.body, message.flag, message.properties));
                first.get_or_insert(offset);
                ids.push(id);
            }
            (first.unwrap_or(0), ids.join(","))
        } else {
            let record = template(
                request.body.to_bytes(),
                header.flag,
                header.properties.unwrap_or_default(),
            );
            self.store(record)
        };
        self.arrivals.notify_waiters();
        let response_header = SendMessageResponseHeader {
            msg_id: ids,
            queue_id,
            queue_offset: first_offset,
            msg_region: Some("DefaultRegion".to_owned()),
            trace_on: Some(true),
            ..Default::default()
        };
        RemotingCommand::response_to(request, ResponseCode::Success).with_header(&response_header)
    }

    /// One pull per the reference 7.3 table; `None` when a long poll should wait.
    fn try_pull(
        &self,
        request: &RemotingCommand,
        header: &PullMessageRequestHeader,
        may_wait: bool,
    ) -> Option<RemotingCommand> {
        let queues = lock(&self.queues);
        let records = queues.get(&(header.topic.clone(), header.queue_id));
        let max = records.map_or(0, Vec::len) as i64;
        let offset = header.queue_offset;
        let (code, next, body) = if max == 0 {
            let code = if offset != 0 {
                ResponseCode::PullOffsetMoved
            } else {
                ResponseCode::PullNotFound
            };
            (code, 0, Body::empty())
        } else if offset < 0 {
            (ResponseCode::PullOffsetMoved, 0, Body::empty())
        } else if offset == max {
            (ResponseCode::PullNotFound, offset, Body::empty())
        } else if offset > max {
            (ResponseCode::PullOffsetMoved, max, Body::empty())
        } else {
            let count = i64::from(header.max_msg_nums.max(1)).min(max - offset);
            let segments = records
                .and_then(|r| r.get(offset as usize..(offset + count) as usize))
                .map(<[Bytes]>::to_vec)
                .unwrap_or_default();
            (ResponseCode::Success, offset + count, Body::from_segments(segments))
        };
        if code == ResponseCode::PullNotFound && may_wait {
            return None;
        }
        let mut response = RemotingCommand::response_to(request, code).with_body(body);
        response.put_ext_field("suggestWhichBrokerId", "0");
        response.put_ext_field("nextBeginOffset", next.to_string());
        response.put_ext_field("minOffset", "0");
        response.put_ext_field("maxOffset", max.to_string());
        Some(response)
    }

    async fn on_pull(&self, request: RemotingCommand) -> RemotingCommand {
        let header = match request.decode_header::<PullMessageRequestHeader>() {
            Ok(header) => header,
            Err(error) => {
                return RemotingCommand::response_to(&request, ResponseCode::SystemError).with_remark(error.to_string())
            }
        };
        {
            let mut pulls = lock(&self.pulls);
            if pulls.len() >= 64 {
                pulls.remove(0);
            }
            pulls.push(header.clone());
        }
        let suspend = header.has_flag(PULL_FLAG_SUSPEND) && header.suspend_timeout_millis > 0;
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(u64::try_from(header.suspend_timeout_millis).unwrap_or(0));
        loop {
            let arrived = self.arrivals.notified();
            let may_wait = suspend && tokio::time::Instant::now() < deadline;
            if let Some(response) = self.try_pull(&request, &header, may_wait) {
                return response;
            }
            // Woken by a send (then re-check) or by the suspend timeout (then answer).
            let _ = tokio::time::timeout_at(deadline, arrived).await;
            if tokio::time::Instant::now() >= deadline {
                if let Some(response) = self.try_pull(&request, &header, false) {
                    return response;
                }
            }
        }
    }

    fn on_offset_request(&self, request: &RemotingCommand) -> RemotingCommand {
        let ok = |offset: i64| {
            let mut response = RemotingCommand::response_to(request, ResponseCode::Success);
            response.put_ext_field("offset", offset.to_string());
            response
        };
        let bad = |remark: String| RemotingCommand::response_to(request, ResponseCode::SystemError).with_remark(remark);
        match RequestCode::from_i32(request.code) {
            RequestCode::GetMaxOffset => match request.decode_header::<GetMaxOffsetRequestHeader>() {
                Ok(h) => ok(self.queue_len(&h.topic, h.queue_id) as i64),
                Err(e) => bad(e.to_string()),
            },
            RequestCode::GetMinOffset => match request.decode_header::<GetMinOffsetRequestHeader>() {
                Ok(_) => ok(0),
                Err(e) => bad(e.to_string()),
            },
            RequestCode::QueryConsumerOffset => match request.decode_header::<QueryConsumerOffsetRequestHeader>() {
                Ok(h) => match lock(&self.offsets).get(&(h.consumer_group, h.topic, h.queue_id)) {
                    Some(offset) => ok(*offset),
                    None => RemotingCommand::response_to(request, ResponseCode::QueryNotFound)
                        .with_remark("Not found, maybe this group consumer boot first"),
                },
                Err(e) => bad(e.to_string()),
            },
            RequestCode::UpdateConsumerOffset => match request.decode_header::<UpdateConsumerOffsetRequestHeader>() {
                Ok(h) => {
                    lock(&self.offsets).insert((h.consumer_group, h.topic, h.queue_id), h.commit_offset);
                    RemotingCommand::response_to(request, ResponseCode::Success)
                }
                Err(e) => bad(e.to_string()),
            },
            _ => RemotingCommand::response_to(request, ResponseCode::RequestCodeNotSupported),
        }
    }
}

/// A fake broker (master, id 0).
#[derive(Debug)]
pub struct FakeBroker {
    /// Listen address.
    pub addr: SocketAddr,
    /// Inspectable state.
    pub state: Arc<BrokerState>,
    namesrv_client: RemotingClient,
    shutdown: CancellationToken,
}

impl FakeBroker {
    /// Starts broker `name` on 127.0.0.1:0.
    pub async fn start(name: &str) -> std::io::Result<Self> {
        let state = Arc::new(BrokerState {
            name: name.to_owned(),
            ..Default::default()
        });
        let mut dispatcher = Dispatcher::new();
        for code in [
            RequestCode::SendMessage,
            RequestCode::SendMessageV2,
            RequestCode::SendBatchMessage,
        ] {
            let state = Arc::clone(&state);
            dispatcher.register_fn(code, move |ctx, request: RemotingCommand| {
                let response = state.on_send(ctx.peer_addr(), &request);
                async move { Some(response) }
            });
        }
        let pull_state = Arc::clone(&state);
        dispatcher.register_fn(RequestCode::PullMessage, move |_ctx, request: RemotingCommand| {
            let state = Arc::clone(&pull_state);
            async move { Some(state.on_pull(request).await) }
        });
        for code in [
            RequestCode::GetMaxOffset,
            RequestCode::GetMinOffset,
            RequestCode::QueryConsumerOffset,
            RequestCode::UpdateConsumerOffset,
        ] {
            let state = Arc::clone(&state);
            dispatcher.register_fn(code, move |_ctx, request: RemotingCommand| {
                let response = state.on_offset_request(&request);
                async move { Some(response) }
            });
        }
        let heartbeat_state = Arc::clone(&state);
        dispatcher.register_fn(RequestCode::HeartBeat, move |_ctx, request: RemotingCommand| {
            let code = match decode_body::<HeartbeatData>(&request.body.to_bytes()) {
                Ok(body) => {
                    lock(&heartbeat_state.heartbeats).push(body);
                    ResponseCode::Success
                }
                Err(_) => ResponseCode::SystemError,
            };
            async move { Some(RemotingCommand::response_to(&request, code)) }
        });
        let unregister_state = Arc::clone(&state);
        dispatcher.register_fn(RequestCode::UnregisterClient, move |_ctx, request: RemotingCommand| {
            unregister_state.unregisters.fetch_add(1, Ordering::Relaxed);
            async move { Some(RemotingCommand::response_to(&request, ResponseCode::Success)) }
        });
        let shutdown = CancellationToken::new();
        let addr = serve(dispatcher, shutdown.clone()).await?;
        *lock(&state.addr) = Some(addr);
        let namesrv_client =
            RemotingClient::new(Default::default(), Arc::new(Dispatcher::new())).map_err(std::io::Error::other)?;
        Ok(FakeBroker {
            addr,
            state,
            namesrv_client,
            shutdown,
        })
    }

    /// BrokerData naming this broker as master.
    pub fn broker_data(&self) -> BrokerData {
        BrokerData {
            broker_addrs: [(0, self.addr.to_string())].into(),
            broker_name: self.state.name.clone(),
            cluster: "DefaultCluster".to_owned(),
            ..Default::default()
        }
    }

    /// Registers this broker (master of cluster `DefaultCluster`) and `topics` as
    /// `(name, queues, perm)` with a real name server, as REGISTER_BROKER with an uncompressed
    /// RegisterBrokerBody (reference 3.3); `counter` is the DataVersion counter. The
    /// connection stays open while the broker lives: name servers drop a broker whose
    /// connection closes.
    pub async fn register_with(
        &self,
        namesrv_addr: &str,
        topics: &[(&str, i32, i32)],
        counter: i64,
    ) -> Result<(), crate::ClientError> {
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version: DataVersion::new(now_ms()),
            ..Default::default()
        };
        wrapper.data_version.counter = counter;
        for (name, queues, perm) in topics {
            wrapper
                .topic_config_table
                .insert((*name).to_owned(), TopicConfig::new(*name, *queues, *queues, *perm));
        }
        let body = RegisterBrokerBody {
            filter_server_list: Vec::new(),
            topic_config_serialize_wrapper: wrapper,
        }
        .encode(false);
        let addr = self.addr.to_string();
        let header = RegisterBrokerRequestHeader {
            broker_name: self.state.name.clone(),
            broker_addr: addr.clone(),
            cluster_name: "DefaultCluster".to_owned(),
            ha_server_addr: addr,
            broker_id: 0,
            heartbeat_timeout_millis: None,
            enable_acting_master: Some(false),
            compressed: Some(false),
            body_crc32: Some(masked_crc32(&body)),
        };
        let request = RemotingCommand::request(RequestCode::RegisterBroker)
            .with_header(&header)
            .with_body(body);
        let response = self
            .namesrv_client
            .invoke(namesrv_addr, request, Duration::from_secs(3))
            .await
            .map_err(|source| crate::ClientError::Remoting {
                addr: namesrv_addr.to_owned(),
                source,
            })?;
        if response.code != ResponseCode::Success.as_i32() {
            return Err(crate::ClientError::Response {
                addr: namesrv_addr.to_owned(),
                code: response.response_code_enum(),
                remark: response.remark,
            });
        }
        Ok(())
    }

    /// Stops serving (connections are closed after the drain).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A name server and brokers wired together.
#[derive(Debug)]
pub struct FakeCluster {
    /// The name server.
    pub namesrv: FakeNamesrv,
    /// The brokers, in the order given.
    pub brokers: Vec<FakeBroker>,
}

impl FakeCluster {
    /// Starts a name server and one broker per name.
    pub async fn start(broker_names: &[&str]) -> std::io::Result<Self> {
        let namesrv = FakeNamesrv::start().await?;
        let mut brokers = Vec::with_capacity(broker_names.len());
        for name in broker_names {
            brokers.push(FakeBroker::start(name).await?);
        }
        Ok(FakeCluster { namesrv, brokers })
    }

    /// The name server address list to give a client.
    pub fn namesrv_addr(&self) -> String {
        self.namesrv.addr.to_string()
    }

    /// Routes `topic` to every broker with `queues` read and write queues and `perm`.
    pub fn add_topic_with_perm(&self, topic: &str, queues: i32, perm: i32) {
        let route = TopicRouteData {
            broker_datas: self.brokers.iter().map(FakeBroker::broker_data).collect(),
            queue_datas: self
                .brokers
                .iter()
                .map(|b| QueueData {
                    broker_name: b.state.name.clone(),
                    perm,
                    read_queue_nums: queues,
                    write_queue_nums: queues,
                    topic_sys_flag: 0,
                })
                .collect(),
            ..Default::default()
        };
        self.namesrv.set_route(topic, route);
    }

    /// Routes `topic` to every broker with `queues` queues, read-write (perm 6).
    pub fn add_topic(&self, topic: &str, queues: i32) {
        self.add_topic_with_perm(topic, queues, 6);
    }

    /// Messages stored on all brokers.
    pub fn stored(&self) -> u64 {
        self.brokers
            .iter()
            .map(|b| b.state.stored.load(Ordering::Relaxed))
            .sum()
    }
}
