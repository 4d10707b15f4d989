//! [`MappedFileQueue`]: the ordered segments of one directory (the CommitLog), the background
//! allocator that pre-creates the next segment, and (with `populate_ahead`) the thread that
//! keeps the last segment's mapping populated ahead of its commits (`crate::populate`).
//!
//! Invariants: see the parent module (segments are contiguous; a pre-created segment is taken
//! only for the start offset it was created for; the appender never creates a segment the
//! allocator is creating).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;

use super::{file_name_to_offset, MappedFile, SegmentOptions};
use crate::error::{StoreError, StoreResult};
use crate::fs::Fs;
use crate::populate::Populate;

#[derive(Debug, Default)]
struct AllocatorState {
    /// Start offset requested for pre-creation.
    wanted: Option<u64>,
    /// The segment the allocator is creating right now.
    in_progress: Option<u64>,
    /// A pre-created segment ready to be taken.
    ready: Option<MappedFile>,
    shutdown: bool,
}

#[derive(Debug)]
struct Allocator {
    state: Mutex<AllocatorState>,
    cond: Condvar,
}

/// The ordered segments of one directory (the CommitLog).
#[derive(Debug)]
pub struct MappedFileQueue {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    file_size: u64,
    options: SegmentOptions,
    files: Arc<RwLock<Vec<Arc<MappedFile>>>>,
    allocator: Arc<Allocator>,
    allocator_thread: Mutex<Option<JoinHandle<()>>>,
    /// With `options.populate_ahead`: the populate state every segment reports its commits to.
    populate: Option<Arc<Populate>>,
    populate_thread: Mutex<Option<JoinHandle<()>>>,
}

impl MappedFileQueue {
    /// Loads the segments in `dir` (creating the directory) and starts the background allocator.
    pub fn load(fs: Arc<dyn Fs>, dir: PathBuf, file_size: u64, options: SegmentOptions) -> StoreResult<Self> {
        fs.create_dir_all(&dir)
            .map_err(|e| StoreError::io("create dir", &dir, e))?;
        let names = fs.list_dir(&dir).map_err(|e| StoreError::io("list dir", &dir, e))?;
        let mut files: Vec<MappedFile> = Vec::new();
        for name in names {
            let Some(start) = file_name_to_offset(&name) else {
                continue;
            };
            if let Some(prev) = files.last() {
                if start != prev.start_offset + file_size {
                    tracing::warn!(dir = %dir.display(), expected = prev.start_offset + file_size, found = start,
                        "segment gap; ignoring later segments");
                    break;
                }
            } else if start % file_size != 0 {
                return Err(StoreError::InvalidConfig {
                    key: "mappedFileSizeCommitLog",
                    reason: format!("segment {name} is not a multiple of the configured size {file_size}"),
                });
            }
            files.push(MappedFile::open(
                fs.as_ref(),
                dir.join(&name),
                start,
                file_size,
                options,
            )?);
        }
        let populate =
            (options.populate_ahead > 0 && !options.prewrite).then(|| Arc::new(Populate::new(options.populate_ahead)));
        let files = files
            .into_iter()
            .map(|f| Arc::new(f.with_populate(populate.clone())))
            .collect();
        let allocator = Arc::new(Allocator {
            state: Mutex::new(AllocatorState::default()),
            cond: Condvar::new(),
        });
        let queue = MappedFileQueue {
            fs,
            dir,
            file_size,
            options,
            files: Arc::new(RwLock::new(files)),
            allocator,
            allocator_thread: Mutex::new(None),
            populate,
            populate_thread: Mutex::new(None),
        };
        queue.start_allocator();
        queue.start_populate();
        Ok(queue)
    }

    fn start_populate(&self) {
        let Some(populate) = self.populate.clone() else {
            return;
        };
        let files = Arc::clone(&self.files);
        let spawned = std::thread::Builder::new()
            .name("ferromq-populate-commitlog".into())
            .spawn(move || crate::populate::run(&populate, &files));
        match spawned {
            Ok(handle) => *self.populate_thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle),
            // Commits still copy into the mapping; they fault its pages in themselves.
            Err(e) => tracing::warn!(error = %e, "cannot start the CommitLog populate thread"),
        }
    }

    /// The populate state of this queue's segments (tests, diagnostics).
    pub fn populate(&self) -> Option<&Arc<Populate>> {
        self.populate.as_ref()
    }

    fn start_allocator(&self) {
        let alloc = Arc::clone(&self.allocator);
        let fs = Arc::clone(&self.fs);
        let dir = self.dir.clone();
        let (size, options) = (self.file_size, self.options);
        let spawned = std::thread::Builder::new()
            .name("ferromq-allocate-mapped-file".into())
            .spawn(move || loop {
                let wanted = {
                    let mut st = alloc.state.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if st.shutdown {
                            return;
                        }
                        if let Some(w) = st.wanted.take() {
                            st.in_progress = Some(w);
                            break w;
                        }
                        st = alloc.cond.wait(st).unwrap_or_else(|e| e.into_inner());
                    }
                };
                let created = MappedFile::create(fs.as_ref(), &dir, wanted, size, options);
                let mut st = alloc.state.lock().unwrap_or_else(|e| e.into_inner());
                st.in_progress = None;
                match created {
                    Ok(file) => st.ready = Some(file),
                    // Not fatal: the appender creates the segment itself and reports the error then.
                    Err(e) => tracing::warn!(error = %e, "pre-creating the next segment failed"),
                }
                drop(st);
                alloc.cond.notify_all();
            });
        match spawned {
            Ok(handle) => *self.allocator_thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle),
            Err(e) => tracing::warn!(error = %e, "cannot start the segment allocator; segments are created inline"),
        }
    }

    /// Stops the background allocator and the populate thread (joins them).
    pub fn shutdown(&self) {
        self.allocator.state.lock().unwrap_or_else(|e| e.into_inner()).shutdown = true;
        self.allocator.cond.notify_all();
        if let Some(h) = self.allocator_thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
        if let Some(populate) = &self.populate {
            populate.stop();
        }
        if let Some(h) = self.populate_thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    /// Directory of the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Segment size.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }
    /// All segments, oldest first.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// The segments that may hold appended bytes not yet committed (write buffers), oldest first:
    /// those after the newest fully readable one.
    pub fn uncommitted(&self) -> Vec<Arc<MappedFile>> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let from = files
            .iter()
            .rposition(|f| f.read_position() >= f.file_size())
            .map_or(0, |i| i + 1);
        files.get(from..).map(<[_]>::to_vec).unwrap_or_default()
    }
    /// The newest segment.
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).last().cloned()
    }
    /// The oldest segment.
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).first().cloned()
    }
    /// Lowest stored offset (start of the first segment).
    pub fn min_offset(&self) -> u64 {
        self.first().map_or(0, |f| f.start_offset())
    }
    /// End of readable data (appended and committed).
    ///
    /// With write buffers the appender may have moved on to later segments while the tail of an
    /// earlier one is still uncommitted: readable data ends in the oldest segment that is not
    /// fully readable. Segments are committed in order (a segment's BLANK marker only by the
    /// flush, after the segments before it), so a fully readable segment has only fully readable
    /// ones before it, and the search stops at the first one from the newest end.
    pub fn max_offset(&self) -> u64 {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let mut end = None;
        for f in files.iter().rev() {
            let readable = f.read_position();
            if readable >= f.file_size() {
                return end.unwrap_or(f.start_offset() + f.file_size());
            }
            end = Some(f.start_offset() + readable);
        }
        end.unwrap_or(0)
    }
    /// End of durable data.
    pub fn flushed_offset(&self) -> u64 {
        self.last().map_or(0, |f| f.start_offset() + f.flushed_position())
    }

    /// The segment holding `offset`.
    pub fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let first = files.first()?.start_offset();
        let idx = usize::try_from(offset.checked_sub(first)? / self.file_size).ok()?;
        files.get(idx).cloned()
    }

    /// The segment to append to: the last one if it has room, otherwise a new one starting where
    /// the last ends (or at `start_if_empty`). Takes a pre-created segment when one is ready and
    /// asks the allocator for the next one.
    pub fn last_or_create(&self, start_if_empty: u64) -> StoreResult<Arc<MappedFile>> {
        let last = self.last();
        let start = match &last {
            Some(f) if !f.is_full() => return Ok(Arc::clone(f)),
            Some(f) => f.start_offset() + self.file_size,
            None => start_if_empty - start_if_empty % self.file_size,
        };
        let ready = {
            let mut st = self.allocator.state.lock().unwrap_or_else(|e| e.into_inner());
            // Never create a segment the allocator is creating (its zero-fill would race our writes):
            // cancel a queued request for it and wait for an in-progress creation to finish.
            if st.wanted == Some(start) {
                st.wanted = None;
            }
            while st.in_progress == Some(start) && !st.shutdown {
                st = self.allocator.cond.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            match st.ready.take() {
                Some(f) if f.start_offset() == start => Some(f),
                _ => None,
            }
        };
        let file = match ready {
            Some(f) => f,
            None => MappedFile::create(self.fs.as_ref(), &self.dir, start, self.file_size, self.options)?,
        };
        let file = Arc::new(file.with_populate(self.populate.clone()));
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&file));
        self.request_precreate(start + self.file_size);
        Ok(file)
    }

    /// Asks the background allocator to create the segment at `start` ahead of need.
    pub fn request_precreate(&self, start: u64) {
        let mut st = self.allocator.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.ready.as_ref().is_some_and(|f| f.start_offset() == start) {
            return;
        }
        st.wanted = Some(start);
        self.allocator.cond.notify_all();
    }

    /// Recovery: sets the end of data to `offset`, zero-filling the rest of its segment and
    /// deleting later segments. Logs what was cut.
    pub fn truncate_dirty(&self, offset: u64) -> StoreResult<()> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut keep = Vec::with_capacity(files.len());
        for file in files.drain(..) {
            let end = file.start_offset() + self.file_size;
            if end <= offset {
                keep.push(file);
            } else if file.start_offset() <= offset && !(offset == file.start_offset() && offset > 0 && keep.is_empty())
            {
                file.truncate_to(offset - file.start_offset(), self.options.prewrite)?;
                keep.push(file);
            } else {
                tracing::warn!(file = %file.path().display(), offset, "deleting segment past the recovered end");
                self.fs
                    .remove_file(file.path())
                    .map_err(|e| StoreError::io("remove segment", file.path(), e))?;
            }
        }
        *files = keep;
        Ok(())
    }

    /// Deletes the segments that `should_delete` selects, oldest first, stopping at the first it
    /// keeps; never deletes the newest segment. Returns the number deleted.
    pub fn delete_head_while(&self, mut should_delete: impl FnMut(&MappedFile) -> bool) -> StoreResult<usize> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut deleted = 0;
        while files.len() > 1 {
            let Some(first) = files.first() else { break };
            if !should_delete(first) {
                break;
            }
            let first = files.remove(0);
            tracing::info!(file = %first.path().display(), "deleting CommitLog segment");
            self.fs
                .remove_file(first.path())
                .map_err(|e| StoreError::io("remove segment", first.path(), e))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// How this queue's segments are created and written.
    pub fn options(&self) -> SegmentOptions {
        self.options
    }

    /// The file system of this queue.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }
}

impl Drop for MappedFileQueue {
    fn drop(&mut self) {
        self.shutdown();
    }
}
