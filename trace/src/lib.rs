//! The trace format of webgpu-virt: what the recording virt writes, and what the replayer and
//! the trace tools (`webgpu-virt trace dump|stats|diff`) read. One crate for every side, so that
//! all agree on every byte.
//!
//! A trace is append-only: a header, then records. A run that crashes leaves a readable prefix;
//! a run that finishes ends with an [`Record::End`] record (version 3), which is how a reader
//! tells the two apart. Every number below is unsigned LEB128 (`uleb`) unless said
//! otherwise; `bytes` is a `uleb` length followed by that many bytes.
//!
//! # Header
//!
//! | field | encoding | |
//! |---|---|---|
//! | magic | 8 bytes | [`MAGIC`], `WGVTRACE` |
//! | version | u16, little-endian | [`VERSION`]; a reader reads [`OLDEST`] to [`VERSION`] and refuses any other |
//! | flags | u16, little-endian | [`DEFLATED`] (bit 0) or 0; a reader refuses a flag it does not know |
//! | package | bytes (UTF-8) | the WIT interface recorded, `wasi:webgpu/webgpu@0.3.0-rc.2` |
//! | WIT hash | 32 bytes | SHA-256 of the interface's WIT text, as the recorder was built with |
//!
//! With [`DEFLATED`] set, everything after the header is one raw DEFLATE stream (RFC 1951) of
//! the records; inflated, it is the records exactly as an uncompressed trace holds them. The
//! recorder writes uncompressed traces (`webgpu-virt trace compress` compresses one); readers
//! inflate first ([`inflated`]), and then name offsets in the inflated records.
//!
//! # Records
//!
//! Each record is `kind: u8`, `length: uleb` (at most [`MAX_RECORD`]), then `length` bytes of
//! payload, whose layout depends on the kind ([`Record`]):
//!
//! | kind | record | payload |
//! |---|---|---|
//! | 1 | [`Record::Call`] | `function: uleb`, then the arguments |
//! | 2 | [`Record::Return`] | `call: uleb`, then the result |
//! | 3 | [`Record::Drop`] | `object: uleb` |
//! | 4 | [`Record::Blob`] | `hash: 16 bytes`, then the data to the end of the payload |
//! | 5 | [`Record::Resolve`] | `handle: uleb`, then the value |
//! | 6 | [`Record::Guest`] | the guest's name, UTF-8, to the end of the payload (version 2) |
//! | 7 | [`Record::Tenant`] | `guest: uleb` (version 2) |
//! | 8 | [`Record::End`] | `calls: uleb`, the number of `Call` records before it (version 3) |
//! | 9 | [`Record::GpuTime`] | `call: uleb`, `ns: uleb` (version 4) |
//!
//! A recorder writes records as the calls happen, several writes in flight at once, each at its
//! own place in the file. A run that is killed can therefore leave a gap of zero bytes where a
//! write never reached the file, possibly with records after it. A reader stops at the gap, as
//! at any cut ([`TraceError::Truncated`]): kind 0 is no record.
//!
//! # Blob hashes
//!
//! A `Blob` names its data by a 128-bit hash ([`hash`]): from version 3, XXH3-128 with the
//! default secret and seed 0, written as the 128-bit value's little-endian bytes. Versions 1
//! and 2 used this project's own hash ([`hash::legacy128`]); a reader checks each blob with its
//! trace's hash.
//!
//! A pod's trace (version 2) names its guests first, one `Guest` record each, numbered from 0 in
//! their order; a `Tenant` record says which guest made the calls that follow it, until the
//! next one (before the first, guest 0). A trace of one application has neither (and version 1
//! traces, which are read as they are, never have them).
//!
//! Calls are numbered from 0 in the order of their `Call` records; blobs from 0 in the order of
//! their `Blob` records. `function` is the function's index among the interface's functions in
//! the WIT's order of declaration (resource methods where their resource declares them).
//!
//! Arguments, results and values are the WIT values of the call, in the order of the WIT, in the
//! encoding of [`value`]: a method's arguments start with the object called. Resources are the
//! object ids the recorder assigned (from 1, never reused), except `gpu-error` (its kind's case
//! index, then its message) and `gpu-device-lost-info` (its reason, then its message), which are
//! recorded by value; bulk data (`list<u8>`, shader source) refers to a blob by number, so that data
//! seen twice is stored once. A synchronous function's `Return` follows its `Call` at once, and
//! is left out when the function returns nothing; an async function's comes when it completes,
//! after whatever calls were made meanwhile, which is the order replay keeps. A future or stream
//! that a call returns is recorded as that call's number; `Resolve` records, under that number,
//! the value a future resolved to or a stream produced (`lost`'s device-loss information, each
//! error of an `on-uncaptured-error` stream), when the application was given it.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod hash;
mod read;
pub mod value;
mod write;

pub use read::{Reader, Records, deflated, inflated};
pub use write::{BlobIds, header, push};

use alloc::string::String;
use core::fmt;

/// The first bytes of every trace.
pub const MAGIC: [u8; 8] = *b"WGVTRACE";

/// The format version this crate writes: 2 added the guests of a pod ([`Record::Guest`],
/// [`Record::Tenant`]); 3 the end of a finished run ([`Record::End`]) and XXH3-128 for blobs;
/// 4 the GPU time of queue operations ([`Record::GpuTime`]).
pub const VERSION: u16 = 4;

/// The oldest version this crate reads.
pub const OLDEST: u16 = 1;

/// The header flag of a trace whose records are compressed (raw DEFLATE).
pub const DEFLATED: u16 = 1;

/// The largest payload of one record: 4 GiB, more than a `list<u8>` argument can carry.
pub const MAX_RECORD: u64 = u32::MAX as u64;

/// A trace's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The WIT interface recorded (`wasi:webgpu/webgpu@0.3.0-rc.2`).
    pub package: String,
    /// SHA-256 of the interface's WIT text.
    pub wit_hash: [u8; 32],
}

/// The kinds of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A call, before it is forwarded.
    Call = 1,
    /// A call's result.
    Return = 2,
    /// An object the application dropped.
    Drop = 3,
    /// Bulk data.
    Blob = 4,
    /// A future's value, or a stream's item.
    Resolve = 5,
    /// A guest of a pod.
    Guest = 6,
    /// Which guest makes the calls that follow.
    Tenant = 7,
    /// The application finished.
    End = 8,
    /// How long a queue operation ran on the GPU.
    GpuTime = 9,
}

impl Kind {
    fn from_u8(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::Call,
            2 => Self::Return,
            3 => Self::Drop,
            4 => Self::Blob,
            5 => Self::Resolve,
            6 => Self::Guest,
            7 => Self::Tenant,
            8 => Self::End,
            9 => Self::GpuTime,
            _ => return None,
        })
    }
}

/// One record, borrowing its payload from the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A call of the interface's function number `function`, with its encoded arguments.
    Call {
        /// The function's index in the interface.
        function: u32,
        /// The arguments, encoded.
        args: &'a [u8],
    },
    /// The result of call number `call`.
    Return {
        /// The call's number.
        call: u64,
        /// The result, encoded.
        value: &'a [u8],
    },
    /// The application dropped object `object`.
    Drop {
        /// The object's id.
        object: u64,
    },
    /// Bulk data, with its hash ([`hash`]).
    Blob {
        /// The data's hash.
        hash: [u8; 16],
        /// The data.
        data: &'a [u8],
    },
    /// The future or stream `handle` produced a value.
    Resolve {
        /// The future's or stream's handle.
        handle: u64,
        /// The value, encoded.
        value: &'a [u8],
    },
    /// A guest of a pod (numbered in the order of these records).
    Guest {
        /// Its name in the pod.
        name: &'a str,
    },
    /// The calls that follow are guest number `guest`'s.
    Tenant {
        /// The guest's number.
        guest: u64,
    },
    /// The application finished, after `calls` calls: the trace is whole.
    End {
        /// How many `Call` records come before it.
        calls: u64,
    },
    /// The queue operation (a submission or a write) that call number `call` made ran `ns`
    /// nanoseconds on the GPU, as the virt measured it (`webgpu-virt plug --gpu-time`). Written
    /// when the operation is done, or when its device was lost for it (the time it had run). A
    /// measurement, not a result: replay does not check it.
    GpuTime {
        /// The call that made the operation.
        call: u64,
        /// Its GPU time.
        ns: u64,
    },
}

/// How a trace ends: whether the application it recorded finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It ends with [`Record::End`]: the application finished, after `calls` calls.
    Finished {
        /// The calls it made.
        calls: u64,
    },
    /// It has no end record: the application stopped (it trapped, panicked or was killed)
    /// after `calls` calls, or the trace is cut.
    Stopped {
        /// The calls the trace holds.
        calls: u64,
    },
    /// A trace of a format version before 3, which does not say.
    Unmarked {
        /// Its version.
        version: u16,
    },
}

impl Ending {
    /// The ending of a trace of `version` that holds `calls` calls, and `end`'s count if its
    /// last record is an end record.
    pub fn of(version: u16, calls: u64, end: Option<u64>) -> Self {
        match end {
            Some(calls) => Self::Finished { calls },
            None if version < 3 => Self::Unmarked { version },
            None => Self::Stopped { calls },
        }
    }
}

/// Follows a trace's records to tell how it ends: the one place where every reader (the trace
/// tools, the replayer) learns whether the application finished, and checks the end record.
#[derive(Clone, Copy, Debug, Default)]
pub struct EndWatch {
    calls: u64,
    end: Option<u64>,
}

impl EndWatch {
    /// Sees the next record, at `offset`. An end record must count the calls before it; a
    /// record after an end (a runtime that flushed early) means that the run went on.
    pub fn see(&mut self, offset: u64, record: &Record<'_>) -> Result<(), TraceError> {
        match record {
            Record::End { calls } if *calls != self.calls => {
                return Err(TraceError::WrongEnd { offset, calls: self.calls, says: *calls });
            }
            Record::End { calls } => {
                self.end = Some(*calls);
                return Ok(());
            }
            Record::Call { .. } => self.calls += 1,
            // Work that a run's last calls left on the GPU may be timed after its end.
            Record::GpuTime { .. } => return Ok(()),
            _ => {}
        }
        self.end = None;
        Ok(())
    }

    /// The calls seen so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// How a trace of `version` ends, if it ends after the records seen.
    pub fn ending(&self, version: u16) -> Ending {
        Ending::of(version, self.calls, self.end)
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Finished { calls } => write!(f, "the application finished, after {calls} calls"),
            Self::Stopped { calls: 0 } => write!(f, "the application did not finish (the recording holds no call)"),
            Self::Stopped { calls } => write!(f, "the application did not finish (the recording stops after call #{})", calls - 1),
            Self::Unmarked { version } => write!(f, "a trace of format version {version} does not say whether the application finished"),
        }
    }
}

/// What is wrong with a trace, and where (a byte offset from the start of the trace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// The trace does not start with [`MAGIC`].
    BadMagic,
    /// The trace is of a format version this reader does not read.
    UnsupportedVersion(u16),
    /// The header sets flags this reader does not know.
    UnknownFlags(u16),
    /// The records are compressed: read them through [`inflated`].
    Compressed,
    /// The trace ends inside the header or a record (a run that stopped mid-write): what was
    /// before `offset` is whole.
    Truncated {
        /// Where the incomplete part starts.
        offset: u64,
    },
    /// An end record whose count of calls is not the number of calls before it.
    WrongEnd {
        /// Where it is.
        offset: u64,
        /// The calls before it.
        calls: u64,
        /// The calls it says.
        says: u64,
    },
    /// Bytes that cannot be what they claim to be.
    Corrupt {
        /// Where.
        offset: u64,
        /// What is wrong.
        why: &'static str,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a webgpu-virt trace (it does not start with `WGVTRACE`)"),
            Self::UnsupportedVersion(v) => write!(f, "trace format version {v} is not supported (this reader reads versions {OLDEST} to {VERSION})"),
            Self::UnknownFlags(flags) => write!(f, "the trace sets flags {flags:#06x}, which this reader does not know"),
            Self::Compressed => write!(f, "the trace's records are compressed: inflate them first"),
            Self::Truncated { offset } => write!(f, "the trace is cut off at byte {offset}: the record starting there is incomplete"),
            Self::WrongEnd { offset, calls, says } => {
                write!(f, "corrupt trace at byte {offset}: an end record after {calls} calls says {says}")
            }
            Self::Corrupt { offset, why } => write!(f, "corrupt trace at byte {offset}: {why}"),
        }
    }
}

impl core::error::Error for TraceError {}
