//! `ClientConfig`: name servers, client identity and timeouts, with RocketMQ's defaults
//! (`ClientConfig.java`, `DefaultMQProducer.java`, `DefaultLitePullConsumer.java`).

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

use ferromq_protocol::message::compress::COMPRESS_BODY_OVER_BYTES;
use ferromq_protocol::message::DEFAULT_MAX_MESSAGE_BYTES;
use ferromq_protocol::{LanguageCode, SerializeType};

use crate::error::ClientError;

/// Template topic used to auto-create topics (`TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`).
pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
/// Queues per broker of an auto-created topic (`DefaultMQProducer.defaultTopicQueueNums`).
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;
/// Most name server addresses one client takes.
pub const MAX_NAMESRV_ADDRS: usize = 64;

/// Settings shared by producers and pull consumers. Build with [`ClientConfig::new`], adjust the
/// public fields, and hand it to `Producer::start` / `PullConsumer::start`, which validate it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Name server addresses (`namesrvAddr`, given as `"a:9876;b:9876"`).
    pub namesrv_addrs: Vec<String>,
    /// This client's IP, the first part of its client id (`clientIP`).
    pub client_ip: IpAddr,
    /// Instance name (`instanceName`); the default `DEFAULT` is replaced by the pid, as Java's
    /// `changeInstanceNameToPID` does, so the client id reads `ip@pid`.
    pub instance_name: String,
    /// Language announced in request headers. `OTHER` by default: 4.x brokers parse the name
    /// into an enum that has no `RUST`, and an unknown name fails the request.
    pub language: LanguageCode,
    /// Header serialization of requests (Java's default is JSON; ROCKETMQ is cheaper).
    pub serialize_type: SerializeType,
    /// Timeout of name server and admin-style requests (`mqClientApiTimeout`, 3 s).
    pub api_timeout: Duration,
    /// Route refresh period (`pollNameServerInterval`, 30 s).
    pub poll_name_server_interval: Duration,
    /// Heartbeat period to brokers (`heartbeatBrokerInterval`, 30 s).
    pub heartbeat_broker_interval: Duration,
    /// Budget of one send, all retries included (`sendMsgTimeout`, 3 s).
    pub send_msg_timeout: Duration,
    /// Extra attempts after a failed send (`retryTimesWhenSendFailed`, 2; also used for async
    /// sends, as `retryTimesWhenSendAsyncFailed` is 2 too).
    pub retry_times_when_send_failed: u32,
    /// Template topic for auto-creation (`createTopicKey`, `TBW102`).
    pub create_topic_key: String,
    /// Queues per broker of an auto-created topic (`defaultTopicQueueNums`, 4).
    pub default_topic_queue_nums: i32,
    /// Bodies larger than this are zlib-compressed (`compressMsgBodyOverHowmuch`, 4096);
    /// `None` turns compression off.
    pub compress_msg_body_over: Option<usize>,
    /// Largest message body (batch body for batches) a producer sends (`maxMessageSize`, 4 MiB).
    pub max_message_size: usize,
    /// Async sends in flight per producer before `send_async` waits
    /// (`backPressureForAsyncSendNum`, 10000).
    pub max_async_sends_in_flight: usize,
    /// Timeout of a pull without long polling (`consumerPullTimeoutMillis`, 10 s).
    pub pull_timeout: Duration,
    /// Extra time a long-polled pull waits beyond the broker's suspend time before the client
    /// gives up (Java: 30 s total for a 20 s suspend).
    pub pull_suspend_margin: Duration,
    /// Check the BODYCRC of pulled messages (Java's consumers do not by default).
    pub check_crc_on_pull: bool,
    /// Transport settings (connect timeout, per-connection limits).
    pub remoting: ferromq_remoting::ClientConfig,
}

impl ClientConfig {
    /// Defaults for the name servers in `namesrv_addr` (`"host:port;host:port"`).
    pub fn new(namesrv_addr: &str) -> Result<Self, ClientError> {
        let namesrv_addrs = parse_namesrv_addr(namesrv_addr)?;
        let client_ip = namesrv_addrs
            .first()
            .and_then(|addr| local_ip_towards(addr))
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(ClientConfig {
            namesrv_addrs,
            client_ip,
            instance_name: std::process::id().to_string(),
            language: LanguageCode::Other,
            serialize_type: SerializeType::Json,
            api_timeout: Duration::from_secs(3),
            poll_name_server_interval: Duration::from_secs(30),
            heartbeat_broker_interval: Duration::from_secs(30),
            send_msg_timeout: Duration::from_secs(3),
            retry_times_when_send_failed: 2,
            create_topic_key: AUTO_CREATE_TOPIC_KEY.to_owned(),
            default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
            compress_msg_body_over: Some(COMPRESS_BODY_OVER_BYTES),
            max_message_size: DEFAULT_MAX_MESSAGE_BYTES,
            max_async_sends_in_flight: 10_000,
            pull_timeout: Duration::from_secs(10),
            pull_suspend_margin: Duration::from_secs(10),
            check_crc_on_pull: false,
            remoting: ferromq_remoting::ClientConfig::default(),
        })
    }

    /// The client id brokers see: `ip@instanceName` (`buildMQClientId`).
    pub fn client_id(&self) -> String {
        format!("{}@{}", self.client_ip, self.instance_name)
    }

    /// Checks every setting; the error names the first bad one by its RocketMQ key.
    pub fn validate(&self) -> Result<(), ClientError> {
        let bad = |field: &'static str, reason: &str| {
            Err(ClientError::Config {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.namesrv_addrs.is_empty() {
            return bad("namesrvAddr", "no name server address");
        }
        if self.namesrv_addrs.len() > MAX_NAMESRV_ADDRS {
            return bad("namesrvAddr", "too many name server addresses");
        }
        if self.instance_name.is_empty() {
            return bad("instanceName", "must not be empty");
        }
        for (field, value) in [
            ("mqClientApiTimeout", self.api_timeout),
            ("pollNameServerInterval", self.poll_name_server_interval),
            ("heartbeatBrokerInterval", self.heartbeat_broker_interval),
            ("sendMsgTimeout", self.send_msg_timeout),
            ("consumerPullTimeoutMillis", self.pull_timeout),
        ] {
            if value.is_zero() {
                return bad(field, "must be positive");
            }
        }
        if self.create_topic_key.is_empty() {
            return bad("createTopicKey", "must not be empty");
        }
        if self.default_topic_queue_nums <= 0 {
            return bad("defaultTopicQueueNums", "must be positive");
        }
        if self.max_message_size == 0 || self.max_message_size > ferromq_protocol::MAX_FRAME_BYTES {
            return bad("maxMessageSize", "must be between 1 byte and the 16 MiB frame limit");
        }
        if self.max_async_sends_in_flight == 0 {
            return bad("backPressureForAsyncSendNum", "must be positive");
        }
        self.remoting.validate().map_err(|e| ClientError::Config {
            field: "remoting",
            reason: e.to_string(),
        })
    }
}

/// Splits `"a:9876;b:9876"` into addresses; each must be `host:port` with a numeric port.
pub fn parse_namesrv_addr(list: &str) -> Result<Vec<String>, ClientError> {
    let mut addrs = Vec::new();
    for addr in list.split(';').map(str::trim).filter(|a| !a.is_empty()) {
        let valid = addr
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(ClientError::Config {
                field: "namesrvAddr",
                reason: format!("{addr:?} is not host:port"),
            });
        }
        addrs.push(addr.to_owned());
    }
    if addrs.is_empty() {
        return Err(ClientError::Config {
            field: "namesrvAddr",
            reason: "no name server address".to_owned(),
        });
    }
    Ok(addrs)
}

/// The local IP the OS would use to reach `addr` (a connected UDP socket sends nothing).
fn local_ip_towards(addr: &str) -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect(addr).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namesrv_list_splits_on_semicolons_and_rejects_garbage() {
        // Goal: Java's "a:9876;b:9876" form parses; entries without a numeric port are refused.
        // Method: parse good and bad lists.
        assert_eq!(
            parse_namesrv_addr("10.0.0.1:9876; 10.0.0.2:9876;").unwrap(),
            vec!["10.0.0.1:9876", "10.0.0.2:9876"]
        );
        assert!(parse_namesrv_addr("").is_err());
        assert!(parse_namesrv_addr("host").is_err());
        assert!(parse_namesrv_addr("host:port").is_err());
        assert!(parse_namesrv_addr(":9876").is_err());
    }

    #[test]
    fn defaults_match_rocketmq_and_client_id_is_ip_at_pid() {
        // Goal: RocketMQ defaults (3 s send timeout, 2 retries, 30 s route refresh, TBW102 with 4
        // queues) and the ip@pid client id. Method: build a config for a loopback name server.
        let config = ClientConfig::new("127.0.0.1:9876").unwrap();
        assert_eq!(config.send_msg_timeout, Duration::from_secs(3));
        assert_eq!(config.retry_times_when_send_failed, 2);
        assert_eq!(config.poll_name_server_interval, Duration::from_secs(30));
        assert_eq!(config.heartbeat_broker_interval, Duration::from_secs(30));
        assert_eq!(config.create_topic_key, "TBW102");
        assert_eq!(config.default_topic_queue_nums, 4);
        assert_eq!(config.client_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.client_id(), format!("127.0.0.1@{}", std::process::id()));
        config.validate().unwrap();
    }

    #[test]
    fn validate_names_the_bad_setting() {
        // Goal: a bad value is reported under its RocketMQ key. Method: zero the send timeout.
        let mut config = ClientConfig::new("127.0.0.1:9876").unwrap();
        config.send_msg_timeout = Duration::ZERO;
        match config.validate() {
            Err(ClientError::Config { field, .. }) => assert_eq!(field, "sendMsgTimeout"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
