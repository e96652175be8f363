//! The replay: the trace's records in order, each acted on as the application's run did.
//!
//! - `Blob`: kept, for the calls and results that refer to it.
//! - `Call`: its arguments decoded (objects by recorded id), the call made at once; an async
//!   call is started and left under way.
//! - `Return`: the call's result (an async call's awaited here, which keeps the recorded order
//!   of completions) checked against the recorded one; objects it made take their recorded ids.
//! - `Drop`: the replay drops its object too.
//! - `Resolve`: the next value of the call's future or stream, awaited and checked.

use crate::check::{self, Check, Source};
use crate::table::{Ctx, Objects};
use crate::{Checker, Issued, Stop, dispatch};
use futures::future::{Either, LocalBoxFuture};
use hashbrown::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use webgpu_virt_trace::value::Decoder;
use webgpu_virt_trace::{EndWatch, Ending, Reader, Record, TraceError};

/// What the command line asks for.
pub struct Options {
    pub trace: String,
    /// Compare results (else only re-issue the calls).
    pub verify: bool,
    /// Stop after this call.
    pub until: Option<u64>,
    /// How long to wait for a recorded result or value, in seconds.
    pub wait: u64,
    /// Replay only this guest's calls (of a pod's trace).
    pub guest: Option<String>,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options { trace: String::new(), verify: true, until: None, wait: 60, guest: None };
        let mut trace = None;
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let value = args.next().ok_or(format!("{name} needs a number"))?;
                value.parse().map_err(|_| format!("{name} needs a number, not `{value}`"))
            };
            match arg.as_str() {
                "--no-verify" => options.verify = false,
                "--until" => options.until = Some(number("--until")?),
                "--wait" => options.wait = number("--wait")?,
                "--guest" => options.guest = Some(args.next().ok_or("--guest needs a guest's name")?),
                flag if flag.starts_with("--") => return Err(format!("unknown option `{flag}`")),
                _ if trace.is_some() => return Err(format!("one trace at a time (`{arg}` is a second)")),
                _ => trace = Some(arg),
            }
        }
        options.trace = trace.ok_or("which trace? name one")?;
        Ok(options)
    }
}

/// What replay did, and where it stopped if it did not reach the end.
#[derive(Default)]
pub struct Report {
    trace: String,
    verify: bool,
    calls: u64,
    async_calls: u64,
    results: u64,
    values: u64,
    compared: u64,
    data_bytes: u64,
    /// Calls whose result the trace did not hold when it ended.
    unfinished: u64,
    /// Where the trace is cut off, if it is.
    cut: Option<String>,
    /// Whether the recorded application finished (unknown until the trace is read).
    ending: Option<Ending>,
    /// The last call replayed, when `--until` stopped it.
    until: Option<u64>,
    /// The guest replayed alone, and how many calls the trace holds in all.
    guest: Option<(String, u64)>,
    failure: Option<String>,
}

impl Report {
    /// Whether everything replayed and nothing diverged.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(failure), 0) = (&self.failure, self.calls) {
            return writeln!(f, "{failure}");
        }
        match &self.guest {
            Some((guest, all)) => write!(f, "replayed {} calls of guest {guest} of {} ({} async; the trace holds {all})", self.calls, self.trace, self.async_calls)?,
            None => write!(f, "replayed {} calls of {} ({} async)", self.calls, self.trace, self.async_calls)?,
        }
        if self.verify {
            writeln!(
                f,
                "; checked {} results and {} values of futures and streams: {} values compared, {} bytes of them read-back data",
                self.results, self.values, self.compared, self.data_bytes
            )?;
        } else {
            writeln!(f, "; results not compared (--no-verify)")?;
        }
        if let Some(cut) = &self.cut {
            writeln!(f, "{cut}")?;
        }
        if let Some(call) = self.until {
            writeln!(f, "stopped after call #{call}, as asked")?;
        }
        if self.unfinished > 0 {
            writeln!(f, "{} calls had no result in the trace when it ended (not checked)", self.unfinished)?;
        }
        match (&self.failure, self.ending) {
            (Some(failure), _) => writeln!(f, "{failure}"),
            (None, Some(Ending::Stopped { calls })) if self.until.is_none() => {
                let verified = if self.verify { ", no divergence" } else { "" };
                match calls.checked_sub(1) {
                    Some(last) => writeln!(f, "replayed every recorded call{verified}; the recording had no end: the application stopped after call #{last}"),
                    None => writeln!(f, "the recording had no end: the application stopped before its first call"),
                }
            }
            (None, _) if self.verify => writeln!(f, "no divergence"),
            (None, _) => Ok(()),
        }
    }
}

/// A call under way or done, whose result the trace has not shown yet.
enum Pending {
    Done(Checker),
    Running(LocalBoxFuture<'static, Checker>),
}

/// Where a record stands in the trace, for what a failure says.
struct At {
    /// The record's offset.
    offset: u64,
    /// The payload's offset (what `Stop` offsets count from).
    payload: u64,
    /// What the record is, in words (`call #3 ([method]gpu-buffer.unmap)`).
    what: String,
}

/// Replays `bytes`, a trace.
pub async fn replay(bytes: &[u8], options: &Options) -> Report {
    let mut report = Report { trace: options.trace.clone(), verify: options.verify, ..Report::default() };
    if let Err(failure) = run(bytes, options, &mut report).await {
        report.failure = Some(failure);
    }
    report
}

fn inflate(records: &[u8]) -> Result<Vec<u8>, &'static str> {
    match miniz_oxide::inflate::decompress_to_vec(records) {
        Ok(out) => Ok(out),
        // A cut stream: what inflated before the cut is a prefix of the records.
        Err(e) if !e.output.is_empty() => Ok(e.output),
        Err(_) => Err("the compressed records do not inflate"),
    }
}

async fn run(bytes: &[u8], options: &Options, report: &mut Report) -> Result<(), String> {
    let unreadable = |e: TraceError| format!("cannot replay {}: {e}", options.trace);
    let bytes = webgpu_virt_trace::inflated(bytes, inflate).map_err(unreadable)?;
    let reader = Reader::new(&bytes).map_err(unreadable)?;
    if reader.header.package != dispatch::PACKAGE {
        return Err(format!("cannot replay {}: it records `{}`, not `{}`", options.trace, reader.header.package, dispatch::PACKAGE));
    }
    if reader.header.wit_hash != dispatch::WIT_HASH {
        return Err(format!(
            "cannot replay {}: it was recorded with another WIT of `{}` than this replayer was built with (the SHA-256 of the WIT differs)",
            options.trace,
            dispatch::PACKAGE
        ));
    }
    let base = bytes.as_ptr() as usize;
    let offset_of = |payload: &[u8]| (payload.as_ptr() as usize - base) as u64;

    let mut objects = Objects::default();
    let mut blobs: Vec<&[u8]> = Vec::new();
    let mut pending: HashMap<u64, Pending> = HashMap::new();
    let mut sources: HashMap<u64, Box<dyn Source>> = HashMap::new();
    let mut functions: Vec<u32> = Vec::new();
    // A pod's guests; with `--guest`, the calls of others are skipped (each guest only ever
    // reaches its own objects, so its calls replay alone).
    let mut guests: Vec<&str> = Vec::new();
    let mut others = false;
    let mut tenant_seen = false;
    let mut skipped: hashbrown::HashSet<u64> = hashbrown::HashSet::new();
    let wait = options.wait.saturating_mul(1_000_000_000);
    let name = |function: u32| dispatch::FUNCTIONS.get(function as usize).map_or("?", |f| f.0);

    let mut end = EndWatch::default();
    for record in reader.records() {
        let (offset, record) = match record {
            Ok(r) => r,
            Err(TraceError::Truncated { offset }) => {
                report.cut = Some(format!("the trace is cut off at byte {offset}: its whole records before that were replayed"));
                break;
            }
            Err(e) => return Err(format!("cannot replay {} further: {e}", options.trace)),
        };
        end.see(offset, &record).map_err(|e| format!("cannot replay {} further: {e}", options.trace))?;
        match record {
            // A measurement, not a result: nothing to replay or check.
            Record::End { .. } | Record::GpuTime { .. } => {}
            Record::Blob { data, .. } => blobs.push(data),
            Record::Drop { object } => objects.remove(object),
            Record::Guest { name } => guests.push(name),
            Record::Tenant { guest } => {
                let name = usize::try_from(guest).ok().and_then(|g| guests.get(g));
                let name = name.ok_or_else(|| format!("cannot replay {} further: at byte {offset}, calls of guest #{guest}, which it does not name", options.trace))?;
                others = options.guest.as_deref().is_some_and(|wanted| wanted != *name);
                tenant_seen = true;
            }
            Record::Call { function, args } => {
                let call = functions.len() as u64;
                if options.until.is_some_and(|until| call > until) {
                    report.until = options.until;
                    break;
                }
                functions.push(function);
                if let Some(wanted) = &options.guest {
                    if report.guest.is_none() {
                        if !guests.contains(&wanted.as_str()) {
                            let names = if guests.is_empty() { "none: it is not a pod's".to_string() } else { guests.join(", ") };
                            return Err(format!("cannot replay guest {wanted} of {}: it has no such guest (its guests: {names})", options.trace));
                        }
                        // Calls before the first tenant record are the first guest's.
                        if !tenant_seen {
                            others = guests.first() != Some(&wanted.as_str());
                        }
                        report.guest = Some((wanted.clone(), 0));
                    }
                    if others {
                        skipped.insert(call);
                        continue;
                    }
                }
                report.calls += 1;
                let at = At { offset, payload: offset_of(args), what: format!("call #{call} ({})", name(function)) };
                let ctx = Ctx::new(&objects, &blobs, dispatch::FUNCTIONS.get(function as usize).is_some_and(|f| f.1));
                let issued = dispatch::call(function, &ctx, &mut Decoder::new(args));
                objects.forget(ctx.finish());
                match issued.map_err(|stop| failure(&at, stop))? {
                    Issued::Nothing => {}
                    Issued::Ready(checker) => {
                        pending.insert(call, Pending::Done(checker));
                    }
                    Issued::Pending(mut future) => {
                        report.async_calls += 1;
                        // Start the call now, in its recorded place among the others.
                        let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
                        let state = match first {
                            Poll::Ready(checker) => Pending::Done(checker),
                            Poll::Pending => Pending::Running(future),
                        };
                        pending.insert(call, state);
                    }
                }
            }
            Record::Return { call, .. } | Record::Resolve { handle: call, .. } if skipped.contains(&call) => {}
            Record::Return { call, value } => {
                let function = usize::try_from(call).ok().and_then(|c| functions.get(c)).copied();
                let at = At { offset, payload: offset_of(value), what: format!("call #{call} ({})", function.map_or("?", name)) };
                let checker = match pending.remove(&call) {
                    Some(Pending::Done(checker)) => checker,
                    Some(Pending::Running(future)) => within(wait, future)
                        .await
                        .ok_or_else(|| failure(&at, Stop::Timeout(format!("its result did not come within {} s", options.wait))))?,
                    None if function.is_none() => return Err(failure(&at, Stop::trace("a result of a call the trace has not made".into()))),
                    None => return Err(failure(&at, Stop::trace("a second result, or one of a call that returns nothing".into()))),
                };
                report.results += 1;
                check_value(checker, value, &mut objects, &mut sources, &blobs, options.verify, report).map_err(|stop| failure(&at, stop))?;
            }
            Record::Resolve { handle, value } => {
                let function = usize::try_from(handle).ok().and_then(|c| functions.get(c)).copied();
                let what = format!("the next value of call #{handle}'s {}", function.map_or("future or stream".into(), |f| format!("future or stream ({})", name(f))));
                let at = At { offset, payload: offset_of(value), what };
                let source = sources.get_mut(&handle).ok_or_else(|| failure(&at, Stop::trace("no call returned that future or stream".into())))?;
                let checker = within(wait, source.next())
                    .await
                    .ok_or_else(|| failure(&at, Stop::Timeout(format!("it did not come within {} s", options.wait))))?
                    .ok_or_else(|| failure(&at, Stop::Diverged(check::Mismatch { path: Vec::new(), expected: "a value".into(), got: "none: it has ended".into() })))?;
                report.values += 1;
                check_value(checker, value, &mut objects, &mut sources, &blobs, options.verify, report).map_err(|stop| failure(&at, stop))?;
            }
        }
    }
    report.unfinished = pending.len() as u64;
    report.ending = Some(end.ending(reader.version));
    if let Some((_, all)) = &mut report.guest {
        *all = functions.len() as u64;
    }
    // What is still under way is cancelled; then the objects go, as the application's did.
    drop(pending);
    drop(sources);
    drop(objects);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_value(
    checker: Checker,
    value: &[u8],
    objects: &mut Objects,
    sources: &mut HashMap<u64, Box<dyn Source>>,
    blobs: &[&[u8]],
    verify: bool,
    report: &mut Report,
) -> Result<(), Stop> {
    let mut k = Check { objects, sources, blobs, verify, compared: 0, data_bytes: 0 };
    let r = check::run(checker, &mut k, value);
    report.compared += k.compared;
    report.data_bytes += k.data_bytes;
    r
}

/// `future`'s output, unless `nanos` pass first.
async fn within<T>(nanos: u64, future: impl Future<Output = T>) -> Option<T> {
    let timer = crate::wasi::clocks::monotonic_clock::wait_for(nanos);
    match futures::future::select(pin!(future), pin!(timer)).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// What replay says when it stops at a record.
fn failure(at: &At, stop: Stop) -> String {
    match stop {
        Stop::Diverged(m) => {
            // `ok.some.kind`, `entries[2].binding`.
            let mut place = String::new();
            for part in &m.path {
                let dot = if place.is_empty() || part.starts_with('[') { "" } else { "." };
                place = format!("{place}{dot}{part}");
            }
            let place = if place.is_empty() { place } else { format!(", at {place}") };
            format!("divergence at {}{place}\n  expected: {}\n  got:      {}", at.what, m.expected, m.got)
        }
        Stop::Unverified => format!("internal error at {}: an unverified check escaped", at.what),
        Stop::Corrupt { at: o, why } => format!("cannot replay {}: corrupt trace at byte {}: {why}", at.what, at.payload + o as u64),
        Stop::Object { at: o, why } => format!("cannot replay {} (trace byte {}): {why}", at.what, at.payload + o as u64),
        Stop::Trace(why) => format!("cannot replay the record at byte {}, {}: {why}", at.offset, at.what),
        Stop::Timeout(why) => format!("divergence at {}: {why}", at.what),
    }
}
