//! Reading traces with the WIT: what `webgpu-virt trace dump` and `trace stats` print.
//!
//! A trace's values are not self-describing: the WIT of the interface says how to read them. The
//! [`Catalog`] holds it (the copy this build was made with; a trace recorded with another WIT is
//! refused by its hash) and decodes calls and results into text, one call per line, in the style
//! of `wasm-tools print`.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use webgpu_virt_trace::value::{DecodeError, Decoder, StringRef};
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

    /// The text of one value of type `ty`.
    fn value(&self, d: &mut Decoder<'_>, ty: &Type, cx: &mut Cx, out: &mut String) -> Result<(), DecodeError> {
        match ty {
            Type::Bool => out.push_str(if d.byte()? != 0 { "true" } else { "false" }),
            Type::U8 => write!(out, "{}", d.byte()?).unwrap(),
            Type::U16 | Type::U32 | Type::U64 => write!(out, "{}", d.uleb()?).unwrap(),
            Type::S8 | Type::S16 | Type::S32 | Type::S64 => write!(out, "{}", d.sleb()?).unwrap(),
            Type::F32 => write!(out, "{:?}", d.f32()?).unwrap(),
            Type::F64 => write!(out, "{:?}", d.f64()?).unwrap(),
            Type::Char => {
                let c = d.uleb_as::<u32>()?;
                write!(out, "{:?}", char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER)).unwrap()
            }
            Type::String => match d.string()? {
                StringRef::Inline(s) => write!(out, "{s:?}").unwrap(),
                StringRef::Blob(b) => cx.blob(out, b),
            },
            Type::ErrorContext => out.push_str("error-context"),
            Type::Id(id) => self.value_id(d, *id, cx, out)?,
        }
        Ok(())
    }

    fn value_id(&self, d: &mut Decoder<'_>, id: wit_parser::TypeId, cx: &mut Cx, out: &mut String) -> Result<(), DecodeError> {
        let def = &self.resolve.types[id];
        match &def.kind {
            TypeDefKind::Type(t) => self.value(d, t, cx, out)?,
            TypeDefKind::Record(r) => {
                out.push('{');
                for (i, f) in r.fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write!(out, "{}: ", f.name).unwrap();
                    self.value(d, &f.ty, cx, out)?;
                }
                out.push('}');
            }
            TypeDefKind::Tuple(t) => {
                out.push('(');
                for (i, ty) in t.types.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.value(d, ty, cx, out)?;
                }
                out.push(')');
            }
            TypeDefKind::Variant(v) => {
                let at = d.offset();
                let case = v.cases.get(d.uleb_as::<usize>()?).ok_or(DecodeError { at, why: "a variant case out of range" })?;
                out.push_str(&case.name);
                if let Some(t) = &case.ty {
                    out.push('(');
                    self.value(d, t, cx, out)?;
                    out.push(')');
                }
            }
            TypeDefKind::Enum(e) => {
                let at = d.offset();
                let case = e.cases.get(d.uleb_as::<usize>()?).ok_or(DecodeError { at, why: "an enum case out of range" })?;
                out.push_str(&case.name);
            }
            TypeDefKind::Flags(f) => {
                let bits = d.uleb()?;
                let set: Vec<&str> = f.flags.iter().enumerate().filter(|(i, _)| bits >> i & 1 == 1).map(|(_, f)| f.name.as_str()).collect();
                out.push_str(&if set.is_empty() { "none".to_string() } else { set.join("|") });
            }
            TypeDefKind::Option(t) => match d.byte()? {
                0 => out.push_str("none"),
                _ => {
                    out.push_str("some(");
                    self.value(d, t, cx, out)?;
                    out.push(')');
                }
            },
            TypeDefKind::List(Type::U8) => cx.blob(out, d.uleb()?),
            TypeDefKind::List(t) => {
                let n = d.uleb_as::<usize>()?;
                out.push('[');
                for i in 0..n {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.value(d, t, cx, out)?;
                }
                out.push(']');
            }
            TypeDefKind::Result(r) => {
                let (name, ty) = if d.byte()? == 0 { ("ok", &r.ok) } else { ("err", &r.err) };
                out.push_str(name);
                if let Some(t) = ty {
                    out.push('(');
                    self.value(d, t, cx, out)?;
                    out.push(')');
                }
            }
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                let mut r = *r;
                while let TypeDefKind::Type(Type::Id(next)) = self.resolve.types[r].kind {
                    r = next;
                }
                let name = self.resolve.types[r].name.as_deref().unwrap_or("resource");
                match name {
                    // Recorded by value.
                    "gpu-error" | "gpu-device-lost-info" => {
                        let kind = if name == "gpu-error" { "gpu-error-kind" } else { "gpu-device-lost-reason" };
                        let kind = self.resolve.interfaces[self.iface].types.get(kind).copied();
                        write!(out, "{name}{{").unwrap();
                        match kind {
                            Some(k) => self.value_id(d, k, cx, out)?,
                            None => write!(out, "{}", d.uleb()?).unwrap(),
                        }
                        out.push_str(", ");
                        self.value(d, &Type::String, cx, out)?;
                        out.push('}');
                    }
                    _ => match d.uleb()? {
                        0 => write!(out, "{name}#none").unwrap(),
                        id => {
                            cx.objects = cx.objects.max(id);
                            write!(out, "{name}#{id}").unwrap()
                        }
                    },
                }
            }
            TypeDefKind::Future(_) => write!(out, "future@call#{}", d.uleb()?).unwrap(),
            TypeDefKind::Stream(_) => write!(out, "stream@call#{}", d.uleb()?).unwrap(),
            _ => return Err(DecodeError { at: d.offset(), why: "a value of a type the trace tools do not read" }),
        }
        Ok(())
    }

    /// A call's arguments, as `name(arg, ...)`.
    fn call_text(&self, function: &Function, args: &[u8], cx: &mut Cx) -> Result<String, DecodeError> {
        let mut d = Decoder::new(args);
        let mut out = format!("{}(", function.name);
        for (i, p) in function.params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.value(&mut d, &p.ty, cx, &mut out)?;
        }
        out.push(')');
        finished(&d)?;
        Ok(out)
    }

    /// A result's text (empty for a function that returns nothing).
    fn result_text(&self, function: &Function, value: &[u8], cx: &mut Cx) -> Result<String, DecodeError> {
        let mut d = Decoder::new(value);
        let mut out = String::new();
        if let Some(t) = &function.result {
            self.value(&mut d, t, cx, &mut out)?;
        }
        finished(&d)?;
        Ok(out)
    }
}

impl Catalog {
    /// The text of what the future or stream `function` returned produced.
    fn resolved_text(&self, function: &Function, value: &[u8], cx: &mut Cx) -> Result<String, DecodeError> {
        let mut d = Decoder::new(value);
        let payload = match function.result {
            Some(Type::Id(id)) => match &self.resolve.types[id].kind {
                TypeDefKind::Future(t) | TypeDefKind::Stream(t) => *t,
                _ => None,
            },
            _ => None,
        };
        let Some(payload) = payload else { return Err(DecodeError { at: 0, why: "a value for a call that returned no future or stream" }) };
        let mut out = String::new();
        self.value(&mut d, &payload, cx, &mut out)?;
        finished(&d)?;
        Ok(out)
    }
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
    // Calls by number, for their results: the function.
    let mut functions: Vec<u32> = Vec::new();
    // The line of the last call, if its result may follow at once (a sync function).
    let mut open: Option<(u64, usize)> = None;
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
        match record {
            Record::Blob { data, hash } => cx.blobs.push((data.len(), hash)),
            Record::Call { function, args } => {
                let number = functions.len() as u64;
                let f = catalog.function(function).ok_or(TraceToolError::Value { offset, why: format!("function number {function} is not in the WIT") })?;
                functions.push(function);
                *calls.entry(f.name.clone()).or_default() += 1;
                let text = catalog.call_text(f, args, &mut cx).map_err(|e| bad(e, payload_at(args)))?;
                lines.push(format!("#{number} {text}"));
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
                let text = catalog.result_text(f, value, &mut cx).map_err(|e| bad(e, payload_at(value)))?;
                each[call as usize].1 = Some(text.clone());
                match follows {
                    Some((number, line)) if number == call => write!(lines[line], " -> {text}").unwrap(),
                    _ => lines.push(format!("#{call} -> {}", if text.is_empty() { "done" } else { &text })),
                }
            }
            Record::Drop { object } => lines.push(format!("drop #{object}")),
            Record::Resolve { handle, value } => {
                let f = functions.get(handle as usize).and_then(|f| catalog.function(*f));
                let text = f
                    .ok_or(TraceToolError::Value { offset, why: format!("a value of call #{handle}'s future or stream, which the trace has not made") })
                    .and_then(|f| catalog.resolved_text(f, value, &mut cx).map_err(|e| bad(e, payload_at(value))))?;
                lines.push(format!("#{handle} produced {text}"));
            }
        }
    }
    if stream_cut && cut.is_none() {
        // The compressed stream ends early, at a record's end: what came before is whole.
        cut = Some(TraceError::Truncated { offset: bytes.len() as u64 });
    }
    let Cx { blobs, data_bytes, objects, .. } = cx;
    Ok(Decoded { lines, each, calls, blobs, data_bytes, objects, bytes: size, cut })
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
