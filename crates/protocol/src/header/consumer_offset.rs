//! Consumer offset and queue offset headers (reference 2.2 and 7.4): QUERY/UPDATE_CONSUMER_OFFSET,
//! GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME.

use super::command_header;

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) request.
    QueryConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Answer 0 instead of QUERY_NOT_FOUND when the queue still holds offset 0 (default true).
        set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
    }
}

command_header! {
    /// QUERY_CONSUMER_OFFSET (14) response.
    QueryConsumerOffsetResponseHeader {
        /// The stored consumer offset.
        offset: i64 = "offset",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request (usually oneway).
    UpdateConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Offset to store.
        commit_offset: i64 = "commitOffset",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15) response: no fields.
    UpdateConsumerOffsetResponseHeader {}
}

command_header! {
    /// GET_MAX_OFFSET (30) request.
    GetMaxOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Only count committed (dispatched) messages; Java default true.
        committed: Option<bool> = "committed",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30) response.
    GetMaxOffsetResponseHeader {
        /// Next queue offset (0 for an unknown queue).
        offset: i64 = "offset",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31) request.
    GetMinOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31) response.
    GetMinOffsetResponseHeader {
        /// Queue's min offset.
        offset: i64 = "offset",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request.
    SearchOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Store timestamp (ms) searched.
        timestamp: i64 = "timestamp",
        /// `lower` (default) or `upper`.
        boundary_type: Option<String> = "boundaryType",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) response.
    SearchOffsetResponseHeader {
        /// Queue offset found.
        offset: i64 = "offset",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request.
    GetEarliestMsgStoretimeRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) response.
    GetEarliestMsgStoretimeResponseHeader {
        /// Store timestamp (ms) of the queue's first message.
        timestamp: i64 = "timestamp",
    }
}

/// `boundaryType` of SEARCH_OFFSET_BY_TIMESTAMP (`BoundaryType.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoundaryType {
    /// First offset whose store time is >= the timestamp (default).
    #[default]
    Lower,
    /// Last offset whose store time is <= the timestamp.
    Upper,
}

impl SearchOffsetRequestHeader {
    /// The boundary, Java style: "upper" in any case is `Upper`, anything else `Lower`.
    pub fn boundary(&self) -> BoundaryType {
        match &self.boundary_type {
            Some(value) if value.eq_ignore_ascii_case("upper") => BoundaryType::Upper,
            _ => BoundaryType::Lower,
        }
    }
}

impl GetMaxOffsetRequestHeader {
    /// `committed` with Java's default (true).
    pub fn committed_or_default(&self) -> bool {
        self.committed.unwrap_or(true)
    }
}

impl QueryConsumerOffsetRequestHeader {
    /// `setZeroIfNotFound` with Java's default (true).
    pub fn set_zero_if_not_found_or_default(&self) -> bool {
        self.set_zero_if_not_found.unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_round_trip_tests;

    header_round_trip_tests! {
        query_offset_request => QueryConsumerOffsetRequestHeader,
        query_offset_response => QueryConsumerOffsetResponseHeader,
        update_offset_request => UpdateConsumerOffsetRequestHeader,
        update_offset_response => UpdateConsumerOffsetResponseHeader,
        max_offset_request => GetMaxOffsetRequestHeader,
        max_offset_response => GetMaxOffsetResponseHeader,
        min_offset_request => GetMinOffsetRequestHeader,
        min_offset_response => GetMinOffsetResponseHeader,
        search_offset_request => SearchOffsetRequestHeader,
        search_offset_response => SearchOffsetResponseHeader,
        earliest_request => GetEarliestMsgStoretimeRequestHeader,
        earliest_response => GetEarliestMsgStoretimeResponseHeader,
    }

    #[test]
    fn defaults_follow_java_when_fields_are_absent() {
        // Goal: absent optional flags take Java's defaults. Method: default headers.
        assert!(GetMaxOffsetRequestHeader::default().committed_or_default());
        assert!(QueryConsumerOffsetRequestHeader::default().set_zero_if_not_found_or_default());
        assert_eq!(SearchOffsetRequestHeader::default().boundary(), BoundaryType::Lower);
        let upper = SearchOffsetRequestHeader {
            boundary_type: Some("UPPER".into()),
            ..Default::default()
        };
        assert_eq!(upper.boundary(), BoundaryType::Upper);
    }
}
