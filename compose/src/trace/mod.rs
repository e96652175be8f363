//! Reading traces with the WIT: what `webgpu-virt trace dump` and `trace stats` print.
//!
//! A trace's values are not self-describing: the WIT of the interface says how to read them. The
//! [`Catalog`] holds it (the copy this build was made with; a trace recorded with another WIT is
//! refused by its hash) and decodes calls and results into text, one call per line, in the style
//! of `wasm-tools print`.

mod memory;
mod slice;

pub use memory::Memory;
pub use slice::{Choice, Slice, slice};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use webgpu_virt_trace::value::{DecodeError, Decoder, StringRef};
pub use webgpu_virt_trace::Ending;
use webgpu_virt_trace::EndWatch;
use webgpu_virt_trace::{Reader, Record, TraceError};
use wit_parser::{Function, Handle, InterfaceId, Resolve, Type, TypeDefKind};

/// What is wrong with a trace, for the tools.
#[derive(Debug, thiserror::Error)]
pub enum TraceToolError {
    /// The trace's framing is wrong.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The trace records another interface, or another version of its WIT.
    #[error("the trace records {package} with a WIT whose hash is {theirs}; this build reads {ours} ({WEBGPU_NAME})", WEBGPU_NAME = crate::WEBGPU)]
    OtherWit {
        /// The trace's interface.
        package: String,
        /// Its WIT hash, hex.
        theirs: String,
        /// Ours, hex.
        ours: String,
    },
    /// A record's payload does not decode as its function's WIT types say.
    #[error("corrupt trace at byte {offset}: {why}")]
    Value {
        /// Where, from the start of the trace.
        offset: u64,
        /// What was expected there.
        why: String,
    },
    /// A slice asked for calls the trace cannot give (`trace slice`).
    #[error("{0}")]
    Choice(String),
}

/// The interface's WIT: how to read a trace's calls.
pub struct Catalog {
    resolve: Resolve,
    iface: InterfaceId,
    wit_hash: [u8; 32],
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Catalog {
    /// The WIT this build was made with (built into the binary).
    pub fn built_in() -> Self {
        let text = webgpu_virt_wit::WEBGPU_WIT;
        let mut resolve = Resolve::default();
        // The build checked this text: it is the package the virt was generated from.
        let pkg = resolve.push_str("webgpu.wit", text).expect("the built-in wasi:webgpu WIT parses");
        let iface = resolve.packages[pkg].interfaces.get("webgpu").copied().expect("wasi:webgpu has the `webgpu` interface");
        Self { resolve, iface, wit_hash: Sha256::digest(text.as_bytes()).into() }
    }

    /// The function numbered `n` in traces.
    fn function(&self, n: u32) -> Option<&Function> {
        self.resolve.interfaces[self.iface].functions.get_index(n as usize).map(|(_, f)| f)
    }

    /// Checks that `reader`'s trace records this interface.
    fn check(&self, reader: &Reader<'_>) -> Result<(), TraceToolError> {
        let ours = self.resolve.id_of(self.iface).unwrap_or_default();
        if reader.header.package != ours || reader.header.wit_hash != self.wit_hash {
            return Err(TraceToolError::OtherWit {
                package: reader.header.package.clone(),
                theirs: hex(&reader.header.wit_hash),
                ours: hex(&self.wit_hash),
            });
        }
        Ok(())
    }

    /// One value of type `ty`.
    fn read(&self, d: &mut Decoder<'_>, ty: &Type, n: &mut Numbers) -> Result<Value<'_>, DecodeError> {
        Ok(match ty {
            Type::Bool => Value::Bool(d.byte()? != 0),
            Type::U8 => Value::Unsigned(u64::from(d.byte()?)),
            Type::U16 | Type::U32 | Type::U64 => Value::Unsigned(d.uleb()?),
            Type::S8 | Type::S16 | Type::S32 | Type::S64 => Value::Signed(d.sleb()?),
            Type::F32 => Value::F32(d.f32()?),
            Type::F64 => Value::F64(d.f64()?),
            Type::Char => Value::Char(char::from_u32(d.uleb_as::<u32>()?).unwrap_or(char::REPLACEMENT_CHARACTER)),
            Type::String => {
                let at = d.offset();
                match d.string()? {
                    StringRef::Inline(s) => Value::Str(s.to_string()),
                    StringRef::Blob(b) => {
                        n.note(at, d.offset(), Number::StringBlob(b));
                        Value::Blob(b)
                    }
                }
            }
            Type::ErrorContext => Value::Case("error-context", None),
            Type::Id(id) => self.read_id(d, *id, n)?,
        })
    }

    fn read_id(&self, d: &mut Decoder<'_>, id: wit_parser::TypeId, n: &mut Numbers) -> Result<Value<'_>, DecodeError> {
        let def = &self.resolve.types[id];
        Ok(match &def.kind {
            TypeDefKind::Type(t) => self.read(d, t, n)?,
            TypeDefKind::Record(r) => Value::Record(r.fields.iter().map(|f| Ok((f.name.as_str(), self.read(d, &f.ty, n)?))).collect::<Result<_, _>>()?),
            TypeDefKind::Tuple(t) => Value::Tuple(t.types.iter().map(|t| self.read(d, t, n)).collect::<Result<_, _>>()?),
            TypeDefKind::Variant(v) => {
                let at = d.offset();
                let case = v.cases.get(d.uleb_as::<usize>()?).ok_or(DecodeError { at, why: "a variant case out of range" })?;
                let payload = match &case.ty {
                    Some(t) => Some(Box::new(self.read(d, t, n)?)),
                    None => None,
                };
                Value::Case(&case.name, payload)
            }
            TypeDefKind::Enum(e) => {
                let at = d.offset();
                let case = e.cases.get(d.uleb_as::<usize>()?).ok_or(DecodeError { at, why: "an enum case out of range" })?;
                Value::Case(&case.name, None)
            }
            TypeDefKind::Flags(f) => {
                let bits = d.uleb()?;
                Value::Flags(f.flags.iter().enumerate().filter(|(i, _)| bits >> i & 1 == 1).map(|(_, f)| f.name.as_str()).collect())
            }
            TypeDefKind::Option(t) => match d.byte()? {
                0 => Value::Case("none", None),
                _ => Value::Case("some", Some(Box::new(self.read(d, t, n)?))),
            },
            TypeDefKind::List(Type::U8) => {
                let at = d.offset();
                let blob = d.uleb()?;
                n.note(at, d.offset(), Number::Blob(blob));
                Value::Blob(blob)
            }
            TypeDefKind::List(t) => {
                let len = d.uleb_as::<usize>()?;
                // Each element takes a byte at least: a count past the payload is damage.
                if len > d.rest().len() {
                    return Err(DecodeError { at: d.offset(), why: "a list longer than its record" });
                }
                Value::List((0..len).map(|_| self.read(d, t, n)).collect::<Result<_, _>>()?)
            }
            TypeDefKind::Result(r) => {
                let (name, ty) = if d.byte()? == 0 { ("ok", &r.ok) } else { ("err", &r.err) };
                let payload = match ty {
                    Some(t) => Some(Box::new(self.read(d, t, n)?)),
                    None => None,
                };
                Value::Case(name, payload)
            }
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                let mut r = *r;
                while let TypeDefKind::Type(Type::Id(next)) = self.resolve.types[r].kind {
                    r = next;
                }
                let name = self.resolve.types[r].name.as_deref().unwrap_or("resource");
                match name {
                    // Recorded by value: kind (or reason), then message.
                    "gpu-error" | "gpu-device-lost-info" => {
                        let kind = if name == "gpu-error" { "gpu-error-kind" } else { "gpu-device-lost-reason" };
                        let kind = match self.resolve.interfaces[self.iface].types.get(kind) {
                            Some(k) => self.read_id(d, *k, n)?,
                            None => Value::Unsigned(d.uleb()?),
                        };
                        Value::Recorded(name, Box::new([kind, self.read(d, &Type::String, n)?]))
                    }
                    _ => Value::Object(name, d.uleb()?),
                }
            }
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => {
                let kind = if matches!(def.kind, TypeDefKind::Future(_)) { "future" } else { "stream" };
                let at = d.offset();
                let call = d.uleb()?;
                n.note(at, d.offset(), Number::Handle(call));
                Value::Handle(kind, call)
            }
            _ => return Err(DecodeError { at: d.offset(), why: "a value of a type the trace tools do not read" }),
        })
    }

    /// A call's arguments.
    fn args(&self, function: &Function, args: &[u8], n: &mut Numbers) -> Result<Vec<Value<'_>>, DecodeError> {
        let mut d = Decoder::new(args);
        let values = function.params.iter().map(|p| self.read(&mut d, &p.ty, n)).collect::<Result<_, _>>()?;
        finished(&d)?;
        Ok(values)
    }

    /// A call's result (`None` for a function that returns nothing).
    fn result(&self, function: &Function, value: &[u8], n: &mut Numbers) -> Result<Option<Value<'_>>, DecodeError> {
        let mut d = Decoder::new(value);
        let result = function.result.as_ref().map(|t| self.read(&mut d, t, n)).transpose()?;
        finished(&d)?;
        Ok(result)
    }

    /// What the future or stream `function` returned produced.
    fn resolved(&self, function: &Function, value: &[u8], n: &mut Numbers) -> Result<Value<'_>, DecodeError> {
        let mut d = Decoder::new(value);
        let payload = match function.result {
            Some(Type::Id(id)) => match &self.resolve.types[id].kind {
                TypeDefKind::Future(t) | TypeDefKind::Stream(t) => *t,
                _ => None,
            },
            _ => None,
        };
        let Some(payload) = payload else { return Err(DecodeError { at: 0, why: "a value for a call that returned no future or stream" }) };
        let value = self.read(&mut d, &payload, n)?;
        finished(&d)?;
        Ok(value)
    }
}

/// A number in a value that names another record: a blob, or the call that returned a future
/// or stream. A trace cut out of another (`trace slice`) numbers them anew.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Number {
    /// A `list<u8>`'s blob.
    Blob(u64),
    /// A long string's blob.
    StringBlob(u64),
    /// A future or stream, by the call that returned it.
    Handle(u64),
}

/// Where a value's [`Number`]s are, when wanted: byte ranges of the payload.
pub(crate) struct Numbers(Option<Vec<(usize, usize, Number)>>);

impl Numbers {
    /// Numbers not wanted.
    fn none() -> Self {
        Self(None)
    }

    /// Numbers wanted.
    pub(crate) fn wanted() -> Self {
        Self(Some(Vec::new()))
    }

    fn note(&mut self, start: usize, end: usize, number: Number) {
        if let Some(found) = &mut self.0 {
            found.push((start, end, number));
        }
    }

    /// Those found since the last take.
    pub(crate) fn take(&mut self) -> Vec<(usize, usize, Number)> {
        self.0.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// A value of a trace, read with its WIT type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'c> {
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    F32(f32),
    F64(f64),
    Char(char),
    /// A string kept in the record.
    Str(String),
    /// Bulk data (`list<u8>`, a long string), by blob number.
    Blob(u64),
    Record(Vec<(&'c str, Value<'c>)>),
    Tuple(Vec<Value<'c>>),
    /// A variant's or enum's case, an option's `some`/`none`, a result's `ok`/`err`.
    Case(&'c str, Option<Box<Value<'c>>>),
    Flags(Vec<&'c str>),
    List(Vec<Value<'c>>),
    /// An object: its resource and id (0: none).
    Object(&'c str, u64),
    /// A resource recorded by value (`gpu-error`): kind (or reason) and message.
    Recorded(&'c str, Box<[Value<'c>; 2]>),
    /// A future or stream, by the number of the call that returned it.
    Handle(&'static str, u64),
}

impl Value<'_> {
    /// A record's field.
    pub(crate) fn field(&self, name: &str) -> Option<&Self> {
        match self {
            Value::Record(fields) => fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What an option or a result holds, if it does.
    pub(crate) fn inner(&self) -> Option<&Self> {
        match self {
            Value::Case("some" | "ok", Some(v)) => Some(v),
            _ => None,
        }
    }

    /// The text of the value, in the style of `wasm-tools print`.
    fn show(&self, cx: &mut Cx, out: &mut String) {
        let list = |items: &[Value<'_>], cx: &mut Cx, out: &mut String| {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                v.show(cx, out);
            }
        };
        match self {
            Value::Bool(b) => write!(out, "{b}").unwrap(),
            Value::Unsigned(n) => write!(out, "{n}").unwrap(),
            Value::Signed(n) => write!(out, "{n}").unwrap(),
            Value::F32(x) => write!(out, "{x:?}").unwrap(),
            Value::F64(x) => write!(out, "{x:?}").unwrap(),
            Value::Char(c) => write!(out, "{c:?}").unwrap(),
            Value::Str(s) => write!(out, "{s:?}").unwrap(),
            Value::Blob(n) => cx.blob(out, *n),
            Value::Record(fields) => {
                out.push('{');
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write!(out, "{name}: ").unwrap();
                    v.show(cx, out);
                }
                out.push('}');
            }
            Value::Tuple(items) => {
                out.push('(');
                list(items, cx, out);
                out.push(')');
            }
            Value::Case(name, payload) => {
                out.push_str(name);
                if let Some(v) = payload {
                    out.push('(');
                    v.show(cx, out);
                    out.push(')');
                }
            }
            Value::Flags(set) if set.is_empty() => out.push_str("none"),
            Value::Flags(set) => out.push_str(&set.join("|")),
            Value::List(items) => {
                out.push('[');
                list(items, cx, out);
                out.push(']');
            }
            Value::Object(name, 0) => write!(out, "{name}#none").unwrap(),
            Value::Object(name, id) => {
                cx.objects = cx.objects.max(*id);
                write!(out, "{name}#{id}").unwrap()
            }
            Value::Recorded(name, parts) => {
                write!(out, "{name}{{").unwrap();
                list(&parts[..], cx, out);
                out.push('}');
            }
            Value::Handle(kind, call) => write!(out, "{kind}@call#{call}").unwrap(),
        }
    }
}

/// The text of values, comma-separated.
fn show_all(values: &[Value<'_>], cx: &mut Cx) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        v.show(cx, &mut out);
    }
    out
}

fn finished(d: &Decoder<'_>) -> Result<(), DecodeError> {
    if d.is_empty() { Ok(()) } else { Err(DecodeError { at: d.offset(), why: "bytes after the last value" }) }
}

/// What decoding keeps track of: the blobs so far, and what the values referred to.
#[derive(Default)]
struct Cx {
    /// (size, content hash) by number.
    blobs: Vec<(usize, [u8; 16])>,
    data_bytes: u64,
    objects: u64,
    /// Show blobs by content (for comparing traces) rather than by number.
    by_content: bool,
}

impl Cx {
    fn blob(&mut self, out: &mut String, n: u64) {
        match self.blobs.get(n as usize) {
            Some((len, hash)) => {
                self.data_bytes += *len as u64;
                match self.by_content {
                    true => write!(out, "blob:{} ({len} bytes)", hex(&hash[..8])).unwrap(),
                    false => write!(out, "blob#{n} ({len} bytes)").unwrap(),
                }
            }
            None => write!(out, "blob#{n} (not in the trace)").unwrap(),
        }
    }
}

/// A trace as the tools see it: its calls decoded, in order.
pub struct Decoded {
    /// One line per call (with its result when it came at once), drop and resolution.
    pub lines: Vec<String>,
    /// Each call, by number, and its result (for a function that returns one and has).
    pub each: Vec<(String, Option<String>)>,
    /// Calls by function name.
    pub calls: BTreeMap<String, u64>,
    /// Blob sizes and content hashes, by number.
    pub blobs: Vec<(usize, [u8; 16])>,
    /// The bytes of data the calls and results carried (each reference to a blob counts).
    pub data_bytes: u64,
    /// Objects the trace shows (the largest id).
    pub objects: u64,
    /// Bytes of the whole trace (as stored: compressed, if it is).
    pub bytes: u64,
    /// Why the trace ends early, if it does: its records are whole up to there (for a
    /// compressed trace, the offset is in its inflated records).
    pub cut: Option<TraceError>,
    /// The GPU memory the calls held, over time.
    pub memory: Memory,
    /// A pod's guests, in order, with their own figures (empty for one application's trace).
    pub guests: Vec<Guest>,
    /// Whether the application finished.
    pub ending: Ending,
    /// The GPU time the virt measured, if it did (`plug --gpu-time`).
    pub gpu: GpuTime,
}

/// GPU time a trace records ([`Record::GpuTime`]): in all, and as it grew.
#[derive(Default, Clone)]
pub struct GpuTime {
    /// Nanoseconds in all.
    pub ns: u64,
    /// Queue operations timed.
    pub operations: u64,
    /// After how many calls made, how many nanoseconds in all: one point per record.
    pub changes: Vec<(u64, u64)>,
}

impl GpuTime {
    fn add(&mut self, calls_made: u64, ns: u64) {
        self.ns += ns;
        self.operations += 1;
        self.changes.push((calls_made, self.ns));
    }

    /// At most `n` points of the GPU time as it grew, evenly spread, the last included.
    pub fn over_time(&self, n: usize) -> Vec<(u64, u64)> {
        let len = self.changes.len();
        if len <= n {
            return self.changes.clone();
        }
        (1..=n).map(|i| self.changes[i * len / n - 1]).collect()
    }
}

/// One guest of a pod's trace, and what its calls did.
#[derive(Default)]
pub struct Guest {
    /// Its name in the pod.
    pub name: String,
    /// Its calls.
    pub calls: u64,
    /// The bytes of data its calls and their results carried.
    pub data_bytes: u64,
    /// The GPU memory its calls held, over time (calls counted over the whole trace).
    pub memory: Memory,
    /// The GPU time of its queue operations.
    pub gpu: GpuTime,
}

/// Decodes a trace: the whole of it, or up to where it is cut off or damaged (a cut trace is
/// what a run that stopped leaves: its prefix is read, and [`Decoded::cut`] says where it ends).
pub fn decode(catalog: &Catalog, bytes: &[u8]) -> Result<Decoded, TraceToolError> {
    decode_with(catalog, bytes, false)
}

/// A compressed trace's records, inflated, and whether the stream was whole (what a cut stream
/// holds is inflated, up to the cut).
fn inflate(data: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let whole = std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(data), &mut out).is_ok();
    (out, whole)
}

/// A trace with its records compressed (DEFLATE), as `trace compress` writes it.
pub fn compress(bytes: &[u8]) -> Result<Vec<u8>, TraceToolError> {
    Ok(webgpu_virt_trace::deflated(bytes, |records| {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, records).expect("writing to memory");
        e.finish().expect("writing to memory")
    })?)
}

fn decode_with(catalog: &Catalog, bytes: &[u8], by_content: bool) -> Result<Decoded, TraceToolError> {
    let size = bytes.len() as u64;
    let mut stream_cut = false;
    let inflated = webgpu_virt_trace::inflated(bytes, |records| {
        let (out, whole) = inflate(records);
        stream_cut = !whole;
        if out.is_empty() && !whole { Err("the compressed records do not inflate") } else { Ok(out) }
    })?;
    let bytes = &inflated[..];
    let reader = Reader::new(bytes)?;
    catalog.check(&reader)?;
    let mut lines = Vec::new();
    let mut each = Vec::new();
    let mut calls = BTreeMap::new();
    let mut cut = None;
    let mut cx = Cx { by_content, ..Cx::default() };
    let mut memory = Memory::default();
    // Calls by number, for their results: the function.
    let mut functions: Vec<u32> = Vec::new();
    // The line of the last call, if its result may follow at once (a sync function).
    let mut open: Option<(u64, usize)> = None;
    let mut guests: Vec<Guest> = Vec::new();
    // The guest making calls now, and the guest of each call.
    let mut tenant = 0usize;
    let mut tenants: Vec<usize> = Vec::new();
    let mut end = EndWatch::default();
    let mut gpu = GpuTime::default();
    for record in reader.records() {
        let (offset, record) = match record {
            Ok(r) => r,
            Err(e @ TraceError::Truncated { .. }) => {
                cut = Some(e);
                break;
            }
            Err(e) => return Err(e.into()),
        };
        // Where a payload starts in the trace: it borrows from `bytes`.
        let payload_at = |payload: &[u8]| payload.as_ptr() as u64 - bytes.as_ptr() as u64;
        let bad = |e: DecodeError, start: u64| TraceToolError::Value { offset: start + e.at as u64, why: e.why.into() };
        // A result's blobs come before it: they keep the call's line open.
        let follows = if matches!(record, Record::Blob { .. }) { open } else { open.take() };
        end.see(offset, &record)?;
        match record {
            Record::End { .. } => {}
            Record::Blob { data, hash } => cx.blobs.push((data.len(), hash)),
            Record::Guest { name } => guests.push(Guest { name: name.to_string(), ..Guest::default() }),
            Record::Tenant { guest } => {
                tenant = usize::try_from(guest).ok().filter(|g| *g < guests.len()).ok_or(TraceToolError::Value {
                    offset,
                    why: format!("calls of guest #{guest}, which the trace does not name"),
                })?;
            }
            Record::Call { function, args } => {
                let number = functions.len() as u64;
                let f = catalog.function(function).ok_or(TraceToolError::Value { offset, why: format!("function number {function} is not in the WIT") })?;
                functions.push(function);
                tenants.push(tenant);
                *calls.entry(f.name.clone()).or_default() += 1;
                let values = catalog.args(f, args, &mut Numbers::none()).map_err(|e| bad(e, payload_at(args)))?;
                memory.call(number, f, &values);
                let data_before = cx.data_bytes;
                let text = format!("{}({})", f.name, show_all(&values, &mut cx));
                match guests.get_mut(tenant) {
                    Some(g) => {
                        g.calls += 1;
                        g.data_bytes += cx.data_bytes - data_before;
                        g.memory.call(number, f, &values);
                        lines.push(format!("#{number} [{}] {text}", g.name));
                    }
                    None => lines.push(format!("#{number} {text}")),
                }
                each.push((text, None));
                if !f.kind.is_async() {
                    open = Some((number, lines.len() - 1));
                }
            }
            Record::Return { call, value } => {
                let f = functions
                    .get(call as usize)
                    .and_then(|f| catalog.function(*f))
                    .ok_or(TraceToolError::Value { offset, why: format!("a result of call #{call}, which the trace has not made") })?;
                let result = catalog.result(f, value, &mut Numbers::none()).map_err(|e| bad(e, payload_at(value)))?;
                let guest = tenants.get(call as usize).and_then(|t| guests.get_mut(*t));
                let data_before = cx.data_bytes;
                if let Some(result) = &result {
                    memory.returned(call, result);
                }
                let text = result.as_ref().map(|r| show_all(std::slice::from_ref(r), &mut cx)).unwrap_or_default();
                if let Some(g) = guest {
                    g.data_bytes += cx.data_bytes - data_before;
                    if let Some(result) = &result {
                        g.memory.returned(call, result);
                    }
                }
                each[call as usize].1 = Some(text.clone());
                match follows {
                    Some((number, line)) if number == call => write!(lines[line], " -> {text}").unwrap(),
                    _ => lines.push(format!("#{call} -> {}", if text.is_empty() { "done" } else { &text })),
                }
            }
            Record::Drop { object } => {
                memory.dropped(functions.len() as u64, object);
                for g in &mut guests {
                    g.memory.dropped(functions.len() as u64, object);
                }
                lines.push(format!("drop #{object}"));
            }
            Record::Resolve { handle, value } => {
                let f = functions.get(handle as usize).and_then(|f| catalog.function(*f));
                let text = f
                    .ok_or(TraceToolError::Value { offset, why: format!("a value of call #{handle}'s future or stream, which the trace has not made") })
                    .and_then(|f| catalog.resolved(f, value, &mut Numbers::none()).map_err(|e| bad(e, payload_at(value))))
                    .map(|v| show_all(&[v], &mut cx))?;
                lines.push(format!("#{handle} produced {text}"));
            }
            Record::GpuTime { call, ns } => {
                let Some(&tenant) = tenants.get(call as usize) else {
                    return Err(TraceToolError::Value { offset, why: format!("the GPU time of call #{call}, which the trace has not made") });
                };
                let made = functions.len() as u64;
                gpu.add(made, ns);
                if let Some(g) = guests.get_mut(tenant) {
                    g.gpu.add(made, ns);
                }
                lines.push(format!("#{call} ran {:.3} ms on the GPU", ns as f64 / 1e6));
            }
        }
    }
    if stream_cut && cut.is_none() {
        // The compressed stream ends early, at a record's end: what came before is whole.
        cut = Some(TraceError::Truncated { offset: bytes.len() as u64 });
    }
    memory.finish();
    guests.iter_mut().for_each(|g| g.memory.finish());
    let Cx { blobs, data_bytes, objects, .. } = cx;
    let ending = end.ending(reader.version);
    Ok(Decoded { lines, each, calls, blobs, data_bytes, objects, bytes: size, cut, memory, guests, ending, gpu })
}

/// Draws the GPU memory the calls held over time as an SVG chart at `path`, and under it, when
/// the trace records GPU time, the GPU time as it grew: one line per guest of a pod's trace,
/// else one for the whole trace; calls made across.
pub fn plot(decoded: &Decoded, title: &str, path: &std::path::Path) -> Result<(), String> {
    use plotters::prelude::*;
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let calls = decoded.each.len().max(1) as f64;
    let pod = !decoded.guests.is_empty();
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    // Each series as steps: a change holds until the next.
    let steps = |changes: &[(u64, u64)], scale: &dyn Fn(u64) -> f64| {
        let mut points = vec![(0.0, 0.0)];
        for &(at, value) in changes {
            let last = points.last().map_or(0.0, |p: &(f64, f64)| p.1);
            points.push((at as f64, last));
            points.push((at as f64, scale(value)));
        }
        points.push((calls, points.last().map_or(0.0, |p| p.1)));
        points
    };
    let memory: Vec<(String, Vec<(f64, f64)>)> = match pod {
        false => vec![("all calls".into(), steps(&decoded.memory.changes, &mib))],
        true => decoded.guests.iter().map(|g| (g.name.clone(), steps(&g.memory.changes, &mib))).collect(),
    };
    let ms = |ns: u64| ns as f64 / 1e6;
    let gpu: Vec<(String, Vec<(f64, f64)>)> = match pod {
        false => vec![("all calls".into(), steps(&decoded.gpu.changes, &ms))],
        true => decoded.guests.iter().map(|g| (g.name.clone(), steps(&g.gpu.changes, &ms))).collect(),
    };
    let timed = decoded.gpu.operations > 0;
    let root = SVGBackend::new(path, (960, if timed { 1000 } else { 540 })).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (top, bottom) = if timed { root.split_vertically(500) } else { (root.clone(), root.clone()) };
    let chart = |area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, caption: String, unit: &str, series: &[(String, Vec<(f64, f64)>)]| {
        let high = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)).fold(0.0, f64::max).max(1.0 / 1024.0) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..calls, 0.0..high)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc("calls made")
            .y_desc(unit)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| if *v >= 1e5 { format!("{v:.1e}") } else { format!("{v:.2}") })
            .draw()
            .map_err(|e| fail(&e))?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| fail(&e))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| fail(&e))
    };
    chart(&top, format!("GPU memory held, {title}"), "MiB held", &memory)?;
    if timed {
        chart(&bottom, format!("GPU time, {title}"), "ms of GPU time in all", &gpu)?;
    }
    root.present().map_err(|e| fail(&e))
}

/// How two traces differ, call by call (aligned by call number; objects by their ids, which
/// both recorders assign in the order objects are made; data by content).
pub struct Diff {
    /// The number of calls whose function, arguments or result differ, or that only one trace has.
    pub count: u64,
    /// The first: call number, and each trace's call with its result (`None`: not in that trace).
    pub first: Option<(u64, Option<String>, Option<String>)>,
    /// The calls of each trace.
    pub calls: (u64, u64),
}

/// Compares two traces.
pub fn diff(catalog: &Catalog, a: &[u8], b: &[u8]) -> Result<Diff, TraceToolError> {
    let (a, b) = (decode_with(catalog, a, true)?, decode_with(catalog, b, true)?);
    let show = |(call, result): &(String, Option<String>)| match result {
        Some(r) if !r.is_empty() => format!("{call} -> {r}"),
        _ => call.clone(),
    };
    let mut out = Diff { count: 0, first: None, calls: (a.each.len() as u64, b.each.len() as u64) };
    for i in 0..a.each.len().max(b.each.len()) {
        let (x, y) = (a.each.get(i).map(show), b.each.get(i).map(show));
        if x != y {
            out.count += 1;
            out.first.get_or_insert((i as u64, x, y));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_texture_format_of_the_wit_has_a_block() {
        let catalog = Catalog::built_in();
        let formats = catalog.resolve.interfaces[catalog.iface].types["gpu-texture-format"];
        let TypeDefKind::Enum(e) = &catalog.resolve.types[formats].kind else { panic!("gpu-texture-format is an enum") };
        assert!(e.cases.len() > 90);
        for case in &e.cases {
            assert!(webgpu_virt_config::memory::block_of(&case.name).is_some(), "{} has no block", case.name);
        }
    }
}
