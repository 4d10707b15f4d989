//! Client-management headers (reference 2.2): UNREGISTER_CLIENT (35) and
//! GET_CONSUMER_LIST_BY_GROUP (38). HEART_BEAT, LOCK_BATCH_MQ and UNLOCK_BATCH_MQ carry no
//! header fields (their content is the body).

use super::command_header;

command_header! {
    /// UNREGISTER_CLIENT (35) request.
    UnregisterClientRequestHeader {
        /// Client id `ip@pid` (wire name with capital ID).
        client_id: String = "clientID",
        /// Producer group being unregistered.
        producer_group: Option<String> = "producerGroup",
        /// Consumer group being unregistered.
        consumer_group: Option<String> = "consumerGroup",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request.
    GetConsumerListByGroupRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::header::{header_round_trip_tests, CommandHeader};

    header_round_trip_tests! {
        unregister_client_request => UnregisterClientRequestHeader,
        consumer_list_request => GetConsumerListByGroupRequestHeader,
    }

    #[test]
    fn client_id_uses_capital_id_on_the_wire() {
        // Goal: the wire key is `clientID`, not `clientId`. Method: encode and inspect.
        let mut fields = ExtFields::new();
        UnregisterClientRequestHeader {
            client_id: "10.0.0.5@1".into(),
            ..Default::default()
        }
        .encode(&mut fields);
        assert_eq!(fields.get("clientID"), Some("10.0.0.5@1"));
        assert!(!fields.contains_key("clientId"));
    }
}
