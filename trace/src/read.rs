//! Reading a trace from its bytes.

use crate::value::Decoder;
use crate::{DEFLATED, Header, Kind, MAGIC, MAX_RECORD, OLDEST, Record, TraceError, VERSION};
use alloc::borrow::Cow;
use alloc::string::ToString;
use alloc::vec::Vec;

/// The header's length and flags.
fn header_len(bytes: &[u8]) -> Result<(usize, u16), TraceError> {
    let reader = Reader::read(bytes, true)?;
    Ok((reader.start, u16::from_le_bytes([bytes[10], bytes[11]])))
}

/// The trace `bytes` with its records uncompressed: `bytes` itself when they are not compressed,
/// else a copy with the [`DEFLATED`] flag cleared and the records inflated by `inflate`, which
/// returns what it inflated and whether the stream was whole (a cut compressed trace inflates to
/// a prefix of its records, which reads as cut).
pub fn inflated<'a>(bytes: &'a [u8], inflate: impl FnOnce(&[u8]) -> Result<Vec<u8>, &'static str>) -> Result<Cow<'a, [u8]>, TraceError> {
    let (len, flags) = header_len(bytes)?;
    if flags & DEFLATED == 0 {
        return Ok(Cow::Borrowed(bytes));
    }
    let records = inflate(&bytes[len..]).map_err(|why| TraceError::Corrupt { offset: len as u64, why })?;
    let mut out = Vec::with_capacity(len + records.len());
    out.extend_from_slice(&bytes[..len]);
    out[10..12].copy_from_slice(&(flags & !DEFLATED).to_le_bytes());
    out.extend(records);
    Ok(Cow::Owned(out))
}

/// The trace `bytes` (uncompressed) with its records compressed by `deflate`.
pub fn deflated(bytes: &[u8], deflate: impl FnOnce(&[u8]) -> Vec<u8>) -> Result<Vec<u8>, TraceError> {
    let (len, flags) = header_len(bytes)?;
    if flags & DEFLATED != 0 {
        return Ok(bytes.to_vec());
    }
    let mut out = bytes[..len].to_vec();
    out[10..12].copy_from_slice(&(flags | DEFLATED).to_le_bytes());
    out.extend(deflate(&bytes[len..]));
    Ok(out)
}

/// A trace being read: its header, and the records after it.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    /// The header.
    pub header: Header,
    /// The trace's format version.
    pub version: u16,
    bytes: &'a [u8],
    /// Where the records start.
    start: usize,
}

impl<'a> Reader<'a> {
    /// Reads the header of `bytes`, a whole trace or a prefix of one. A trace whose records are
    /// compressed is read through [`inflated`].
    pub fn new(bytes: &'a [u8]) -> Result<Self, TraceError> {
        Self::read(bytes, false)
    }

    fn read(bytes: &'a [u8], compressed_too: bool) -> Result<Self, TraceError> {
        if bytes.len() < MAGIC.len() {
            return Err(if MAGIC.starts_with(bytes) { TraceError::Truncated { offset: 0 } } else { TraceError::BadMagic });
        }
        if bytes[..8] != MAGIC {
            return Err(TraceError::BadMagic);
        }
        let truncated = |_| TraceError::Truncated { offset: 0 };
        let mut d = Decoder::new(&bytes[8..]);
        let word = |d: &mut Decoder<'_>| d.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        let version = word(&mut d).map_err(truncated)?;
        if !(OLDEST..=VERSION).contains(&version) {
            return Err(TraceError::UnsupportedVersion(version));
        }
        let flags = word(&mut d).map_err(truncated)?;
        if flags & !DEFLATED != 0 {
            return Err(TraceError::UnknownFlags(flags));
        }
        if flags & DEFLATED != 0 && !compressed_too {
            return Err(TraceError::Compressed);
        }
        let package = d.str().map_err(|e| match e.why {
            "the data ends early" => TraceError::Truncated { offset: 0 },
            why => TraceError::Corrupt { offset: (8 + e.at) as u64, why },
        })?;
        let mut wit_hash = [0; 32];
        wit_hash.copy_from_slice(d.take(32).map_err(truncated)?);
        let header = Header { package: package.to_string(), wit_hash };
        Ok(Self { header, version, bytes, start: 8 + d.offset() })
    }

    /// The records, each with the offset where it starts.
    pub fn records(&self) -> Records<'a> {
        Records { bytes: self.bytes, at: self.start, failed: false, version: self.version }
    }
}

/// The records of a trace, in order, each with its offset; an error ends them.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
    failed: bool,
    version: u16,
}

impl<'a> Records<'a> {
    /// Where the next record starts (after the last one read).
    pub fn offset(&self) -> u64 {
        self.at as u64
    }

    fn next_record(&mut self) -> Result<Record<'a>, TraceError> {
        let start = self.at;
        let truncated = TraceError::Truncated { offset: start as u64 };
        let corrupt = |at: usize, why| TraceError::Corrupt { offset: at as u64, why };
        let mut d = Decoder::new(&self.bytes[start..]);
        let kind = d.byte().map_err(|_| truncated.clone())?;
        if kind == 0 && self.version >= 3 {
            // A gap a lost write left: the trace ends here.
            return Err(truncated);
        }
        let kind = Kind::from_u8(kind).ok_or(corrupt(start, "an unknown kind of record"))?;
        if kind == Kind::End && self.version < 3 {
            return Err(corrupt(start, "an end record in a trace of a version before 3"));
        }
        if kind == Kind::GpuTime && self.version < 4 {
            return Err(corrupt(start, "a GPU time record in a trace of a version before 4"));
        }
        let len = d.uleb().map_err(|e| if e.why == "the data ends early" { truncated.clone() } else { corrupt(start + e.at, e.why) })?;
        if len > MAX_RECORD {
            return Err(corrupt(start + 1, "a record longer than the format allows"));
        }
        let payload_at = start + d.offset();
        let payload = d.take(len as usize).map_err(|_| truncated.clone())?;
        let mut p = Decoder::new(payload);
        let fail = |e: crate::value::DecodeError| corrupt(payload_at + e.at, e.why);
        let record = match kind {
            Kind::Call => Record::Call { function: p.uleb_as().map_err(fail)?, args: p.rest() },
            Kind::Return => Record::Return { call: p.uleb().map_err(fail)?, value: p.rest() },
            Kind::Drop => {
                let object = p.uleb().map_err(fail)?;
                if !p.is_empty() {
                    return Err(corrupt(payload_at + p.offset(), "bytes after the end of a drop record"));
                }
                Record::Drop { object }
            }
            Kind::Blob => {
                let mut hash = [0; 16];
                hash.copy_from_slice(p.take(16).map_err(fail)?);
                let data = p.rest();
                if crate::hash::for_version(self.version)(data) != hash {
                    return Err(corrupt(payload_at, "a blob whose data does not match its hash"));
                }
                Record::Blob { hash, data }
            }
            Kind::Resolve => Record::Resolve { handle: p.uleb().map_err(fail)?, value: p.rest() },
            Kind::Guest => Record::Guest { name: core::str::from_utf8(p.rest()).map_err(|_| corrupt(payload_at, "a guest's name that is not UTF-8"))? },
            Kind::Tenant => {
                let guest = p.uleb().map_err(fail)?;
                if !p.is_empty() {
                    return Err(corrupt(payload_at + p.offset(), "bytes after the end of a tenant record"));
                }
                Record::Tenant { guest }
            }
            Kind::End => {
                let calls = p.uleb().map_err(fail)?;
                if !p.is_empty() {
                    return Err(corrupt(payload_at + p.offset(), "bytes after the end of an end record"));
                }
                Record::End { calls }
            }
            Kind::GpuTime => {
                let (call, ns) = (p.uleb().map_err(fail)?, p.uleb().map_err(fail)?);
                if !p.is_empty() {
                    return Err(corrupt(payload_at + p.offset(), "bytes after the end of a GPU time record"));
                }
                Record::GpuTime { call, ns }
            }
        };
        self.at = payload_at + payload.len();
        Ok(record)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(u64, Record<'a>), TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at == self.bytes.len() {
            return None;
        }
        let offset = self.at as u64;
        let record = self.next_record();
        self.failed = record.is_err();
        Some(record.map(|r| (offset, r)))
    }
}
