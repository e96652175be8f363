//! Generates the replayer's dispatch from the WIT: for every function of `wasi:webgpu/webgpu`,
//! code that decodes a recorded call's arguments into the import's values (objects by the ids
//! the recorder gave them), makes the call, and checks what it returned against the recorded
//! result, binding the objects it made to their recorded ids. A new WIT revision is a rebuild.
//!
//! What the trace's value encoding is: `webgpu_virt_trace::value`. What cannot be mechanical is
//! named in two tables: [`BY_VALUE`], resources the recorder writes as the values they hold,
//! checked by hand-written functions; [`HOST_DEPENDENT`], results that describe the host (its
//! adapter, its limits, its compiler's words), which replay binds but does not compare.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use webgpu_virt_codegen::{Side, Types, camel, ident, is_async};
use wit_parser::{Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId};

/// Resources recorded by value, and the hand-written function (in `src/check.rs`) that checks a
/// replayed one against the recorded value.
const BY_VALUE: &[(&str, &str)] = &[("gpu-error", "crate::check::gpu_error"), ("gpu-device-lost-info", "crate::check::gpu_device_lost_info")];

/// Results that depend on the host rather than on the calls: every method of these resources,
/// and these functions. Objects in them are bound; values are not compared.
const HOST_DEPENDENT: &[&str] = &[
    "gpu-supported-limits",
    "gpu-supported-features",
    "gpu-adapter-info",
    "wgsl-language-features",
    "gpu-compilation-message",
    "[method]gpu.get-preferred-canvas-format",
    "[method]gpu-compilation-info.messages",
];

/// Record fields that hold the host's own words.
const HOST_WORDS: &[&str] = &["message"];

fn main() {
    let wit = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../wit");
    println!("cargo::rerun-if-changed={}", wit.display());
    println!("cargo::rerun-if-changed=build.rs");
    let (resolve, iface) = webgpu_virt_codegen::load(&wit, "replayer");
    let mut code = Gen::new(&resolve, iface).generate();
    code += &webgpu_virt_codegen::trace_constants(&resolve, iface, &wit);
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("dispatch.rs");
    std::fs::write(&out, code).expect("writing dispatch.rs");
}

struct Gen<'a> {
    t: Types<'a>,
    iface: InterfaceId,
    /// Generated decoders and checkers of named types, by function name.
    helpers: BTreeMap<String, String>,
}

impl<'a> Gen<'a> {
    fn new(resolve: &'a Resolve, iface: InterfaceId) -> Self {
        Self { t: Types::new(resolve), iface, helpers: BTreeMap::new() }
    }

    fn by_value(&self, resource: TypeId) -> Option<&'static str> {
        let name = self.t.wit_name(resource);
        BY_VALUE.iter().find(|(r, _)| *r == name).map(|(_, check)| *check)
    }

    /// The import side's Rust type, with `lt` for the lifetime of borrows.
    fn ty(&mut self, ty: &Type, lt: &str) -> String {
        self.t.rust_type(ty, &Side::Import { module: "gpu", lifetime: lt })
    }

    // ---- decoding arguments ----

    /// An expression decoding a value of `ty` from `d` with the context `c` (`?` on errors).
    fn dec(&mut self, ty: &Type) -> String {
        match ty {
            Type::Bool => "d.byte()? != 0".into(),
            Type::U8 => "d.byte()?".into(),
            Type::U16 => "d.uleb_as::<u16>()?".into(),
            Type::U32 => "d.uleb_as::<u32>()?".into(),
            Type::U64 => "d.uleb()?".into(),
            Type::S8 => "crate::table::signed::<i8>(d)?".into(),
            Type::S16 => "crate::table::signed::<i16>(d)?".into(),
            Type::S32 => "crate::table::signed::<i32>(d)?".into(),
            Type::S64 => "d.sleb()?".into(),
            Type::F32 => "d.f32()?".into(),
            Type::F64 => "d.f64()?".into(),
            Type::Char => "{ let at = d.offset(); char::from_u32(d.uleb_as()?).ok_or(Stop::corrupt(at, \"a char that is not a Unicode scalar value\"))? }".into(),
            Type::String => "c.string(d)?".into(),
            Type::ErrorContext => panic!("error-context is not supported"),
            Type::Id(id) => self.dec_id(*id),
        }
    }

    fn dec_id(&mut self, id: TypeId) -> String {
        if !self.t.is_named(id) {
            return self.dec_body(id);
        }
        let function = format!("dec_{}", ident(self.t.wit_name(id)));
        if !self.helpers.contains_key(&function) {
            self.helpers.insert(function.clone(), String::new());
            let body = self.dec_body(id);
            let ty = self.ty(&Type::Id(id), "'a");
            self.helpers.insert(
                function.clone(),
                format!("fn {function}<'a>(c: &crate::table::Ctx<'a>, d: &mut Decoder<'_>) -> Result<{ty}, Stop> {{ Ok({body}) }}\n"),
            );
        }
        format!("{function}(c, d)?")
    }

    fn dec_body(&mut self, id: TypeId) -> String {
        let kind = self.t.resolve.types[id].kind.clone();
        match kind {
            TypeDefKind::Type(t) => self.dec(&t),
            TypeDefKind::Record(r) => {
                let name = self.t.type_name(id);
                let fields: Vec<String> = r.fields.iter().map(|f| format!("{}: {}", ident(&f.name), self.dec(&f.ty))).collect();
                format!("gpu::{name} {{ {} }}", fields.join(", "))
            }
            TypeDefKind::Tuple(t) => {
                let parts: Vec<String> = t.types.iter().map(|t| self.dec(t)).collect();
                format!("({},)", parts.join(", "))
            }
            TypeDefKind::Variant(v) => {
                let name = self.t.type_name(id);
                let arms: Vec<String> = v
                    .cases
                    .iter()
                    .enumerate()
                    .map(|(i, case)| match &case.ty {
                        Some(t) => format!("{i} => gpu::{name}::{}({}),", camel(&case.name), self.dec(t)),
                        None => format!("{i} => gpu::{name}::{},", camel(&case.name)),
                    })
                    .collect();
                format!("{{ let at = d.offset(); match d.uleb()? {{ {} _ => return Err(Stop::corrupt(at, \"a case the variant does not have\")) }} }}", arms.join(" "))
            }
            TypeDefKind::Enum(e) => {
                let name = self.t.type_name(id);
                let arms: Vec<String> = e.cases.iter().enumerate().map(|(i, case)| format!("{i} => gpu::{name}::{},", camel(&case.name))).collect();
                format!("{{ let at = d.offset(); match d.uleb()? {{ {} _ => return Err(Stop::corrupt(at, \"a case the enum does not have\")) }} }}", arms.join(" "))
            }
            TypeDefKind::Flags(_) => {
                let name = self.t.type_name(id);
                format!("{{ let at = d.offset(); gpu::{name}::from_bits(d.uleb_as()?).ok_or(Stop::corrupt(at, \"flags the type does not have\"))? }}")
            }
            TypeDefKind::Option(t) => {
                format!("{{ let at = d.offset(); match d.byte()? {{ 0 => None, 1 => Some({}), _ => return Err(Stop::corrupt(at, \"an option tag other than 0 or 1\")) }} }}", self.dec(&t))
            }
            TypeDefKind::List(Type::U8) => "c.bytes(d)?".into(),
            TypeDefKind::List(t) => format!("{{ let n = crate::table::count(d)?; let mut v = Vec::with_capacity(n); for _ in 0..n {{ v.push({}); }} v }}", self.dec(&t)),
            TypeDefKind::Result(r) => {
                let ok = r.ok.map(|t| self.dec(&t)).unwrap_or_else(|| "()".into());
                let err = r.err.map(|t| self.dec(&t)).unwrap_or_else(|| "()".into());
                format!("{{ let at = d.offset(); match d.byte()? {{ 0 => Ok({ok}), 1 => Err({err}), _ => return Err(Stop::corrupt(at, \"a result tag other than 0 or 1\")) }} }}")
            }
            TypeDefKind::Handle(Handle::Own(r)) => {
                let r = self.t.resource(r);
                assert!(self.by_value(r).is_none(), "a resource recorded by value is passed to the runtime: replay cannot make one");
                format!("c.own::<gpu::{}>(d)?", self.t.type_name(r))
            }
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                let r = self.t.resource(r);
                assert!(self.by_value(r).is_none(), "a resource recorded by value is passed to the runtime: replay cannot make one");
                format!("c.borrow::<gpu::{}>(d)?", self.t.type_name(r))
            }
            other => panic!("decoding {other:?} is not supported"),
        }
    }

    // ---- checking results ----

    /// Statements checking `got`, a replayed value of `ty`, against the recorded one in `d`.
    fn chk(&mut self, e: &str, ty: &Type) -> String {
        match ty {
            Type::Bool => format!("k.same(d.byte()? != 0, {e})?;"),
            Type::U8 => format!("k.same(d.byte()?, {e})?;"),
            Type::U16 | Type::U32 | Type::U64 => format!("k.same(d.uleb()?, u64::from({e}))?;"),
            Type::S8 | Type::S16 | Type::S32 | Type::S64 => format!("k.same(d.sleb()?, i64::from({e}))?;"),
            Type::F32 => format!("k.same_float(f64::from(d.f32()?), f64::from({e}))?;"),
            Type::F64 => format!("k.same_float(d.f64()?, {e})?;"),
            Type::Char => format!("k.same(d.uleb()?, u64::from(u32::from({e})))?;"),
            Type::String => format!("k.string(d, &{e})?;"),
            Type::ErrorContext => panic!("error-context is not supported"),
            Type::Id(id) => self.chk_id(e, *id),
        }
    }

    /// Statements checking `e` as [`Gen::chk`] does, naming `place` (a field, a case) in what a
    /// divergence inside it reports.
    fn within(&mut self, place: &str, e: &str, ty: &Type) -> String {
        let check = self.chk(e, ty);
        format!("k.within({place:?}, d, |k, d| {{ {check} Ok(()) }})?;")
    }

    fn chk_id(&mut self, e: &str, id: TypeId) -> String {
        if !self.t.is_named(id) {
            return self.chk_body(e, id);
        }
        let function = format!("chk_{}", ident(self.t.wit_name(id)));
        if !self.helpers.contains_key(&function) {
            self.helpers.insert(function.clone(), String::new());
            let body = self.chk_body("got", id);
            let ty = self.ty(&Type::Id(id), "'_");
            self.helpers.insert(
                function.clone(),
                format!("fn {function}(k: &mut Check<'_>, d: &mut Decoder<'_>, got: {ty}) -> Result<(), Stop> {{ {body} Ok(()) }}\n"),
            );
        }
        format!("{function}(k, d, {e})?;")
    }

    fn chk_body(&mut self, e: &str, id: TypeId) -> String {
        let kind = self.t.resolve.types[id].kind.clone();
        match kind {
            TypeDefKind::Type(t) => self.chk(e, &t),
            TypeDefKind::Record(r) => {
                let name = self.t.type_name(id);
                let names: Vec<String> = r.fields.iter().map(|f| ident(&f.name)).collect();
                let mut out = format!("let gpu::{name} {{ {} }} = {e}; ", names.join(", "));
                for (f, n) in r.fields.iter().zip(&names) {
                    let check = self.chk(n, &f.ty);
                    // The host's own words are bound, not compared; any other field is named in
                    // what a divergence in it reports.
                    if HOST_WORDS.contains(&f.name.as_str()) {
                        write!(out, "k.unverified(d, |k, d| {{ {check} Ok(()) }})?; ").unwrap();
                    } else {
                        out += &self.within(&f.name, n, &f.ty);
                    }
                }
                out
            }
            TypeDefKind::Tuple(t) => {
                let names: Vec<String> = (0..t.types.len()).map(|i| format!("t{i}")).collect();
                let mut out = format!("let ({},) = {e}; ", names.join(", "));
                for (ty, n) in t.types.iter().zip(&names) {
                    out += &self.chk(n, ty);
                    out += " ";
                }
                out
            }
            TypeDefKind::Variant(v) => {
                let name = self.t.type_name(id);
                let cases: Vec<String> = v.cases.iter().map(|c| format!("{:?}", c.name)).collect();
                let arms: Vec<String> = v
                    .cases
                    .iter()
                    .enumerate()
                    .map(|(i, case)| {
                        let pat = match &case.ty {
                            Some(_) => format!("gpu::{name}::{}(x)", camel(&case.name)),
                            None => format!("gpu::{name}::{}", camel(&case.name)),
                        };
                        let body = case.ty.map(|t| self.within(&case.name, "x", &t)).unwrap_or_default();
                        format!("{pat} => {{ k.case(d, {i}, &[{}])?; {body} }}", cases.join(", "))
                    })
                    .collect();
                format!("match {e} {{ {} }}", arms.join(" "))
            }
            TypeDefKind::Enum(en) => {
                let cases: Vec<String> = en.cases.iter().map(|c| format!("{:?}", c.name)).collect();
                format!("k.name(d, {e} as u64, &[{}])?;", cases.join(", "))
            }
            TypeDefKind::Flags(_) => format!("k.flags(d.uleb()?, u64::from({e}.bits()))?;"),
            TypeDefKind::Option(t) => {
                let some = self.within("some", "x", &t);
                format!("match {e} {{ None => k.tag(d, 0, &[\"none\", \"some\"])?, Some(x) => {{ k.tag(d, 1, &[\"none\", \"some\"])?; {some} }} }}")
            }
            TypeDefKind::List(Type::U8) => format!("k.data(d, &{e})?;"),
            TypeDefKind::List(t) => {
                let each = self.chk("x", &t);
                format!("k.count(d, {e}.len())?; for (i, x) in {e}.into_iter().enumerate() {{ k.element(i, d, |k, d| {{ {each} Ok(()) }})?; }}")
            }
            TypeDefKind::Result(r) => {
                let ok = r.ok.map(|t| self.within("ok", "x", &t)).unwrap_or_default();
                let err = r.err.map(|t| self.within("err", "x", &t)).unwrap_or_default();
                let x = |t: &Option<Type>| if t.is_some() { "(x)" } else { "(())" };
                format!(
                    "match {e} {{ Ok{} => {{ k.tag(d, 0, &[\"ok\", \"err\"])?; {ok} }} Err{} => {{ k.tag(d, 1, &[\"ok\", \"err\"])?; {err} }} }}",
                    x(&r.ok),
                    x(&r.err)
                )
            }
            TypeDefKind::Handle(Handle::Own(r)) => {
                let r = self.t.resource(r);
                match self.by_value(r) {
                    Some(check) => format!("{check}(k, d, {e})?;"),
                    None => format!("k.bind(d, {e})?;"),
                }
            }
            TypeDefKind::Future(Some(t)) => {
                let check = self.chk("v", &t);
                format!("k.source(d, crate::sources::future({e}, |k: &mut Check<'_>, d: &mut Decoder<'_>, v| {{ {check} Ok(()) }}))?;")
            }
            TypeDefKind::Stream(Some(t)) => {
                let check = self.chk("v", &t);
                format!("k.source(d, crate::sources::stream({e}, |k: &mut Check<'_>, d: &mut Decoder<'_>, v| {{ {check} Ok(()) }}))?;")
            }
            other => panic!("checking {other:?} is not supported"),
        }
    }

    // ---- functions ----

    fn function(&mut self, index: usize, f: &Function) -> String {
        let is_async = is_async(f);
        let method = matches!(f.kind, FunctionKind::Method(_) | FunctionKind::AsyncMethod(_));
        let resource = match f.kind {
            FunctionKind::Method(r)
            | FunctionKind::AsyncMethod(r)
            | FunctionKind::Static(r)
            | FunctionKind::AsyncStatic(r)
            | FunctionKind::Constructor(r) => Some(r),
            _ => None,
        };
        if let Some(r) = resource.filter(|r| self.by_value(*r).is_some()) {
            // Never in a trace: the recorder writes these objects as values.
            return format!(
                "        {index} => Err(Stop::trace(format!(\"a call of `{}`: the recorder writes `{}` objects as values, so a trace cannot call them\"))),\n",
                f.name,
                self.t.wit_name(r)
            );
        }
        let rust_name = match f.kind {
            FunctionKind::Constructor(_) => "new".to_string(),
            _ => ident(f.item_name()),
        };
        let params = if method { &f.params[1..] } else { &f.params[..] };
        let mut body = String::new();
        if method {
            let this = self.t.type_name(resource.unwrap());
            if is_async {
                writeln!(body, "let this = c.rc::<gpu::{this}>(d)?;").unwrap();
            } else {
                writeln!(body, "let this = c.borrow::<gpu::{this}>(d)?;").unwrap();
            }
        }
        let mut args = Vec::new();
        for p in params {
            let name = format!("a_{}", ident(&p.name));
            let value = self.dec(&p.ty);
            writeln!(body, "let {name} = {value};").unwrap();
            if is_async && self.t.info(&p.ty).borrow {
                // The call outlives this function: its borrowed objects are kept alive by
                // `kept`, which the call's future owns.
                let ty = self.ty(&p.ty, "'static");
                writeln!(
                    body,
                    "// SAFETY: every reference in the value points into an object of the table that `kept` holds an `Rc` of, and `kept` lives in the call's future as long as the value.\nlet {name}: {ty} = unsafe {{ core::mem::transmute({name}) }};"
                )
                .unwrap();
            }
            args.push(if is_async { name } else { self.t.pass(&name, &p.ty) });
        }
        body += "c.end(d)?;\n";
        let target = match (method, resource) {
            (true, _) => format!("this.{rust_name}"),
            (false, Some(r)) => format!("gpu::{}::{rust_name}", self.t.type_name(r)),
            (false, None) => format!("gpu::{rust_name}"),
        };
        let call = format!("{target}({})", args.join(", "));
        let host_dependent = HOST_DEPENDENT.contains(&f.name.as_str()) || resource.is_some_and(|r| HOST_DEPENDENT.contains(&self.t.wit_name(r)));
        let constructor = matches!(f.kind, FunctionKind::Constructor(_));
        let returns = constructor || f.result.is_some();
        let check = match &f.result {
            _ if constructor => "k.bind(d, got)?;".to_string(),
            Some(t) => self.chk("got", t),
            None => String::new(),
        };
        let check = if host_dependent { format!("k.unverified(d, |k, d| {{ {check} Ok(()) }})?;") } else { check };
        let checker = format!("Box::new(move |k: &mut Check<'_>, d: &mut Decoder<'_>| -> Result<(), Stop> {{ let _ = (&k, &d); {check} Ok(()) }}) as Checker");
        if is_async {
            writeln!(body, "let kept = c.kept();\nOk(Issued::Pending(Box::pin(async move {{\n    let _kept = kept;\n    let got = {call}.await;\n    {checker}\n}})))").unwrap();
        } else if returns {
            writeln!(body, "let got = {call};\nOk(Issued::Ready({checker}))").unwrap();
        } else {
            writeln!(body, "{call};\nOk(Issued::Nothing)").unwrap();
        }
        format!("        {index} => {{\n{body}        }}\n")
    }

    fn generate(mut self) -> String {
        let resolve = self.t.resolve;
        let iface = &resolve.interfaces[self.iface];
        let mut out = String::from("// Generated by compose/replayer/build.rs from the WIT: do not edit.\n\n");

        // The object table's entries: every resource the runtime hands out as an object.
        let resources: Vec<TypeId> = iface
            .types
            .values()
            .copied()
            .filter(|t| matches!(resolve.types[*t].kind, TypeDefKind::Resource) && self.by_value(*t).is_none())
            .collect();
        out += "/// An object of the replay, as the table holds it.\npub enum Object {\n";
        for r in &resources {
            let name = self.t.type_name(*r);
            writeln!(out, "    {name}(Rc<gpu::{name}>),").unwrap();
        }
        out += "}\n\nimpl Object {\n    /// The resource's name in the WIT.\n    pub fn kind(&self) -> &'static str {\n        match self {\n";
        for r in &resources {
            writeln!(out, "            Object::{}(_) => {:?},", self.t.type_name(*r), self.t.wit_name(*r)).unwrap();
        }
        out += "        }\n    }\n}\n\n";
        for r in &resources {
            let name = self.t.type_name(*r);
            writeln!(
                out,
                "impl crate::table::Resource for gpu::{name} {{\n    const NAME: &'static str = {:?};\n    fn share(rc: Rc<Self>) -> Object {{ Object::{name}(rc) }}\n    fn of(o: &Object) -> Option<&Rc<Self>> {{ match o {{ Object::{name}(x) => Some(x), #[allow(unreachable_patterns)] _ => None }} }}\n    fn handle(&self) -> u32 {{ self.handle() }}\n    unsafe fn from_handle(handle: u32) -> Self {{ unsafe {{ Self::from_handle(handle) }} }}\n}}\n",
                self.t.wit_name(*r)
            )
            .unwrap();
        }

        // The dispatch: one arm per function, by its number in the trace.
        let functions: Vec<&Function> = iface.functions.values().collect();
        out += "/// Decodes the arguments of a call of function number `function` from `d`, and makes the call.\n";
        out += "#[allow(unused_variables, unused_braces, unused_parens, clippy::all)]\npub fn call(function: u32, c: &crate::table::Ctx<'_>, d: &mut Decoder<'_>) -> Result<Issued, Stop> {\n    match function {\n";
        for (i, f) in functions.iter().enumerate() {
            out += &self.function(i, f);
        }
        out += "        n => Err(Stop::trace(format!(\"a call of function number {n}, which wasi:webgpu does not have\"))),\n    }\n}\n\n";

        out += "/// Each function's name in the WIT and whether it is `async`, by number.\npub const FUNCTIONS: &[(&str, bool)] = &[\n";
        for f in &functions {
            writeln!(out, "    ({:?}, {}),", f.name, is_async(f)).unwrap();
        }
        out += "];\n\n";
        for h in std::mem::take(&mut self.helpers).into_values() {
            out += "#[allow(unused_variables, unused_braces, unused_parens, clippy::all)]\n";
            out += &h;
            out += "\n";
        }
        out
    }
}
