//! The operator's console: lines the virt writes for the operator as things happen, on
//! `wasi:cli/stderr@0.2` in the WASI build of the virt (the one that records), nowhere in the
//! plain build, which imports only `wasi:webgpu`.
//!
//! A line is written from whatever call it comes from, synchronous ones included, so it uses
//! only the stream functions that do not block (`check-write`, `write`, `flush`): what does not
//! fit in the room the stream has is cut, and the cut is counted.

use std::cell::Cell;

thread_local! {
    /// Lines cut for want of room in the stream.
    static CUT: Cell<u64> = const { Cell::new(0) };
    /// A limit hit since the counters were last written (`log-stats`), in words.
    static HIT: Cell<Option<&'static str>> = const { Cell::new(None) };
    /// When the counters were last written (the monotonic clock's nanoseconds).
    static WRITTEN: Cell<Option<u64>> = const { Cell::new(None) };
}

/// How long the counters wait after they were written before they are written again.
const STATS_EVERY_NS: u64 = 1_000_000_000;

/// A limit was hit (`what`, in words): with `log-stats`, the counters are written after the
/// call ([`stats_due`]).
pub fn limit_hit(what: &'static str) {
    if crate::config::pod().log_stats && HIT.get().is_none() {
        HIT.set(Some(what));
    }
}

/// The limit hit that the counters are to be written for now: the first at once, later ones at
/// most once a second (a burst of refusals writes them once).
pub fn stats_due() -> Option<&'static str> {
    let what = HIT.get()?;
    let now = crate::clock::now();
    if let (Some(last), Some(now)) = (WRITTEN.get(), now)
        && now.saturating_sub(last) < STATS_EVERY_NS
    {
        return None;
    }
    HIT.set(None);
    WRITTEN.set(now.or(WRITTEN.get()));
    Some(what)
}

/// Writes `line` and a line break, as far as the stream has room now.
pub fn write(line: &str) {
    if !print(line) {
        CUT.set(CUT.get() + 1);
    }
}

/// How many lines were cut.
pub fn cut() -> u64 {
    CUT.get()
}

#[cfg(feature = "record")]
fn print(line: &str) -> bool {
    use crate::bindings::wasi::cli0_2_12::stderr;
    let stream = stderr::get_stderr();
    let bytes = format!("{line}\n");
    let Ok(room) = stream.check_write() else { return false };
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    let whole = room >= bytes.len();
    let mut end = room.min(bytes.len());
    while !bytes.is_char_boundary(end) {
        end -= 1;
    }
    if stream.write(&bytes.as_bytes()[..end]).is_err() {
        return false;
    }
    let _ = stream.flush();
    whole
}

/// The plain build has no console.
#[cfg(not(feature = "record"))]
fn print(_: &str) -> bool {
    false
}
