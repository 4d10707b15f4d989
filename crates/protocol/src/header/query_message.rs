//! QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) headers (reference 2.2).

use super::command_header;

command_header! {
    /// QUERY_MESSAGE (12) request: look messages up by key in the IndexFile.
    QueryMessageRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Message key (or UNIQ_KEY when `_UNIQUE_KEY_QUERY` is true).
        key: String = "key",
        /// Max messages to return.
        max_num: i32 = "maxNum",
        /// Lower bound of store time (ms).
        begin_timestamp: i64 = "beginTimestamp",
        /// Upper bound of store time (ms).
        end_timestamp: i64 = "endTimestamp",
        /// "true" when `key` is a UNIQ_KEY (then maxNum := defaultQueryMaxNum).
        unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

command_header! {
    /// QUERY_MESSAGE (12) response.
    QueryMessageResponseHeader {
        /// Last update time of the index.
        index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        /// Last CommitLog offset indexed (sic: `Phyoffset`).
        index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID (33) request; the offset is decoded from an offsetMsgId.
    ViewMessageRequestHeader {
        /// Topic (5.x).
        topic: Option<String> = "topic",
        /// CommitLog physical offset.
        offset: i64 = "offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_round_trip_tests;

    header_round_trip_tests! {
        query_request => QueryMessageRequestHeader,
        query_response => QueryMessageResponseHeader,
        view_request => ViewMessageRequestHeader,
    }
}
