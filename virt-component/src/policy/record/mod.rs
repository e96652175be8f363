//! The recording policy: every call, its arguments, its result and the objects the application
//! drops, written as a trace (`webgpu_virt_trace`) to the file the configuration names.
//!
//! Calls are recorded before they are forwarded, with the numbers the chain gives them; a
//! result when it reaches the application (an async call's when it completes, so that the
//! trace keeps the order of completions). Objects are the ids the virt gave them. Bulk data
//! (`list<u8>`, and strings of `crate::encode::BLOB_STRING` bytes or more, such as shader
//! source) goes into blobs, each distinct content once.
//!
//! Records are handed to the runtime as each call is made and as it returns, without blocking
//! ([`sink`]), so that the trace of an application that traps, panics or is killed holds every
//! call it made. `stats.flush` (which `webgpu-virt run` calls when the application is done)
//! writes an `End` record and waits for the writes: a trace without one is of a run that did
//! not finish.

mod sink;

use super::Policy;
use crate::encode::{Out, Recorded};
use crate::hooks::Counter;
use crate::ids::DeviceId;
use crate::{Args, Ret};
use webgpu_virt_trace::{Record, push};

/// The recording policy.
pub struct Recorder {
    out: Out,
    sink: sink::Sink,
    /// Records and bytes written, for the operator.
    records: u64,
    written: u64,
    /// Calls recorded; and how many there were at the last `End` record.
    calls: u64,
    ended: Option<u64>,
    /// The guest whose calls the trace shows now (in a pod).
    tenant: u32,
}

impl Recorder {
    /// A recorder writing to `path` (opened at the first async call); in a pod, naming its `guests`;
    /// handing records over in batches if `batched`.
    pub fn new(path: &str, guests: &[String], batched: bool) -> Self {
        let sink = sink::Sink::new(path, batched);
        let header = webgpu_virt_trace::Header { package: crate::trace::PACKAGE.into(), wit_hash: crate::trace::WIT_HASH };
        let mut pending = webgpu_virt_trace::header(&header);
        for name in guests {
            push(&mut pending, &Record::Guest { name });
        }
        Self {
            out: Out { pending, ..Out::default() },
            sink,
            records: guests.len() as u64,
            written: 0,
            calls: 0,
            ended: None,
            tenant: 0,
        }
    }

    fn record(&mut self, record: impl FnOnce(&[u8]) -> Record<'_>) {
        push(&mut self.out.pending, &record(&self.out.payload.bytes));
        self.out.payload.bytes.clear();
        self.records += 1;
    }

    /// Hands what is pending to the runtime, without blocking. A write that fails stops the
    /// recording (the trace up to it stays whole); the operator's stats say so.
    fn hand_over(&mut self) {
        let len = self.out.pending.len() as u64;
        self.sink.hand_over(&mut self.out.pending);
        self.written += len - self.out.pending.len() as u64;
    }

    /// Hands what is pending over, waiting for the writes only if they piled up (only in an
    /// async call).
    fn catch_up(&mut self) {
        let len = self.out.pending.len() as u64;
        self.sink.catch_up(&mut self.out.pending);
        self.written += len - self.out.pending.len() as u64;
    }

    /// Hands what is pending over and waits for every write (only in an async call).
    fn write_all(&mut self) {
        self.written += self.out.pending.len() as u64;
        self.sink.write_all(&mut self.out.pending);
    }
}

impl Policy for Recorder {
    fn name(&self) -> &'static str {
        "record"
    }

    fn before(&mut self, device: DeviceId, call: u64, args: &Args<'_>) {
        let tenant = crate::tenant::of(device);
        if tenant != self.tenant {
            self.tenant = tenant;
            self.record(|_| Record::Tenant { guest: u64::from(tenant) });
        }
        self.out.call = call;
        args.encode(&mut self.out);
        let func = args.func();
        let function = func.wit_index();
        self.record(|args| Record::Call { function, args });
        self.calls += 1;
        if func.is_async() {
            // The first async call opens the file (which may block).
            self.sink.open();
        }
        self.hand_over();
    }

    fn after(&mut self, _: DeviceId, call: u64, ret: &Ret<'_>) {
        let func = ret.func();
        if func.returns() || func.is_async() {
            self.out.call = call;
            ret.encode(&mut self.out);
            self.record(|value| Record::Return { call, value });
            match func.is_async() {
                // The application waited: so can the recorder, if its writes piled up.
                true => self.catch_up(),
                false => self.hand_over(),
            }
        }
    }

    /// The application is done: the `End` record, and every write waited for.
    fn flush(&mut self) {
        if self.ended != Some(self.calls) {
            let calls = self.calls;
            self.record(|_| Record::End { calls });
            self.ended = Some(calls);
        }
        self.write_all();
    }

    fn dropped(&mut self, object: u64) {
        if self.out.live.remove(&object) {
            self.record(|_| Record::Drop { object });
            self.hand_over();
        }
    }

    fn resolved(&mut self, call: u64, value: &dyn Recorded) {
        value.record(&mut self.out);
        self.record(|value| Record::Resolve { handle: call, value });
        self.hand_over();
    }

    fn gpu_time(&mut self, call: u64, ns: u64) {
        self.record(|_| Record::GpuTime { call, ns });
        self.hand_over();
    }

    fn counters(&self, out: &mut Vec<Counter>) {
        out.push(Counter { name: "records".into(), value: self.records });
        out.push(Counter { name: "blobs".into(), value: self.out.blobs.len() as u64 });
        out.push(Counter { name: "bytes written".into(), value: self.written });
        if let Some(failed) = self.sink.failed() {
            out.push(Counter { name: format!("write failed: {failed}"), value: 1 });
        }
    }
}
