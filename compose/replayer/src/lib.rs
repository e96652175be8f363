//! The replayer: a command component that replays a trace of `wasi:webgpu` calls on the
//! `wasi:webgpu` it imports and verifies every result the calls decide against the recording.
//!
//! ```text
//! replayer TRACE [--no-verify] [--until CALL] [--wait SECONDS] [--guest NAME]
//! ```
//!
//! It reads TRACE (the recording virt's output, compressed or not, whole or cut off) through its
//! standard library's `wasi:filesystem`, re-issues the calls in their recorded order with the
//! objects the recorder named mapped to the replay's own, waits for each async call's result
//! where the trace recorded it (so results are seen in the recorded order of completion), and
//! compares: read-back data, errors (their kinds: messages are the host's words), every value
//! the calls decide. What describes the host (adapter info, limits, features, compiler messages)
//! is not compared. It prints a summary; at the first divergence it stops and names the call,
//! the place in its result, and expected vs got; it fails (exit status 1) unless nothing
//! diverged. A pod's trace replays whole, or one guest's calls alone (`--guest NAME`: a guest
//! only ever reaches its own objects). `webgpu-virt replay` runs it on the built-in host; `webgpu-virt replayer -o FILE`
//! writes it out to run on any runtime that implements `wasi:webgpu`.

mod check;
mod replay;
mod sources;
mod table;

wit_bindgen::generate!({
    path: "../../wit",
    world: "webgpu-virt:worlds/replayer",
    generate_all,
});

use check::{Check, Mismatch};
use webgpu_virt_trace::value::{DecodeError, Decoder};
use wasi::webgpu::webgpu as gpu;

/// The generated dispatch: every function's decoding, call and check.
mod dispatch {
    use super::{Check, Checker, Issued, Stop, gpu};
    use std::rc::Rc;
    use webgpu_virt_trace::value::Decoder;
    include!(concat!(env!("OUT_DIR"), "/dispatch.rs"));
}

/// Checks a replayed result against the recorded value.
pub type Checker = Box<dyn FnOnce(&mut Check<'_>, &mut Decoder<'_>) -> Result<(), Stop>>;

/// What making a call gave.
pub enum Issued {
    /// A function that returns nothing: nothing to check.
    Nothing,
    /// A synchronous function's result, to check against its `Return` record.
    Ready(Checker),
    /// An async call under way: its result comes when the future is awaited.
    Pending(futures::future::LocalBoxFuture<'static, Checker>),
}

/// Why replay stopped at a record.
#[derive(Debug)]
pub enum Stop {
    /// The replayed result differs from the recorded one.
    Diverged(Mismatch),
    /// A value that is not compared has another shape than the recorded one: the check of it
    /// ends there (not a divergence).
    Unverified,
    /// Bytes of the record that cannot be what they claim (`at`: from the start of the
    /// arguments or value).
    Corrupt { at: usize, why: &'static str },
    /// The record names an object the replay does not have, or of another kind.
    Object { at: usize, why: String },
    /// Records that do not fit together.
    Trace(String),
    /// A recorded result or value that the replay did not produce in time.
    Timeout(String),
}

impl Stop {
    pub fn corrupt(at: usize, why: &'static str) -> Self {
        Self::Corrupt { at, why }
    }

    pub fn object(at: usize, why: String) -> Self {
        Self::Object { at, why }
    }

    pub fn trace(why: String) -> Self {
        Self::Trace(why)
    }

    /// A divergence inside field or case `name`.
    pub fn within(mut self, name: &str) -> Self {
        if let Self::Diverged(m) = &mut self {
            m.path.insert(0, name.to_string());
        }
        self
    }
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Self::Corrupt { at: e.at, why: e.why }
    }
}

struct Command;

impl exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let options = match replay::Options::parse(std::env::args().skip(1)) {
            Ok(o) => o,
            Err(why) => {
                eprintln!("replayer: {why}\nusage: replayer TRACE [--no-verify] [--until CALL] [--wait SECONDS]");
                return Err(());
            }
        };
        let bytes = match std::fs::read(&options.trace) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("replayer: cannot read the trace `{}`: {e}", options.trace);
                return Err(());
            }
        };
        let report = replay::replay(&bytes, &options).await;
        print!("{report}");
        if report.ok() { Ok(()) } else { Err(()) }
    }
}

export!(Command);
