//! Name-server request and response headers (reference 2.2, "Name server"; Java
//! `R/header/namesrv/*.java`).
//!
//! Components: KV config (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE), broker
//! registration (REGISTER_BROKER, UNREGISTER_BROKER, QUERY_DATA_VERSION, BROKER_HEARTBEAT),
//! routes (GET_ROUTEINFO_BY_TOPIC, GET_TOPICS_BY_CLUSTER, REGISTER/DELETE_TOPIC_IN_NAMESRV) and
//! write permissions (WIPE/ADD_WRITE_PERM_OF_BROKER).

use super::command_header;

command_header! {
    /// PUT_KV_CONFIG (100) request.
    PutKvConfigRequestHeader {
        /// KV namespace, e.g. `ORDER_TOPIC_CONFIG`.
        namespace: String = "namespace",
        /// Key inside the namespace.
        key: String = "key",
        /// Value to store.
        value: String = "value",
    }
}

command_header! {
    /// GET_KV_CONFIG (101) request.
    GetKvConfigRequestHeader {
        /// KV namespace.
        namespace: String = "namespace",
        /// Key inside the namespace.
        key: String = "key",
    }
}

command_header! {
    /// GET_KV_CONFIG (101) response; QUERY_NOT_FOUND when absent.
    GetKvConfigResponseHeader {
        /// The stored value.
        value: Option<String> = "value",
    }
}

command_header! {
    /// DELETE_KV_CONFIG (102) request.
    DeleteKvConfigRequestHeader {
        /// KV namespace.
        namespace: String = "namespace",
        /// Key inside the namespace.
        key: String = "key",
    }
}

command_header! {
    /// GET_KVLIST_BY_NAMESPACE (219) request; the body answer is a KVTable.
    GetKvListByNamespaceRequestHeader {
        /// KV namespace.
        namespace: String = "namespace",
    }
}

command_header! {
    /// REGISTER_BROKER (103) request; body RegisterBrokerBody (JSON or compressed).
    RegisterBrokerRequestHeader {
        /// Broker name (`broker-a`).
        broker_name: String = "brokerName",
        /// `ip:port` clients connect to.
        broker_addr: String = "brokerAddr",
        /// Cluster the broker belongs to.
        cluster_name: String = "clusterName",
        /// HA `ip:port` slaves replicate from.
        ha_server_addr: String = "haServerAddr",
        /// 0 = master, >0 = slave.
        broker_id: i64 = "brokerId",
        /// Liveness timeout (default 120 s when absent).
        heartbeat_timeout_millis: Option<i64> = "heartbeatTimeoutMillis",
        /// Slave-acting-master mode.
        enable_acting_master: Option<bool> = "enableActingMaster",
        /// True when the body uses the compressed encoding.
        compressed: Option<bool> = "compressed",
        /// Masked crc32 of the body; 0 (or absent) = do not check.
        body_crc32: Option<i32> = "bodyCrc32",
    }
}

command_header! {
    /// REGISTER_BROKER (103) response.
    RegisterBrokerResponseHeader {
        /// The master's HA address.
        ha_server_addr: Option<String> = "haServerAddr",
        /// The master's address (for slaves).
        master_addr: Option<String> = "masterAddr",
    }
}

command_header! {
    /// UNREGISTER_BROKER (104) request.
    UnregisterBrokerRequestHeader {
        /// Broker name.
        broker_name: String = "brokerName",
        /// Broker address.
        broker_addr: String = "brokerAddr",
        /// Cluster name.
        cluster_name: String = "clusterName",
        /// Broker id.
        broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request.
    GetRouteInfoRequestHeader {
        /// Topic whose route is asked.
        topic: String = "topic",
        /// When true, answer with quoted map keys whatever the requester's version.
        accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) request.
    WipeWritePermOfBrokerRequestHeader {
        /// Broker whose write permission is removed.
        broker_name: String = "brokerName",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) response.
    WipeWritePermOfBrokerResponseHeader {
        /// Number of topics changed.
        wipe_topic_count: i32 = "wipeTopicCount",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) request.
    AddWritePermOfBrokerRequestHeader {
        /// Broker whose write permission is restored.
        broker_name: String = "brokerName",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) response.
    AddWritePermOfBrokerResponseHeader {
        /// Number of topics changed.
        add_topic_count: i32 = "addTopicCount",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216) request.
    DeleteTopicFromNamesrvRequestHeader {
        /// Topic to delete.
        topic: String = "topic",
        /// Restrict the deletion to one cluster.
        cluster_name: Option<String> = "clusterName",
    }
}

command_header! {
    /// REGISTER_TOPIC_IN_NAMESRV (217) request; body TopicRouteData.
    RegisterTopicRequestHeader {
        /// Topic to register.
        topic: String = "topic",
    }
}

command_header! {
    /// GET_TOPICS_BY_CLUSTER (224) request.
    GetTopicsByClusterRequestHeader {
        /// Cluster name.
        cluster: String = "cluster",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322) request; body DataVersion.
    QueryDataVersionRequestHeader {
        /// Broker name.
        broker_name: String = "brokerName",
        /// Broker address.
        broker_addr: String = "brokerAddr",
        /// Cluster name.
        cluster_name: String = "clusterName",
        /// Broker id.
        broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322) response.
    QueryDataVersionResponseHeader {
        /// True when the broker's DataVersion differs from the stored one.
        changed: bool = "changed",
    }
}

command_header! {
    /// BROKER_HEARTBEAT (904) request (slave-acting-master / controller mode).
    BrokerHeartbeatRequestHeader {
        /// Cluster name.
        cluster_name: String = "clusterName",
        /// Broker address.
        broker_addr: String = "brokerAddr",
        /// Broker name.
        broker_name: String = "brokerName",
        /// Broker id.
        broker_id: Option<i64> = "brokerId",
        /// Controller epoch.
        epoch: Option<i32> = "epoch",
        /// Max CommitLog offset.
        max_offset: Option<i64> = "maxOffset",
        /// Confirmed (replicated) offset.
        confirm_offset: Option<i64> = "confirmOffset",
        /// Liveness timeout (sic: `Mills`).
        heartbeat_timeout_mills: Option<i64> = "heartbeatTimeoutMills",
        /// Election priority.
        election_priority: Option<i32> = "electionPriority",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::header::{header_round_trip_tests, CommandHeader, HeaderError};

    header_round_trip_tests! {
        put_kv_config_request => PutKvConfigRequestHeader,
        get_kv_config_request => GetKvConfigRequestHeader,
        get_kv_config_response => GetKvConfigResponseHeader,
        delete_kv_config_request => DeleteKvConfigRequestHeader,
        get_kv_list_request => GetKvListByNamespaceRequestHeader,
        register_broker_request => RegisterBrokerRequestHeader,
        register_broker_response => RegisterBrokerResponseHeader,
        unregister_broker_request => UnregisterBrokerRequestHeader,
        get_route_info_request => GetRouteInfoRequestHeader,
        wipe_write_perm_request => WipeWritePermOfBrokerRequestHeader,
        wipe_write_perm_response => WipeWritePermOfBrokerResponseHeader,
        add_write_perm_request => AddWritePermOfBrokerRequestHeader,
        add_write_perm_response => AddWritePermOfBrokerResponseHeader,
        delete_topic_request => DeleteTopicFromNamesrvRequestHeader,
        register_topic_request => RegisterTopicRequestHeader,
        topics_by_cluster_request => GetTopicsByClusterRequestHeader,
        query_data_version_request => QueryDataVersionRequestHeader,
        query_data_version_response => QueryDataVersionResponseHeader,
        broker_heartbeat_request => BrokerHeartbeatRequestHeader,
    }

    #[test]
    fn register_broker_header_from_a_java_broker_decodes() {
        // Goal: a real 5.x REGISTER_BROKER header (with RPC keys we do not list) decodes.
        // Method: ext fields as a Java broker sends them.
        let fields: ExtFields = [
            ("brokerName", "broker-a"),
            ("brokerAddr", "10.0.0.1:10911"),
            ("clusterName", "DefaultCluster"),
            ("haServerAddr", "10.0.0.1:10912"),
            ("brokerId", "0"),
            ("heartbeatTimeoutMillis", "120000"),
            ("enableActingMaster", "false"),
            ("compressed", "false"),
            ("bodyCrc32", "-1258263354"),
            ("oway", "false"),
            ("lo", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let header = RegisterBrokerRequestHeader::decode(&fields).unwrap();
        assert_eq!(header.broker_id, 0);
        assert_eq!(header.body_crc32, Some(-1_258_263_354));
        assert_eq!(header.compressed, Some(false));
        assert_eq!(header.heartbeat_timeout_millis, Some(120_000));
    }

    #[test]
    fn route_request_without_topic_names_the_missing_field() {
        // Goal: a missing required field is reported by its wire name. Method: empty fields.
        assert_eq!(
            GetRouteInfoRequestHeader::decode(&ExtFields::new()),
            Err(HeaderError::MissingField { field: "topic" })
        );
        assert_eq!(GetRouteInfoRequestHeader::required_fields(), vec!["topic"]);
        assert_eq!(
            GetRouteInfoRequestHeader::FIELD_NAMES,
            &["topic", "acceptStandardJsonOnly"]
        );
    }
}
