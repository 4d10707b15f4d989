//! RELIABILITY.md T6: disk full.
//!
//! - Over `SimFs`: at the hard watermark puts are refused with `DiskFull` while reads work;
//!   freeing space lets puts resume without a restart; retention deletes expired segments and
//!   the ConsumeQueue files below the new minimum.
//! - On a real small tmpfs (a child process in `unshare -rm` with `mount -t tmpfs -o size=`):
//!   filling it gives a clean error (no SIGBUS), reads keep working. Skipped with a printed
//!   reason where user namespaces or tmpfs mounts are unavailable.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::message::MessageRecord;
use ferromq_store::fs::real::RealFs;
use ferromq_store::fs::sim::SimFs;
use ferromq_store::fs::Fs;
use ferromq_store::{MessageStore, MessageStoreConfig, StoreError};

fn config(root: &str) -> MessageStoreConfig {
    let mut c = MessageStoreConfig::with_root(root);
    c.mapped_file_size_commit_log = 80 * 1024;
    c.mapped_file_size_consume_queue = 10 * 20;
    c.max_message_size = 8 * 1024;
    c.max_hash_slot_num = 32;
    c.max_index_num = 200;
    c.clean_resource_interval = 3_600_000; // passes are run by hand
    c
}

fn msg(i: usize) -> MessageRecord {
    MessageRecord::new("T", Bytes::from(vec![i as u8; 2000]))
}

// Goal: watermark refuses puts, reads continue, freeing space resumes puts without restart,
// retention deletes expired segments and CQ files. Method: SimFs capacity + reserved bytes.
#[test]
fn disk_full_refuses_puts_keeps_reads_and_recovers_when_space_is_freed() {
    let fs = SimFs::new();
    fs.set_capacity(10 << 20);
    let now = Arc::new(AtomicI64::new(0));
    let n = Arc::clone(&now);
    let clock = Arc::new(move || n.load(Ordering::SeqCst));
    // Hour 12 UTC: not a deleteWhen hour.
    now.store(12 * 3_600_000, Ordering::SeqCst);
    fs.set_now_ms(12 * 3_600_000);
    let store = MessageStore::open_with_clock(config("/s"), Arc::new(fs.clone()), clock).unwrap();
    for i in 0..200 {
        store.put_message(&msg(i)).unwrap();
    }
    store.checkpoint_now().unwrap();
    store.run_retention_now().unwrap();
    assert!(!store.is_disk_full());
    // Someone else fills the disk to 95%: above diskSpaceCleanForciblyRatio (85%) the oldest
    // segments go even unexpired (RocketMQ behaviour), above 90% puts are refused.
    fs.set_reserved(9_500_000);
    store.run_retention_now().unwrap();
    assert!(store.is_disk_full());
    assert!(matches!(store.put_message(&msg(0)), Err(StoreError::DiskFull { .. })));
    let min = store.min_offset_in_queue("T", 0);
    assert!(min > 0, "forced deletion raised the queue minimum");
    let got = store.get_messages("T", 0, min, 10, usize::MAX, None).unwrap();
    assert_eq!(got.messages.len(), 10, "reads keep working: {:?}", got.status);
    // Space is freed: puts resume after the next pass, no restart.
    fs.set_reserved(0);
    store.run_retention_now().unwrap();
    assert!(!store.is_disk_full());
    for i in 0..200 {
        store.put_message(&msg(i)).unwrap();
    }

    // Retention: 80 hours later at 04:00 UTC every segment but the newest is expired.
    let later = 100 * 3_600_000; // day 5, 04:00 UTC, 88 h after the writes
    now.store(later, Ordering::SeqCst);
    let before = store.min_phy_offset();
    store.checkpoint_now().unwrap();
    store.run_retention_now().unwrap();
    assert!(store.min_phy_offset() > before, "expired segments deleted");
    assert!(store.min_offset_in_queue("T", 0) > 0, "ConsumeQueue minimum follows");
    let got = store.get_messages("T", 0, 0, 10, usize::MAX, None).unwrap();
    assert_eq!(got.status, ferromq_store::GetMessageStatus::OffsetTooSmall);
    let got = store
        .get_messages("T", 0, got.next_begin_offset, 10, usize::MAX, None)
        .unwrap();
    assert_eq!(got.messages.len(), 10);
    assert!(fs.file_count() > 0);
    assert!(
        !fs.exists(Path::new("/s/consumequeue/T/0/00000000000000000000")),
        "old CQ file deleted"
    );
}

/// Child mode: run inside a fresh mount namespace with a 2 MiB tmpfs at `dir`.
fn child_fill_tmpfs(dir: &str) {
    let mut c = config(dir);
    c.clean_resource_interval = 10;
    let store = MessageStore::open(c, Arc::new(RealFs::new())).unwrap();
    let mut stored = 0;
    let mut failed = None;
    for i in 0..10_000 {
        match store.put_message(&msg(i)) {
            Ok(_) => stored += 1,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.expect("a 2 MiB tmpfs must fill up");
    assert!(
        matches!(
            err,
            StoreError::CreateMappedFileFailed { .. } | StoreError::DiskFull { .. }
        ),
        "clean error expected, got {err}"
    );
    // Dispatch may also hit ENOSPC creating a ConsumeQueue file: a clean error, nothing corrupt.
    if let Err(e) = store.dispatch_now() {
        println!("dispatch stopped cleanly: {e}");
    }
    let got = store.get_messages("T", 0, 0, 5, usize::MAX, None).unwrap();
    assert_eq!(got.messages.len(), 5, "reads keep working");
    println!("CHILD-OK stored={stored} error={err}");
}

// Goal: on a real full tmpfs the store fails cleanly (no SIGBUS) and keeps serving reads.
// Method: re-run this test binary as a child under `unshare -rm` with a 2 MiB tmpfs mounted.
#[test]
fn real_tmpfs_full_gives_clean_error_not_sigbus() {
    if let Ok(dir) = std::env::var("FERROMQ_TMPFS_CHILD") {
        child_fill_tmpfs(&dir);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs {d} && FERROMQ_TMPFS_CHILD={d}/store exec {} --exact real_tmpfs_full_gives_clean_error_not_sigbus --nocapture",
        exe.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            println!("SKIP: cannot run unshare: {e}");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success()
        && (stderr.contains("unshare failed")
            || stderr.contains("mount:")
            || stderr.contains("Operation not permitted"))
        && !stdout.contains("CHILD")
    {
        println!("SKIP: no user namespace / tmpfs mount here: {stderr}");
        return;
    }
    assert!(
        stdout.contains("CHILD-OK"),
        "child failed: status {:?}\nstdout {stdout}\nstderr {stderr}",
        out.status
    );
}
