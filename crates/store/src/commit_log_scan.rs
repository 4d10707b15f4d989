//! The CommitLog recovery scan ([`CommitLog::recover`]): validates every record from a start
//! offset (magic, size, stored physical offset, whole-record CRC or, for records without it,
//! body CRC), reports each valid record, truncates the log at the first invalid byte and makes
//! the scanned range durable.

use std::sync::atomic::Ordering;

use ferromq_protocol::message::{
    decode_record, masked_crc32, peek_record_header, MessageError, MessageRecord, RecordKind,
};

use super::{CommitLog, RecoverSummary};
use crate::error::{StoreError, StoreResult};
use crate::mapped_file::MappedFile;
use crate::record_crc;

impl CommitLog {
    /// Scans from `from` (clamped to the stored range), validating each record, calls
    /// `on_record` for every valid record at or past `dispatch_from`, and truncates the log at
    /// the first invalid byte. Records at or past `prop_crc_from` must carry the whole-record
    /// CRC property (see [`crate::record_crc`]). Idempotent.
    pub fn recover(
        &self,
        from: u64,
        check_crc: bool,
        mut on_record: impl FnMut(&MessageRecord, i64, i32) -> StoreResult<()>,
        dispatch_from: u64,
        prop_crc_from: Option<u64>,
    ) -> StoreResult<RecoverSummary> {
        let files = self.queue.files();
        let mut summary = RecoverSummary {
            end_offset: self.min_offset(),
            records: 0,
            cut_reason: None,
        };
        let size = self.queue.file_size();
        let from = from.max(self.min_offset());
        let start_index = files
            .iter()
            .position(|f| from < f.start_offset() + size)
            .unwrap_or(files.len());
        if let Some(f) = files.get(start_index) {
            summary.end_offset = f.start_offset();
        } else if let Some(f) = files.last() {
            summary.end_offset = f.start_offset() + size;
        }
        let mut require_crc = false;
        'files: for f in files.iter().skip(start_index) {
            let mut pos = 0u64;
            summary.end_offset = f.start_offset();
            while pos < size {
                let phy = f.start_offset() + pos;
                if prop_crc_from.is_some_and(|from| f.start_offset() + pos >= from) {
                    require_crc = true;
                }
                match self.check_record_at(f, pos, check_crc, &mut require_crc) {
                    Ok(Scan::Record(record, total)) => {
                        if phy >= dispatch_from {
                            on_record(&record, phy as i64, total)?;
                        }
                        summary.records += 1;
                        pos += total as u64;
                        summary.end_offset = f.start_offset() + pos;
                    }
                    Ok(Scan::Blank) => {
                        summary.end_offset = f.start_offset() + size;
                        continue 'files;
                    }
                    Ok(Scan::End) => break 'files,
                    Err(reason) => {
                        tracing::warn!(file = %f.path().display(), phy_offset = phy, bytes = size - pos, %reason,
                            "CommitLog recovery: invalid record; truncating the log here");
                        summary.cut_reason = Some(reason);
                        break 'files;
                    }
                }
            }
            summary.end_offset = f.start_offset() + size;
        }
        self.lock_put().segment = None;
        self.queue.truncate_dirty(summary.end_offset)?;
        // What was scanned may still be only in the page cache (a process crash): make it
        // durable before reporting it flushed, or a later checkpoint could claim it.
        for f in self.queue.files().iter().skip(start_index) {
            let len = summary.end_offset.saturating_sub(f.start_offset()).min(size);
            if len > 0 {
                f.file()
                    .sync_range(0, len)
                    .map_err(|e| StoreError::io("sync", f.path(), e))?;
            }
        }
        self.flushed_where.store(summary.end_offset, Ordering::Release);
        Ok(summary)
    }

    fn check_record_at(
        &self,
        f: &MappedFile,
        pos: u64,
        check_crc: bool,
        require_crc: &mut bool,
    ) -> Result<Scan, String> {
        let size = f.file_size();
        let phy = f.start_offset() + pos;
        let mut head = [0u8; 8];
        if size - pos < 8 {
            return Err(format!(
                "{} bytes left in the segment, no room for a header",
                size - pos
            ));
        }
        f.read_raw(pos, &mut head).map_err(|e| e.to_string())?;
        let header = peek_record_header(&head).map_err(|e| e.to_string())?;
        match header.kind() {
            RecordKind::EndOfData => Ok(Scan::End),
            RecordKind::Blank => {
                if i64::from(header.total_size) == (size - pos) as i64 {
                    Ok(Scan::Blank)
                } else {
                    Err(format!(
                        "BLANK marker size {} does not reach the segment end",
                        header.total_size
                    ))
                }
            }
            RecordKind::Garbage => Err(format!("bad magic {:#010x}", header.magic as u32)),
            RecordKind::Message(_) => {
                let total = u64::try_from(header.total_size).map_err(|_| "negative total size".to_string())?;
                if total < 8 || total > size - pos || total as usize > self.max_message_size + 64 * 1024 + 32 * 1024 {
                    return Err(format!("total size {total} is impossible here"));
                }
                let bytes = f.file().view(pos, total as usize).map_err(|e| e.to_string())?;
                // Structure first; the body CRC below only when no whole-record CRC covers it.
                let record = decode_record(&bytes, false).map_err(|e| e.to_string())?;
                if record.phy_offset != phy as i64 {
                    return Err(format!(
                        "stored phy offset {} differs from position {phy}",
                        record.phy_offset
                    ));
                }
                if check_crc {
                    let outcome = record_crc::check(&bytes, &record.properties, *require_crc)?;
                    *require_crc |= outcome == record_crc::CrcCheck::Matches;
                    // A matching whole-record CRC covers the body and its stored BODYCRC, so
                    // checking the body again would re-read the same bytes for nothing.
                    if outcome == record_crc::CrcCheck::Absent {
                        let computed = masked_crc32(&record.body);
                        if computed != record.body_crc {
                            return Err(MessageError::CrcMismatch {
                                stored: record.body_crc,
                                computed,
                            }
                            .to_string());
                        }
                    }
                }
                Ok(Scan::Record(Box::new(record), header.total_size))
            }
        }
    }
}

enum Scan {
    Record(Box<MessageRecord>, i32),
    Blank,
    End,
}
