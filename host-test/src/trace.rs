//! What reached the runtime, and when: with `WEBGPU_HOST_TRACE` set, the host prints to stderr
//! a line for each call that costs the runtime time or waits on the GPU, `T`, the microseconds
//! since the first line, and the call: command encoders made, compute passes begun, dispatches
//! (their sizes), `finish` and `submit` (begun and done), `on-submitted-work-done` and
//! `map-async` (asked and resolved), buffers and bind groups made. It shows where a step's time
//! goes (`docs/gpu-time.md` reads a first step under a time limit with it); unset, a call costs
//! one check of a flag.

use std::fmt::Arguments;
use std::sync::OnceLock;
use std::time::Instant;

/// When the first line was traced, if tracing.
fn start() -> Option<&'static Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    START.get_or_init(|| std::env::var_os("WEBGPU_HOST_TRACE").map(|_| Instant::now())).as_ref()
}

/// Traces `what`.
pub fn note(what: Arguments) {
    if let Some(start) = start() {
        eprintln!("T {:>9} {what}", start.elapsed().as_micros());
    }
}

/// Traces `begun` now and `done` when dropped: a call that takes time.
pub fn span(begun: Arguments, done: &'static str) -> Span {
    note(begun);
    Span(done)
}

pub struct Span(&'static str);

impl Drop for Span {
    fn drop(&mut self) {
        note(format_args!("{}", self.0));
    }
}
