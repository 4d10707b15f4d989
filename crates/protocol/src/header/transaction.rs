//! Transaction headers (reference 2.2 and 6.4): END_TRANSACTION (37, client -> broker, oneway)
//! and CHECK_TRANSACTION_STATE (39, broker -> producer, oneway).

use super::command_header;

/// `commitOrRollback` value: state unknown (keep the half message for checks).
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// `commitOrRollback` value: commit.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
/// `commitOrRollback` value: rollback.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;

command_header! {
    /// END_TRANSACTION (37) request; the remark may carry the producer's local error.
    EndTransactionRequestHeader {
        /// Topic of the half message (5.x).
        topic: Option<String> = "topic",
        /// Producer group.
        producer_group: String = "producerGroup",
        /// Queue offset of the half message.
        tran_state_table_offset: i64 = "tranStateTableOffset",
        /// CommitLog offset of the half message.
        commit_log_offset: i64 = "commitLogOffset",
        /// 0 unknown / 8 commit / 12 rollback.
        commit_or_rollback: i32 = "commitOrRollback",
        /// True when answering a CHECK_TRANSACTION_STATE.
        from_transaction_check: Option<bool> = "fromTransactionCheck",
        /// Message id (offset id of the half message).
        msg_id: String = "msgId",
        /// Transaction id (UNIQ_KEY).
        transaction_id: Option<String> = "transactionId",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39) request sent by the broker to a producer of the group; the
    /// body is the half message with its real topic and queue restored.
    CheckTransactionStateRequestHeader {
        /// Real topic (5.x).
        topic: Option<String> = "topic",
        /// Queue offset of the half message.
        tran_state_table_offset: i64 = "tranStateTableOffset",
        /// CommitLog offset of the half message.
        commit_log_offset: i64 = "commitLogOffset",
        /// UNIQ_KEY of the message.
        msg_id: Option<String> = "msgId",
        /// Transaction id.
        transaction_id: Option<String> = "transactionId",
        /// Offset message id.
        offset_msg_id: Option<String> = "offsetMsgId",
        /// Broker name (RPC key `bname`).
        broker_name: Option<String> = "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_round_trip_tests;

    header_round_trip_tests! {
        end_transaction_request => EndTransactionRequestHeader,
        check_transaction_request => CheckTransactionStateRequestHeader,
    }
}
