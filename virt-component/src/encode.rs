//! How the virt writes a call down: arguments, results and what futures and streams produce,
//! in the trace's value encoding (`webgpu_virt_trace::value`). The generated forwarding
//! implements [`Recorded`] for every type of the interface; `bridge` for the resources the virt
//! makes itself. The recorder (`policy::record`) owns an [`Out`] and frames what it holds as
//! records.

use hashbrown::HashSet;
use webgpu_virt_trace::BlobIds;
use webgpu_virt_trace::value::Encoder;

/// Strings this long or longer go to a blob.
pub const BLOB_STRING: usize = 64;

/// Where the encoding of one call goes: the record being built, the blobs it refers to.
#[derive(Default)]
pub struct Out {
    pub payload: Encoder,
    pub blobs: BlobIds,
    /// Whole records not yet written.
    pub pending: Vec<u8>,
    /// The number of the call being encoded (the handle of a future or stream it returns).
    pub call: u64,
    /// The objects the trace has shown and the application has not dropped.
    pub live: HashSet<u64>,
}

impl Out {
    pub fn byte(&mut self, value: u8) {
        self.payload.byte(value);
    }

    pub fn uleb(&mut self, value: u64) {
        self.payload.uleb(value);
    }

    pub fn sleb(&mut self, value: i64) {
        self.payload.sleb(value);
    }

    pub fn f32(&mut self, value: f32) {
        self.payload.f32(value);
    }

    pub fn f64(&mut self, value: f64) {
        self.payload.f64(value);
    }

    pub fn string(&mut self, value: &str) {
        if value.len() < BLOB_STRING {
            self.payload.string_inline(value);
        } else {
            let blob = self.blobs.id(value.as_bytes(), &mut self.pending);
            self.payload.string_blob(blob);
        }
    }

    /// A `list<u8>`: its blob's number.
    pub fn blob(&mut self, data: &[u8]) {
        let blob = self.blobs.id(data, &mut self.pending);
        self.payload.uleb(blob);
    }

    /// An object, by its id.
    pub fn object(&mut self, id: u64) {
        self.live.insert(id);
        self.payload.uleb(id);
    }

    /// A future or stream: the number of the call that returned it.
    pub fn handle(&mut self) {
        self.payload.uleb(self.call);
    }
}

/// A value the trace can hold. Resources the virt makes itself (errors, device-loss
/// information) are recorded by value.
pub trait Recorded {
    fn record(&self, o: &mut Out);
}
