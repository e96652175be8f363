//! `trace slice`: a trace cut down to chosen calls and every earlier call they depend on, as a
//! trace that replays and verifies.
//!
//! What a kept call depends on, and so is kept too (to a fixed point):
//! - **Objects**: the call that made each object a kept call uses or makes.
//! - **Contents and state**: every call in the slice's window that names an object the slice
//!   needs, other than the hubs (`gpu`, adapters, devices, queues). The trace cannot tell which
//!   of them change the object (a `write-buffer`, a copy into it, a bind group holding it, whose
//!   passes may write it once submitted), so all are kept: a bind group kept this way makes its
//!   passes needed, their encoders, their command buffers and the submits that ran them.
//! - **The hubs**: only what makes them and what changes what every call on them sees: a
//!   device's `destroy`. Calls that merely name a device or queue (making objects, writing,
//!   submitting) are kept for the objects they concern, never for the hub.
//! - **Error scopes**: a kept `pop-error-scope` depends on every call of its device since the
//!   matching `push-error-scope` (the trace cannot tell which of them reported the error it
//!   found), so all are kept; a kept `push` keeps its `pop`.
//! - **Uncaptured-error listeners**: a kept `on-uncaptured-error` stream depends on every call of
//!   its device from the stream to the slice's end, and its values up to there are kept.
//! - **Async results**: a kept call's result stays where it was recorded, and the window grows to
//!   reach it (its result may depend on calls made while it was under way).
//!
//! The window ends at the last chosen call (or at the value chosen, for an uncaptured error).
//! Records after it are left out. Drops are kept for the objects that kept calls made; GPU-time
//! records for kept calls; blobs for kept records, numbered anew (calls too). A pod's guests
//! keep their records, and with `--guest` only that guest's calls are considered.

use super::{Catalog, Number, Numbers, TraceToolError, Value, inflate};
use std::collections::{HashMap, HashSet};
use webgpu_virt_trace::value::Encoder;
use webgpu_virt_trace::{EndWatch, Header, Reader, Record, TraceError};

/// Which calls a slice is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// One call, by number.
    Call(u64),
    /// The calls from `.0` up to and including `.1`.
    Calls(u64, u64),
    /// The first call whose error was reported: in an error scope (its `pop-error-scope`), to an
    /// uncaptured-error listener (the listener, up to that value), or as an error result.
    FirstError,
}

/// A slice, and what it holds.
pub struct Slice {
    /// The new trace.
    pub trace: Vec<u8>,
    /// Its calls.
    pub kept: u64,
    /// The calls of the trace it was cut from (of the guest, with `--guest`).
    pub of: u64,
    /// What was chosen, in words (`call #73 ([method]gpu-device.pop-error-scope): err(...)`).
    pub chosen: String,
}

/// Resources whose calls are kept only for what they concern (see the module's doc).
const HUBS: [&str; 4] = ["gpu", "gpu-adapter", "gpu-device", "gpu-queue"];

/// One call of the trace, as slicing sees it.
struct Call<'c> {
    /// Its record, by index.
    record: usize,
    name: &'c str,
    tenant: usize,
    /// The objects its arguments name.
    uses: Vec<u64>,
    /// The objects its result made.
    made: Vec<u64>,
    /// The device it concerns, if any.
    device: Option<u64>,
    /// Its result's record, if the trace has one.
    result: Option<usize>,
}

/// A trace's records, and what slicing learnt of them.
struct Trace<'t, 'c> {
    header: Header,
    records: Vec<Record<'t>>,
    /// Where each record is in the (inflated) trace.
    offsets: Vec<u64>,
    /// The numbers (blobs, handles) each record's payload holds, for renumbering.
    numbers: HashMap<usize, Vec<(usize, usize, Number)>>,
    /// Blob number by record.
    blob_of: HashMap<usize, u64>,
    calls: Vec<Call<'c>>,
    guests: Vec<&'t str>,
    /// Each object's resource and the call that made it.
    objects: HashMap<u64, (&'c str, Option<usize>)>,
    /// The calls that name each object (in arguments).
    mentions: HashMap<u64, Vec<usize>>,
    /// Each device's calls, in order.
    by_device: HashMap<u64, Vec<usize>>,
    /// `pop-error-scope` and `push-error-scope` calls, each to its match.
    pop_push: HashMap<usize, usize>,
    push_pop: HashMap<usize, usize>,
    /// Each guest's first reported error (the record, the call chosen for it, in words).
    first_errors: HashMap<usize, (usize, usize, String)>,
}

/// Collects the objects a value names, and whether it holds a `gpu-error`.
fn walk<'c>(v: &Value<'c>, objects: &mut Vec<(&'c str, u64)>, error: &mut bool) {
    match v {
        Value::Object(_, 0) => {}
        Value::Object(name, id) => objects.push((name, *id)),
        Value::Recorded("gpu-error", _) => *error = true,
        Value::Record(fields) => fields.iter().for_each(|(_, v)| walk(v, objects, error)),
        Value::Tuple(items) | Value::List(items) => items.iter().for_each(|v| walk(v, objects, error)),
        Value::Case(_, Some(v)) => walk(v, objects, error),
        _ => {}
    }
}

fn read<'t, 'c>(catalog: &'c Catalog, bytes: &'t [u8]) -> Result<Trace<'t, 'c>, TraceToolError> {
    let reader = Reader::new(bytes)?;
    catalog.check(&reader)?;
    let mut t = Trace {
        header: reader.header.clone(),
        records: Vec::new(),
        offsets: Vec::new(),
        numbers: HashMap::new(),
        blob_of: HashMap::new(),
        calls: Vec::new(),
        guests: Vec::new(),
        objects: HashMap::new(),
        mentions: HashMap::new(),
        by_device: HashMap::new(),
        pop_push: HashMap::new(),
        push_pop: HashMap::new(),
        first_errors: HashMap::new(),
    };
    let mut tenant = 0;
    let mut blobs = 0u64;
    let mut device_of: HashMap<u64, u64> = HashMap::new();
    let mut scopes: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut end = EndWatch::default();
    let mut n = Numbers::wanted();
    // The blobs so far, to describe the error chosen.
    let mut cx = super::Cx::default();
    for record in reader.records() {
        let (offset, record) = match record {
            Ok(r) => r,
            // A cut trace is sliced as far as it goes.
            Err(TraceError::Truncated { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        end.see(offset, &record)?;
        let at = t.records.len();
        let payload_at = |payload: &[u8]| payload.as_ptr() as u64 - bytes.as_ptr() as u64;
        let bad = |e: webgpu_virt_trace::value::DecodeError, start: u64| TraceToolError::Value { offset: start + e.at as u64, why: e.why.into() };
        let unknown = |why: String| TraceToolError::Value { offset, why };
        match &record {
            Record::Blob { data, hash } => {
                cx.blobs.push((data.len(), *hash));
                t.blob_of.insert(at, blobs);
                blobs += 1;
            }
            Record::Guest { name } => t.guests.push(name),
            Record::Tenant { guest } => tenant = *guest as usize,
            Record::Call { function, args } => {
                let number = t.calls.len();
                let f = catalog.function(*function).ok_or_else(|| unknown(format!("function number {function} is not in the WIT")))?;
                let values = catalog.args(f, args, &mut n).map_err(|e| bad(e, payload_at(args)))?;
                t.numbers.insert(at, n.take());
                let (mut objects, mut error) = (Vec::new(), false);
                values.iter().for_each(|v| walk(v, &mut objects, &mut error));
                // A method's device: its object's (or the object, for a device's own methods).
                let device = objects.first().and_then(|&(resource, id)| if resource == "gpu-device" { Some(id) } else { device_of.get(&id).copied() });
                for &(resource, id) in &objects {
                    t.mentions.entry(id).or_default().push(number);
                    // Every object comes from a result before it is named; one that did not is
                    // kept track of all the same (the replay will say what is wrong).
                    t.objects.entry(id).or_insert((resource, None));
                }
                if let Some(d) = device {
                    t.by_device.entry(d).or_default().push(number);
                    match f.name.as_str() {
                        "[method]gpu-device.push-error-scope" => scopes.entry(d).or_default().push(number),
                        "[method]gpu-device.pop-error-scope" => {
                            if let Some(push) = scopes.entry(d).or_default().pop() {
                                t.pop_push.insert(number, push);
                                t.push_pop.insert(push, number);
                            }
                        }
                        _ => {}
                    }
                }
                t.calls.push(Call { record: at, name: &f.name, tenant, uses: objects.iter().map(|o| o.1).collect(), made: Vec::new(), device, result: None });
            }
            Record::Return { call, value } => {
                let c = *call as usize;
                let f = called(&t, catalog, c).ok_or_else(|| unknown(format!("a result of call #{call}, which the trace has not made")))?;
                let result = catalog.result(f, value, &mut n).map_err(|e| bad(e, payload_at(value)))?;
                t.numbers.insert(at, n.take());
                let (mut objects, mut error) = (Vec::new(), false);
                if let Some(v) = &result {
                    walk(v, &mut objects, &mut error);
                    error |= matches!(v, Value::Case("err", _));
                }
                let device = t.calls[c].device;
                for (resource, id) in objects {
                    if t.objects.contains_key(&id) {
                        continue;
                    }
                    t.objects.insert(id, (resource, Some(c)));
                    t.calls[c].made.push(id);
                    match (resource, device) {
                        ("gpu-device", _) => drop(device_of.insert(id, id)),
                        (_, Some(d)) => drop(device_of.insert(id, d)),
                        _ => {}
                    }
                }
                t.calls[c].result = Some(at);
                if error && !t.first_errors.contains_key(&t.calls[c].tenant) {
                    let text = result.as_ref().map(|v| super::show_all(std::slice::from_ref(v), &mut cx)).unwrap_or_default();
                    t.first_errors.insert(t.calls[c].tenant, (at, c, format!("call #{c} ({}) -> {text}", f.name)));
                }
            }
            Record::Resolve { handle, value } => {
                let c = *handle as usize;
                let f = called(&t, catalog, c).ok_or_else(|| unknown(format!("a value of call #{handle}'s future or stream, which the trace has not made")))?;
                let v = catalog.resolved(f, value, &mut n).map_err(|e| bad(e, payload_at(value)))?;
                t.numbers.insert(at, n.take());
                let (mut objects, mut error) = (Vec::new(), false);
                walk(&v, &mut objects, &mut error);
                if error && !t.first_errors.contains_key(&t.calls[c].tenant) {
                    let text = super::show_all(&[v], &mut cx);
                    t.first_errors.insert(t.calls[c].tenant, (at, c, format!("the value {text} of call #{c} ({})", f.name)));
                }
            }
            Record::GpuTime { call, .. } if *call as usize >= t.calls.len() => {
                return Err(unknown(format!("the GPU time of call #{call}, which the trace has not made")));
            }
            Record::Drop { .. } | Record::End { .. } | Record::GpuTime { .. } => {}
        }
        t.records.push(record);
        t.offsets.push(offset);
    }
    Ok(t)
}

/// The function of call number `call`, if the trace has made it.
fn called<'c>(t: &Trace<'_, 'c>, catalog: &'c Catalog, call: usize) -> Option<&'c wit_parser::Function> {
    match t.records.get(t.calls.get(call)?.record)? {
        Record::Call { function, .. } => catalog.function(*function),
        _ => None,
    }
}

/// What slicing decided.
struct Kept {
    calls: Vec<bool>,
    needed: HashSet<u64>,
    /// The last record in the slice.
    end: usize,
    /// Devices whose uncaptured-error streams are kept, from which call.
    listened: Vec<(u64, usize)>,
    work: Vec<usize>,
}

impl Trace<'_, '_> {
    fn in_window(&self, call: usize, k: &Kept, guest: Option<usize>) -> bool {
        self.calls[call].record <= k.end && guest.is_none_or(|g| self.calls[call].tenant == g)
    }

    fn keep(&self, call: usize, k: &mut Kept, guest: Option<usize>) {
        if !k.calls[call] && self.in_window(call, k, guest) {
            k.calls[call] = true;
            k.work.push(call);
        }
    }

    /// Keeps what `call` depends on, to a fixed point.
    fn close(&self, k: &mut Kept, guest: Option<usize>) {
        loop {
            while let Some(c) = k.work.pop() {
                let call = &self.calls[c];
                for &id in call.uses.iter().chain(&call.made) {
                    if k.needed.insert(id) {
                        self.need(id, k, guest);
                    }
                }
                match call.name {
                    "[method]gpu-device.pop-error-scope" => {
                        if let (Some(&push), Some(d)) = (self.pop_push.get(&c), call.device) {
                            self.keep_device_calls(d, push, c, k, guest);
                        }
                    }
                    "[method]gpu-device.push-error-scope" => {
                        if let Some(&pop) = self.push_pop.get(&c) {
                            self.keep(pop, k, guest);
                        }
                    }
                    "[method]gpu-device.on-uncaptured-error" => {
                        if let Some(d) = call.device {
                            k.listened.push((d, c));
                            self.keep_device_calls(d, c, usize::MAX, k, guest);
                        }
                    }
                    _ => {}
                }
            }
            // The results of kept async calls stay where they were recorded: the window grows to
            // reach them, and what it now holds is looked at again.
            let end = self.calls.iter().zip(&k.calls).filter(|(_, kept)| **kept).filter_map(|(c, _)| c.result).max().unwrap_or(0);
            if end <= k.end {
                return;
            }
            k.end = end;
            for id in k.needed.clone() {
                self.need(id, k, guest);
            }
            for (d, from) in k.listened.clone() {
                self.keep_device_calls(d, from, usize::MAX, k, guest);
            }
        }
    }

    /// An object is needed: the call that made it, and (unless it is a hub) every call in the
    /// window that names it.
    fn need(&self, id: u64, k: &mut Kept, guest: Option<usize>) {
        let Some(&(resource, made_by)) = self.objects.get(&id) else { return };
        if let Some(c) = made_by {
            self.keep(c, k, guest);
        }
        let Some(mentions) = self.mentions.get(&id) else { return };
        if HUBS.contains(&resource) {
            // What every later call of a device sees.
            if resource == "gpu-device" {
                for &c in mentions {
                    if self.calls[c].name == "[method]gpu-device.destroy" {
                        self.keep(c, k, guest);
                    }
                }
            }
            return;
        }
        // Which of these calls change the object, the trace cannot tell (a bind group naming a
        // buffer, whose passes may write it once submitted): every one is kept.
        for &c in mentions {
            self.keep(c, k, guest);
        }
    }

    /// Keeps every call of device `d` from call `from` to call `to` (both included).
    fn keep_device_calls(&self, d: u64, from: usize, to: usize, k: &mut Kept, guest: Option<usize>) {
        let Some(calls) = self.by_device.get(&d) else { return };
        let start = calls.partition_point(|&c| c < from);
        for &c in calls[start..].iter().take_while(|&&c| c <= to) {
            self.keep(c, k, guest);
        }
    }
}

/// Cuts `bytes`, a trace, down to `choice` and what it depends on.
pub fn slice(catalog: &Catalog, bytes: &[u8], choice: &Choice, guest: Option<&str>) -> Result<Slice, TraceToolError> {
    let inflated = webgpu_virt_trace::inflated(bytes, |records| {
        let (out, whole) = inflate(records);
        if out.is_empty() && !whole { Err("the compressed records do not inflate") } else { Ok(out) }
    })?;
    let t = read(catalog, &inflated)?;
    let guest_index = match guest {
        None => None,
        Some(name) => match t.guests.iter().position(|g| *g == name) {
            Some(g) => Some(g),
            None if t.guests.is_empty() => return Err(TraceToolError::Choice(format!("the trace has no guest {name}: it is not a pod's"))),
            None => return Err(TraceToolError::Choice(format!("the trace has no guest {name} (its guests: {})", t.guests.join(", ")))),
        },
    };
    let of = t.calls.iter().filter(|c| guest_index.is_none_or(|g| c.tenant == g)).count() as u64;
    let describe = |c: usize| format!("call #{c} ({})", t.calls[c].name);
    let in_guest = |c: usize| guest_index.is_none_or(|g| t.calls[c].tenant == g);
    let (targets, end, chosen): (Vec<usize>, usize, String) = match *choice {
        Choice::Call(n) | Choice::Calls(n, _) if n as usize >= t.calls.len() => {
            return Err(TraceToolError::Choice(format!("call #{n} is not in the trace: it holds {} calls", t.calls.len())));
        }
        Choice::Calls(a, b) if b < a => return Err(TraceToolError::Choice(format!("the calls {a}..={b} are none: the range is empty"))),
        Choice::Call(n) | Choice::Calls(n, _) if !in_guest(n as usize) => {
            return Err(TraceToolError::Choice(format!("{} is not guest {}'s", describe(n as usize), guest.unwrap_or_default())));
        }
        Choice::Call(n) => (vec![n as usize], t.calls[n as usize].record, describe(n as usize)),
        Choice::Calls(a, b) => {
            let b = (b as usize).min(t.calls.len() - 1);
            let targets: Vec<usize> = (a as usize..=b).filter(|&c| in_guest(c)).collect();
            let end = t.calls[b].record;
            (targets, end, format!("calls #{a} to #{b}"))
        }
        Choice::FirstError => {
            let first = match guest_index {
                None => t.first_errors.values().min_by_key(|(record, ..)| *record).cloned(),
                Some(g) => t.first_errors.get(&g).cloned(),
            };
            let Some((record, call, text)) = first else {
                return Err(TraceToolError::Choice("the trace reports no error: no error result, no error found by pop-error-scope, no uncaptured error".into()));
            };
            (vec![call], record.max(t.calls[call].record), text)
        }
    };
    let mut k = Kept { calls: vec![false; t.calls.len()], needed: HashSet::new(), end, listened: Vec::new(), work: Vec::new() };
    for c in targets {
        t.keep(c, &mut k, guest_index);
    }
    t.close(&mut k, guest_index);
    let trace = write(&t, &k)?;
    Ok(Slice { trace, kept: k.calls.iter().filter(|k| **k).count() as u64, of, chosen })
}

/// Writes the slice: the kept records, renumbered.
fn write(t: &Trace<'_, '_>, k: &Kept) -> Result<Vec<u8>, TraceToolError> {
    let mut call_number: Vec<Option<u64>> = vec![None; t.calls.len()];
    let mut next = 0;
    for (c, kept) in k.calls.iter().enumerate() {
        if *kept {
            call_number[c] = Some(next);
            next += 1;
        }
    }
    let made: HashSet<u64> = t.calls.iter().zip(&k.calls).filter(|(_, kept)| **kept).flat_map(|(c, _)| c.made.iter().copied()).collect();
    let call_at: HashMap<usize, usize> = t.calls.iter().enumerate().map(|(c, call)| (call.record, c)).collect();
    let kept_at = |at: usize, record: &Record<'_>| -> bool {
        match record {
            Record::Call { .. } => k.calls[call_at[&at]],
            Record::Return { call, .. } | Record::Resolve { handle: call, .. } | Record::GpuTime { call, .. } => k.calls[*call as usize],
            Record::Drop { object } => made.contains(object),
            _ => false,
        }
    };
    // The blobs the kept records refer to, numbered anew in their order.
    let mut referenced: HashSet<u64> = HashSet::new();
    for (at, record) in t.records.iter().enumerate().take(k.end + 1) {
        if kept_at(at, record) {
            for &(_, _, number) in t.numbers.get(&at).map(Vec::as_slice).unwrap_or_default() {
                if let Number::Blob(b) | Number::StringBlob(b) = number {
                    referenced.insert(b);
                }
            }
        }
    }
    let mut blob_number: HashMap<u64, u64> = HashMap::new();
    let mut out = webgpu_virt_trace::header(&t.header);
    for g in &t.guests {
        webgpu_virt_trace::push(&mut out, &Record::Guest { name: g });
    }
    let mut tenant = 0;
    let renumber = |at: usize, payload: &[u8], blob_number: &HashMap<u64, u64>| -> Result<Vec<u8>, TraceToolError> {
        let mut e = Encoder::new();
        let mut from = 0;
        for &(start, end, number) in t.numbers.get(&at).map(Vec::as_slice).unwrap_or_default() {
            e.bytes.extend_from_slice(&payload[from..start]);
            match number {
                Number::Blob(b) => e.uleb(blob_number[&b]),
                Number::StringBlob(b) => e.string_blob(blob_number[&b]),
                Number::Handle(c) => {
                    let n = call_number.get(c as usize).copied().flatten();
                    let why = format!("a future or stream of call #{c}, which the slice leaves out");
                    // In the record at that offset.
                    let n = n.ok_or(TraceToolError::Value { offset: t.offsets[at], why })?;
                    e.uleb(n)
                }
            }
            from = end;
        }
        e.bytes.extend_from_slice(&payload[from..]);
        Ok(e.bytes)
    };
    for (at, record) in t.records.iter().enumerate().take(k.end + 1) {
        match record {
            Record::Blob { data, .. } => {
                let b = t.blob_of[&at];
                if referenced.contains(&b) {
                    blob_number.insert(b, blob_number.len() as u64);
                    // Hashed as this version names blobs (the original may be of an older one).
                    let hash = webgpu_virt_trace::hash::hash128(data);
                    webgpu_virt_trace::push(&mut out, &Record::Blob { hash, data });
                }
            }
            _ if !kept_at(at, record) => {}
            Record::Call { function, args } => {
                let c = call_at[&at];
                let g = t.calls[c].tenant;
                if !t.guests.is_empty() && g != tenant {
                    webgpu_virt_trace::push(&mut out, &Record::Tenant { guest: g as u64 });
                    tenant = g;
                }
                let args = renumber(at, args, &blob_number)?;
                webgpu_virt_trace::push(&mut out, &Record::Call { function: *function, args: &args });
            }
            Record::Return { call, value } => {
                let value = renumber(at, value, &blob_number)?;
                let call = call_number[*call as usize].expect("a kept call");
                webgpu_virt_trace::push(&mut out, &Record::Return { call, value: &value });
            }
            Record::Resolve { handle, value } => {
                let value = renumber(at, value, &blob_number)?;
                let handle = call_number[*handle as usize].expect("a kept call");
                webgpu_virt_trace::push(&mut out, &Record::Resolve { handle, value: &value });
            }
            Record::GpuTime { call, ns } => {
                let call = call_number[*call as usize].expect("a kept call");
                webgpu_virt_trace::push(&mut out, &Record::GpuTime { call, ns: *ns });
            }
            Record::Drop { object } => webgpu_virt_trace::push(&mut out, &Record::Drop { object: *object }),
            Record::Guest { .. } | Record::Tenant { .. } | Record::End { .. } => {}
        }
    }
    webgpu_virt_trace::push(&mut out, &Record::End { calls: next });
    Ok(out)
}
