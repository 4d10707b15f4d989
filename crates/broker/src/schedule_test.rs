use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::{properties, sys_flag, MessageRecord, Properties};
use ferromq_remoting::CancellationToken;
use ferromq_store::fs::sim::SimFs;
use ferromq_store::{FlushDiskType, MessageStore, MessageStoreConfig, PutMessageStatus};

use super::*;
use crate::broker::{Broker, BrokerParts};
use crate::config::BrokerConfig;

// Goal: a DELAY level parks the message and clamps; level 0, prepared and absent DELAY do not.
// Method: rewrite a few records.
#[test]
fn delay_levels_park_messages_in_the_schedule_topic() {
    let mut record = MessageRecord::new("T", Bytes::from_static(b"x"));
    record.queue_id = 3;
    let mut props: Properties = [(properties::DELAY, "40")].into_iter().collect();
    assert!(rewrite_for_delay(&mut record, &mut props, 18));
    assert_eq!((record.topic.as_str(), record.queue_id), (SCHEDULE_TOPIC, 17));
    assert_eq!(props.get(properties::REAL_TOPIC), Some("T"));
    assert_eq!(props.get(properties::REAL_QID), Some("3"));
    assert_eq!(props.get(properties::DELAY), Some("18"));

    let mut plain = MessageRecord::new("T", Bytes::new());
    let mut zero: Properties = [(properties::DELAY, "0")].into_iter().collect();
    assert!(!rewrite_for_delay(&mut plain, &mut zero, 18));
    let mut prepared = MessageRecord::new("T", Bytes::new());
    prepared.sys_flag = sys_flag::TRANSACTION_PREPARED_TYPE;
    let mut one: Properties = [(properties::DELAY, "1")].into_iter().collect();
    assert!(!rewrite_for_delay(&mut prepared, &mut one, 18));
    assert!(!rewrite_for_delay(&mut plain, &mut Properties::new(), 18));
}

// Goal: restoring takes the real topic / queue and drops DELAY. Method: round trip.
#[test]
fn restore_undoes_the_rewrite_but_keeps_real_properties() {
    let mut record = MessageRecord::new("T", Bytes::from_static(b"body"));
    record.queue_id = 2;
    let mut props: Properties = [(properties::DELAY, "1"), ("KEYS", "k")].into_iter().collect();
    rewrite_for_delay(&mut record, &mut props, 18);
    record.properties = ferromq_protocol::message::encode_properties(&props);
    let real = restore(&record).unwrap();
    assert_eq!((real.topic.as_str(), real.queue_id), ("T", 2));
    let real_props = real.properties();
    assert_eq!(real_props.get(properties::DELAY), None);
    assert_eq!(real_props.get("KEYS"), Some("k"));
    assert_eq!(real.body.as_ref(), b"body");
}

fn sync_flush_broker(root: &Path, fs: &SimFs) -> Arc<Broker> {
    let mut store_config = MessageStoreConfig::with_root(root);
    store_config.mapped_file_size_commit_log = 1024 * 1024;
    store_config.mapped_file_size_consume_queue = 1000 * 20;
    store_config.max_message_size = 64 * 1024;
    store_config.max_hash_slot_num = 100;
    store_config.max_index_num = 400;
    store_config.flush_disk_type = FlushDiskType::SyncFlush;
    store_config.sync_flush_timeout = 2000;
    let store = Arc::new(MessageStore::open(store_config.clone(), Arc::new(fs.clone())).unwrap());
    let config = BrokerConfig {
        broker_ip1: "127.0.0.1".to_owned(),
        ..BrokerConfig::default()
    };
    Broker::new(BrokerParts {
        config,
        store_config,
        store,
        store_host: "127.0.0.1:10911".parse().unwrap(),
        shutdown: CancellationToken::new(),
    })
    .unwrap()
}

/// Parks one message for delay level 1 (durably) and dispatches it.
fn park(broker: &Broker, body: &'static [u8]) {
    let mut record = MessageRecord::new("Real", Bytes::from_static(body));
    record.queue_id = 2;
    let mut props: Properties = [(properties::DELAY, "1")].into_iter().collect();
    assert!(rewrite_for_delay(&mut record, &mut props, broker.delay_levels_ms.len()));
    record.properties = ferromq_protocol::message::encode_properties(&props);
    let put = broker.store.put_message(&record).unwrap();
    assert_eq!(put.wait_status(), PutMessageStatus::PutOk);
    broker.store.dispatch_now().unwrap();
}

// Goal: under SYNC_FLUSH a level's delivery offset advances only after the re-put message is
// durable: a re-put whose fsync fails leaves the offset where it was (the message is delivered
// again later), and an advanced offset survives a power loss together with the message.
// Method: a SYNC_FLUSH store over SimFs; park a due message; (a) make every fsync fail and run a
// delivery pass: the offset must not move; (b) on a fresh store run a pass, then crash the file
// system right away and reopen: the delivered message is in its real queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_delivery_offset_advances_only_after_the_reput_is_durable() {
    let later = crate::util::now_ms() + 86_400_000;

    let dir = tempfile::tempdir().unwrap();
    let fs = SimFs::new();
    let broker = sync_flush_broker(dir.path(), &fs);
    park(&broker, b"not durable");
    let schedule = broker.schedule.clone().unwrap();
    fs.fail_next_syncs(u32::MAX);
    schedule.deliver_due(&broker, later).await;
    assert_eq!(
        schedule.offset(1),
        0,
        "offset advanced past a re-put that never became durable"
    );

    let dir = tempfile::tempdir().unwrap();
    let fs = SimFs::new();
    let broker = sync_flush_broker(dir.path(), &fs);
    park(&broker, b"durable");
    let schedule = broker.schedule.clone().unwrap();
    assert_eq!(schedule.deliver_due(&broker, later).await, 1);
    assert_eq!(schedule.offset(1), 1);
    let crashed = fs.crash(7);
    let mut store_config = broker.store_config.clone();
    store_config.flush_disk_type = FlushDiskType::SyncFlush;
    drop(schedule);
    drop(broker);
    let store = MessageStore::open(store_config, Arc::new(crashed)).unwrap();
    store.dispatch_now().unwrap();
    let got = store.get_messages("Real", 2, 0, 10, usize::MAX, None).unwrap();
    assert_eq!(got.messages.len(), 1, "the delivered message survived the power loss");
    let record = ferromq_protocol::message::decode_record(&got.messages[0], true).unwrap();
    assert_eq!(record.body.as_ref(), b"durable");
}
