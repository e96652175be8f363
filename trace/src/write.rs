//! Writing a trace: the header, then records appended to a buffer that the recorder flushes
//! where it likes (the format needs nothing but appending).

use crate::value::Encoder;
use crate::{Header, Kind, MAGIC, Record, VERSION};
use alloc::vec::Vec;
use hashbrown::HashMap;

/// The header's bytes.
pub fn header(header: &Header) -> Vec<u8> {
    let mut e = Encoder::new();
    e.bytes.extend_from_slice(&MAGIC);
    e.bytes.extend(VERSION.to_le_bytes());
    e.bytes.extend(0u16.to_le_bytes());
    e.str(&header.package);
    e.bytes.extend_from_slice(&header.wit_hash);
    e.bytes
}

/// Appends `record` to `out`.
pub fn push(out: &mut Vec<u8>, record: &Record<'_>) {
    let mut e = Encoder { bytes: core::mem::take(out) };
    let (kind, head, body): (Kind, &[u64], &[u8]) = match record {
        Record::Call { function, args } => (Kind::Call, &[u64::from(*function)], args),
        Record::Return { call, value } => (Kind::Return, &[*call], value),
        Record::Drop { object } => (Kind::Drop, &[*object], &[]),
        Record::Blob { hash, data } => {
            e.byte(Kind::Blob as u8);
            e.uleb((hash.len() + data.len()) as u64);
            e.bytes.extend_from_slice(hash);
            e.bytes.extend_from_slice(data);
            *out = e.bytes;
            return;
        }
        Record::Resolve { handle, value } => (Kind::Resolve, &[*handle], value),
        Record::Guest { name } => (Kind::Guest, &[], name.as_bytes()),
        Record::Tenant { guest } => (Kind::Tenant, &[*guest], &[]),
        Record::End { calls } => (Kind::End, &[*calls], &[]),
        Record::GpuTime { call, ns } => (Kind::GpuTime, &[*call, *ns], &[]),
    };
    let mut numbers = Encoder::new();
    for n in head {
        numbers.uleb(*n);
    }
    e.byte(kind as u8);
    e.uleb((numbers.bytes.len() + body.len()) as u64);
    e.bytes.extend_from_slice(&numbers.bytes);
    e.bytes.extend_from_slice(body);
    *out = e.bytes;
}

/// The blobs written so far, by content: data seen before gets its first number back, new data
/// a `Blob` record. Memory: 24 bytes per distinct blob, never the data.
#[derive(Default)]
pub struct BlobIds {
    ids: HashMap<[u8; 16], u64>,
}

impl BlobIds {
    /// The number of the blob holding `data`, appending its record to `out` if it is new.
    pub fn id(&mut self, data: &[u8], out: &mut Vec<u8>) -> u64 {
        let hash = crate::hash::hash128(data);
        let next = self.ids.len() as u64;
        *self.ids.entry(hash).or_insert_with(|| {
            push(out, &Record::Blob { hash, data });
            next
        })
    }

    /// How many distinct blobs were written.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no blob was written.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
