//! # ferromq-store
//!
//! The message store: RocketMQ's CommitLog + ConsumeQueue + IndexFile design and on-disk formats.
//!
//! Components:
//! - [`fs`]: the `Fs`/`StoreFile` abstraction, the real implementation and `SimFs`;
//! - [`config`]: `MessageStoreConfig` under RocketMQ key names;
//! - [`mapped_file`]: fixed-size segment files and the queue of them.
//!
//! Invariants:
//! - all file access goes through [`fs::Fs`]; `unsafe` lives only in [`fs::real`];
//! - no sockets and no async runtime in this crate.

pub mod checkpoint;
pub mod commit_log;
pub mod config;
pub mod consume_queue;
mod dispatch;
pub mod error;
pub mod file_cache;
pub mod flush;
pub mod fs;
pub mod index_file;
pub mod mapped_file;
mod record_crc;
mod recovery;
mod retention;
pub mod store;

pub use config::{FlushDiskType, MessageStoreConfig};
pub use consume_queue::{ArrivalListener, CqEntry};
pub use dispatch::{tags_code, SCHEDULE_TOPIC};
pub use error::{StoreError, StoreResult};
pub use flush::{FlushOutcome, FlushTicket};
pub use store::{GetMessageResult, GetMessageStatus, MessageStore, PutMessageResult, PutMessageStatus};
