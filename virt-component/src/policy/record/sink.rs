//! Where the trace goes: a file, through `wasi:filesystem@0.2` (recording build only).
//!
//! A trace must hold every call up to a crash, and an application may crash right after a
//! synchronous call, which cannot block. So records are handed to the runtime as they are made,
//! with stream functions that never block: each write opens a stream at its own place in the
//! file (`write-via-stream`), writes what `check-write` allows (`write`, 64 KiB at most on
//! wasmtime), and the runtime carries it out on its own while the application goes on. Later
//! calls collect the writes that are done (`pollable.ready`, which does not wait); an async
//! call of the application waits for them only if the runtime let them pile up.
//!
//! So the virt holds no record between calls once the file is open. The runtime holds each
//! write's data until it is written (wasmtime writes it at once, on a thread of its own), and
//! its stream until the virt collects it: at most 256 writes (`UNCOLLECTED`). With that many
//! under way, a call looks at the oldest until it is done. A runtime may never let a
//! synchronous call see a write done: wasmtime inside tokio's cooperative budget says "not
//! yet" once a task has polled about 128 times without yielding (`webgpu-virt run` runs
//! outside the budget). So the looking is bounded; after it, the virt keeps the records until a
//! later call finds room, and the application's next wait writes them all.
//!
//! With `record-batched`, records wait in the virt while a write is under way (up to 1 MiB),
//! and go together in the next: one write at a time rather than one a call, which is what
//! costs (on wasmtime, handing each write to a thread), and a look at it every 64 calls. A
//! crash then loses the calls made since the last write started: at most 64, or 1 MiB.
//!
//! Opening the file may block, so it is opened in the first async call (`request-adapter`, the
//! first call that reaches a device); the records before it wait in memory until then.

#[cfg(feature = "record")]
mod file {
    use std::collections::VecDeque;
    use crate::bindings::wasi::cli0_2_12::stderr;
    use crate::bindings::wasi::filesystem0_2_12::{preopens, types};
    use crate::bindings::wasi::io::poll::Pollable;
    use crate::bindings::wasi::io::streams::{OutputStream, StreamError};

    /// The trace file: not yet opened, open, or failed.
    pub enum Sink {
        Unopened { path: String, batched: bool },
        Open(File),
        Failed(String),
    }

    /// The open trace file and the writes under way.
    pub struct File {
        file: types::Descriptor,
        /// Whether records wait while a write is under way (`record-batched`).
        batched: bool,
        /// Batched, hand-overs since the virt last looked whether the write was done.
        unlooked: u32,
        /// Whether the last look at a full set of writes found none done: the runtime does not
        /// let this call see them, so later calls do not look at length again.
        stalled: bool,
        /// Where the next write goes.
        end: u64,
        /// Oldest first.
        writes: VecDeque<Write>,
    }

    /// A write under way: its own stream, and the pollable that says when it is done.
    struct Write {
        // Dropped before the stream it belongs to.
        done: Pollable,
        stream: OutputStream,
    }

    impl Sink {
        pub fn new(path: &str, batched: bool) -> Self {
            Self::Unopened { path: path.into(), batched }
        }

        /// Hands `bytes` to the runtime, to be written at the end of the trace, without
        /// blocking (any call may do it), and empties it. Before the file is open, and while
        /// the runtime holds too many writes, `bytes` is kept.
        pub fn hand_over(&mut self, bytes: &mut Vec<u8>) {
            match self {
                Self::Unopened { .. } => return,
                Self::Failed(_) => {}
                Self::Open(file) => match file.hand_over(bytes) {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(why) => *self = Self::Failed(why),
                },
            }
            bytes.clear();
        }

        /// Opens the file if it is not open yet. Only in an async call: it may block.
        pub fn open(&mut self) {
            let Self::Unopened { path, batched } = self else { return };
            *self = match open(path) {
                Ok(file) => Self::Open(File { file, batched: *batched, unlooked: 0, stalled: false, end: 0, writes: VecDeque::new() }),
                Err(why) => {
                    // The operator asked for a trace: running without one would hide that.
                    let message = format!("webgpu-virt: cannot record the trace to `{path}`: {why}\n");
                    let _ = stderr::get_stderr().blocking_write_and_flush(message.as_bytes());
                    panic!("{message}");
                }
            };
        }

        /// Hands `bytes` over, as [`Self::hand_over`], and if that leaves records in the virt, or
        /// the runtime holds many writes not yet collected, waits for the writes and hands the
        /// rest over. Only in an async call. On a runtime that lets synchronous calls collect
        /// their writes it never waits, so the application's waits are not made longer.
        pub fn catch_up(&mut self, bytes: &mut Vec<u8>) {
            self.hand_over(bytes);
            let behind = matches!(self, Self::Open(file) if file.writes.len() >= UNCOLLECTED / 2);
            if behind || !bytes.is_empty() {
                self.write_all(bytes);
            }
        }

        /// Hands `bytes` over and waits until every write is done. Only in an async call.
        pub fn write_all(&mut self, bytes: &mut Vec<u8>) {
            self.open();
            // Bytes that waited for the writes under way (batched, or past the cap) go once
            // those are done: then nothing holds them back.
            loop {
                self.hand_over(bytes);
                if let Self::Open(file) = self {
                    if let Err(why) = file.finish() {
                        *self = Self::Failed(why);
                    }
                }
                if bytes.is_empty() {
                    return;
                }
            }
        }

        /// Why writing stopped, if it did.
        pub fn failed(&self) -> Option<&str> {
            match self {
                Self::Failed(why) => Some(why),
                _ => None,
            }
        }
    }

    /// Writes the runtime may hold, done or not, before a call waits for one (a call that
    /// starts below it may add the writes of its own records, 64 KiB each).
    const UNCOLLECTED: usize = 256;

    /// Batched, records wait for the write under way until there are this many bytes.
    const BATCH: usize = 1 << 20;

    /// Batched, hand-overs between two looks at the write under way.
    const LOOK_EVERY: u32 = 64;

    /// How many times the virt looks at the oldest write before it gives up waiting for it
    /// and keeps the records itself (milliseconds of looking, on wasmtime).
    const LOOKS: u32 = 1 << 16;

    impl File {
        /// Hands `bytes` over, unless the runtime already holds [`UNCOLLECTED`] writes and
        /// none of them finishes while the virt looks: then it returns `Ok(false)`, and the
        /// caller keeps the bytes until a later call.
        fn hand_over(&mut self, bytes: &[u8]) -> Result<bool, String> {
            if self.batched && !self.writes.is_empty() && bytes.len() < BATCH {
                // Batched: the records wait for the write under way, which is looked at only
                // now and then (each look is a call to the runtime, the cost batching saves).
                self.unlooked += 1;
                if self.unlooked < LOOK_EVERY {
                    return Ok(false);
                }
                self.unlooked = 0;
                self.collect()?;
                if !self.writes.is_empty() {
                    return Ok(false);
                }
            }
            self.collect()?;
            if self.writes.len() >= UNCOLLECTED {
                // A runtime that lets a synchronous call see its writes done (`ready`) frees
                // one in a few microseconds; one that does not never will, so the wait is short,
                // and once it has come to nothing, later calls only collect.
                if !self.stalled {
                    for _ in 0..LOOKS {
                        if self.writes.front().is_none_or(|w| w.done.ready()) {
                            break;
                        }
                    }
                    self.collect()?;
                }
                self.stalled = self.writes.len() >= UNCOLLECTED;
                if self.stalled {
                    return Ok(false);
                }
            }
            let mut rest = bytes;
            while !rest.is_empty() {
                let stream = self.file.write_via_stream(self.end).map_err(|e| format!("{e:?}"))?;
                let room = stream.check_write().map_err(failed)?;
                let n = usize::try_from(room).unwrap_or(usize::MAX).min(rest.len());
                if n == 0 {
                    return Err("the file takes no more bytes (`check-write` allows none on a new stream)".into());
                }
                let (now, later) = rest.split_at(n);
                stream.write(now).map_err(failed)?;
                self.end += n as u64;
                self.writes.push_back(Write { done: stream.subscribe(), stream });
                rest = later;
            }
            Ok(true)
        }

        /// Collects the writes that are done, oldest first, and their errors. It stops at the
        /// first that is not: writes finish about in the order they started, and each look
        /// is a call to the runtime.
        fn collect(&mut self) -> Result<(), String> {
            while let Some(w) = self.writes.front() {
                if !w.done.ready() {
                    break;
                }
                // A write that failed says so at the next `check-write`.
                let checked = w.stream.check_write();
                self.writes.pop_front();
                checked.map_err(failed)?;
            }
            Ok(())
        }

        /// Waits for every write. Only in an async call.
        fn finish(&mut self) -> Result<(), String> {
            for w in &self.writes {
                w.done.block();
            }
            self.stalled = false;
            self.collect()
        }
    }

    fn failed(e: StreamError) -> String {
        match e {
            StreamError::LastOperationFailed(e) => e.to_debug_string(),
            StreamError::Closed => "the file was closed".into(),
        }
    }

    /// Opens `path` for writing, empty: a relative path in the first preopened directory, an
    /// absolute one in the preopened directory whose name is its longest prefix.
    fn open(path: &str) -> Result<types::Descriptor, String> {
        let dirs = preopens::get_directories();
        let (dir, rest) = if path.starts_with('/') {
            dirs.iter()
                .filter_map(|(d, name)| {
                    let name = name.trim_end_matches('/');
                    let rest = path.strip_prefix(name)?.strip_prefix('/')?;
                    Some((d, rest, name.len()))
                })
                .max_by_key(|(_, _, len)| *len)
                .map(|(d, rest, _)| (d, rest))
                .ok_or_else(|| format!("no preopened directory holds it (preopened: {})", names(&dirs)))?
        } else {
            let (d, _) = dirs.first().ok_or("no directory is preopened (with `webgpu-virt run`: --dir)")?;
            (d, path)
        };
        let flags = types::OpenFlags::CREATE | types::OpenFlags::TRUNCATE;
        dir.open_at(types::PathFlags::empty(), rest, flags, types::DescriptorFlags::WRITE).map_err(|e| format!("{e:?}"))
    }

    fn names(dirs: &[(types::Descriptor, String)]) -> String {
        let names: Vec<&str> = dirs.iter().map(|(_, n)| n.as_str()).collect();
        if names.is_empty() { "none".into() } else { names.join(", ") }
    }
}

#[cfg(feature = "record")]
pub use file::Sink;

/// Without the recording build there is nowhere to write: the configuration that asks for a
/// trace is refused by `webgpu-virt configure`, and a virt given one anyway says so at its
/// first write.
#[cfg(not(feature = "record"))]
pub struct Sink;

#[cfg(not(feature = "record"))]
impl Sink {
    pub fn new(_: &str, _: bool) -> Self {
        Self
    }

    pub fn hand_over(&mut self, _: &mut Vec<u8>) {}

    pub fn catch_up(&mut self, _: &mut Vec<u8>) {}

    pub fn open(&mut self) {
        panic!("webgpu-virt: this virt was built without recording; use the recording build (`webgpu-virt configure --record`)");
    }

    pub fn write_all(&mut self, _: &mut Vec<u8>) {
        self.open();
    }

    pub fn failed(&self) -> Option<&str> {
        None
    }
}
