//! Where the trace goes: a file, through `wasi:filesystem@0.2` (recording build only).
//!
//! Files are opened and written with functions that may block, which a synchronous call cannot
//! do in the component model: the recorder writes only during the application's async calls
//! (and `stats.flush`), and keeps records in memory in between.

#[cfg(feature = "record")]
mod file {
    use crate::bindings::wasi::cli0_2_12::stderr;
    use crate::bindings::wasi::filesystem0_2_12::{preopens, types};
    use crate::bindings::wasi::io::streams::{OutputStream, StreamError};

    /// The trace file: not yet opened, open, or failed.
    pub enum Sink {
        Unopened(String),
        Open(OutputStream),
        Failed(String),
    }

    impl Sink {
        pub fn new(path: &str) -> Self {
            Self::Unopened(path.into())
        }

        /// Writes `bytes` at the end of the trace, opening it at the first write. Only in an
        /// async call: it may block.
        pub fn write(&mut self, bytes: &[u8]) {
            if let Self::Unopened(path) = self {
                *self = match open(path) {
                    Ok(stream) => Self::Open(stream),
                    Err(why) => {
                        // The operator asked for a trace: running without one would hide that.
                        let message = format!("webgpu-virt: cannot record the trace to `{path}`: {why}\n");
                        let _ = stderr::get_stderr().blocking_write_and_flush(message.as_bytes());
                        panic!("{message}");
                    }
                };
            }
            let Self::Open(stream) = self else { return };
            if let Err(e) = write_all(stream, bytes) {
                *self = Self::Failed(e);
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

    /// Opens `path` for writing, empty: a relative path in the first preopened directory, an
    /// absolute one in the preopened directory whose name is its longest prefix.
    fn open(path: &str) -> Result<OutputStream, String> {
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
        let file = dir.open_at(types::PathFlags::empty(), rest, flags, types::DescriptorFlags::WRITE).map_err(|e| format!("{e:?}"))?;
        file.write_via_stream(0).map_err(|e| format!("{e:?}"))
    }

    fn names(dirs: &[(types::Descriptor, String)]) -> String {
        let names: Vec<&str> = dirs.iter().map(|(_, n)| n.as_str()).collect();
        if names.is_empty() { "none".into() } else { names.join(", ") }
    }

    fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), String> {
        let failed = |e: StreamError| match e {
            StreamError::LastOperationFailed(e) => e.to_debug_string(),
            StreamError::Closed => "the file was closed".into(),
        };
        while !bytes.is_empty() {
            let room = stream.check_write().map_err(failed)? as usize;
            if room == 0 {
                stream.subscribe().block();
                continue;
            }
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            stream.write(now).map_err(failed)?;
            bytes = later;
        }
        stream.blocking_flush().map_err(failed)
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
    pub fn new(_: &str) -> Self {
        Self
    }

    pub fn write(&mut self, _: &[u8]) {
        panic!("webgpu-virt: this virt was built without recording; use the recording build (`webgpu-virt configure --record`)");
    }

    pub fn failed(&self) -> Option<&str> {
        None
    }
}
