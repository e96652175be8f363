//! Generates the forwarding layer of the virt component from the WIT.
//!
//! For every resource of `wasi:webgpu/webgpu` it writes a wrapper holding the imported handle and
//! an implementation of the exported trait whose every method converts its arguments to the
//! import side, calls the import, and converts the result back. With wit-bindgen's
//! `merge_structurally_equal_types`, types without handles are shared by both sides; only
//! resources and the types that carry them are converted, by expressions generated here from the
//! WIT's type graph. A new WIT revision is a rebuild, not a rewrite.
//!
//! Every method also shows the call to the policy chain (`crate::policy`) before and after
//! forwarding, described by the types generated here too: `Func`, `Args` and `Ret`.
//!
//! What cannot be mechanical is named in three tables: [`HAND_WRITTEN`], resources whose
//! wrappers are written by hand in `src/` (they can also hold values the virt makes itself);
//! [`BY_HAND`], functions whose generated method calls a hand-written body (which can call the
//! generated forwarding, emitted as `forward_*`); [`STATE`], state of the virt's own that a
//! generated wrapper carries. Futures and streams are bridged by `crate::bridge`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use webgpu_virt_codegen::{Side, Types, camel, ident, is_async};
use wit_parser::{FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId};

/// Resources whose wrappers live in `src/bridge.rs`, not here.
const HAND_WRITTEN: &[&str] = &["gpu-error", "gpu-device-lost-info"];

/// The wrappers of objects that record commands, whose errors WebGPU reports when they finish.
const ENCODERS: &[&str] = &["GpuCommandEncoder", "GpuComputePassEncoder", "GpuRenderPassEncoder", "GpuRenderBundleEncoder"];

/// Functions whose bodies are written by hand: the generated method calls
/// `crate::{module}::{method}(self, args..)` with the exported arguments as they came.
const BY_HAND: &[(&str, &str)] = &[
    // A pod's tenants: a `gpu` of a tenant the pod lacks finds no adapter.
    ("[method]gpu.request-adapter", "tenant"),
    ("[method]gpu-buffer.map-async", "mapping"),
    ("[method]gpu-buffer.unmap", "mapping"),
    ("[method]gpu-buffer.destroy", "mapping"),
    ("[method]gpu-buffer.map-state", "mapping"),
    // Quota: charged before forwarding, refused without the runtime, released exactly once.
    ("[method]gpu-device.create-buffer", "policy::quota::objects"),
    ("[method]gpu-device.create-texture", "policy::quota::objects"),
    ("[method]gpu-device.create-query-set", "policy::quota::objects"),
    ("[method]gpu-device.create-shader-module", "policy::quota::objects"),
    ("[method]gpu-device.create-command-encoder", "policy::quota::objects"),
    ("[method]gpu-device.create-bind-group", "policy::quota::objects"),
    ("[method]gpu-device.create-compute-pipeline", "policy::quota::pipelines"),
    ("[method]gpu-device.create-render-pipeline", "policy::quota::pipelines"),
    ("[method]gpu-device.create-compute-pipeline-async", "policy::quota::pipelines"),
    ("[method]gpu-device.create-render-pipeline-async", "policy::quota::pipelines"),
    ("[method]gpu-texture.destroy", "policy::quota::objects"),
    ("[method]gpu-query-set.destroy", "policy::quota::objects"),
    // Caps on the bytes one call carries.
    ("[method]gpu-queue.write-buffer-with-copy", "policy::quota::writes"),
    ("[method]gpu-queue.write-texture-with-copy", "policy::quota::writes"),
    ("[method]gpu-buffer.get-mapped-range-get-with-copy", "policy::quota::writes"),
    ("[method]gpu-buffer.get-mapped-range-set-with-copy", "policy::quota::writes"),
    // A refused object answers what was asked for, as WebGPU's invalid objects do.
    ("[method]gpu-buffer.size", "policy::quota::objects"),
    ("[method]gpu-texture.width", "policy::quota::objects"),
    ("[method]gpu-texture.height", "policy::quota::objects"),
    ("[method]gpu-texture.depth-or-array-layers", "policy::quota::objects"),
    ("[method]gpu-texture.mip-level-count", "policy::quota::objects"),
    ("[method]gpu-texture.sample-count", "policy::quota::objects"),
    ("[method]gpu-query-set.count", "policy::quota::objects"),
    // What the application is told of the adapter and device: limits clamped by the quota,
    // denied features hidden, adapter info masked; devices watched for loss.
    // The virtual-device layer: devices on shared host devices, their destroy, loss and label.
    ("[method]gpu-adapter.request-device", "device"),
    ("[method]gpu-device.destroy", "device"),
    ("[method]gpu-device.lost", "device"),
    ("[method]gpu-device.label", "device"),
    ("[method]gpu-device.set-label", "device"),
    ("[method]gpu-queue.label", "device::queue"),
    ("[method]gpu-queue.set-label", "device::queue"),
    ("[method]gpu-supported-limits.max-buffer-size", "policy::quota::adapter"),
    ("[method]gpu-supported-limits.max-storage-buffer-binding-size", "policy::quota::adapter"),
    ("[method]gpu-supported-limits.max-uniform-buffer-binding-size", "policy::quota::adapter"),
    ("[method]gpu-supported-limits.max-texture-dimension1-d", "policy::quota::adapter"),
    ("[method]gpu-supported-limits.max-texture-dimension2-d", "policy::quota::adapter"),
    ("[method]gpu-supported-limits.max-texture-dimension3-d", "policy::quota::adapter"),
    ("[method]gpu-supported-features.has", "policy::quota::adapter"),
    ("[method]gpu-adapter-info.vendor", "policy::quota::adapter"),
    ("[method]gpu-adapter-info.architecture", "policy::quota::adapter"),
    ("[method]gpu-adapter-info.device", "policy::quota::adapter"),
    ("[method]gpu-adapter-info.description", "policy::quota::adapter"),
    // Errors the virt reports itself reach the application's scopes and streams.
    ("[method]gpu-device.push-error-scope", "device"),
    ("[method]gpu-device.pop-error-scope", "device"),
    ("[method]gpu-device.on-uncaptured-error", "device"),
    // Dispatch chunks: a compute pass remembers its state, so that a large dispatch can be cut
    // out of it and run in chunks; a command buffer carries the parts cut from its encoder; a
    // bind group layout of an automatic layout knows its pipeline.
    ("[method]gpu-device.create-pipeline-layout", "device::chunks"),
    ("[method]gpu-command-encoder.begin-compute-pass", "device::chunks"),
    ("[method]gpu-command-encoder.finish", "device::chunks"),
    ("[method]gpu-command-encoder.push-debug-group", "device::chunks"),
    ("[method]gpu-command-encoder.pop-debug-group", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.set-pipeline", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.set-bind-group", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.dispatch-workgroups", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.dispatch-workgroups-indirect", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.push-debug-group", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.pop-debug-group", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.end", "device::chunks"),
    ("[method]gpu-compute-pass-encoder.set-immediates", "device::chunks"),
    ("[method]gpu-compute-pipeline.get-bind-group-layout", "device::chunks"),
    // Draw chunks: a render pass remembers its attachments and state, so that a large draw can
    // be cut out of it and run in chunks of passes of their own.
    ("[method]gpu-command-encoder.begin-render-pass", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-pipeline", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-bind-group", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-vertex-buffer", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-index-buffer", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-viewport", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-scissor-rect", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-blend-constant", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-stencil-reference", "device::draws"),
    ("[method]gpu-render-pass-encoder.set-immediates", "device::draws"),
    ("[method]gpu-render-pass-encoder.execute-bundles", "device::draws"),
    ("[method]gpu-render-pass-encoder.push-debug-group", "device::draws"),
    ("[method]gpu-render-pass-encoder.pop-debug-group", "device::draws"),
    ("[method]gpu-render-pass-encoder.end", "device::draws"),
    ("[method]gpu-render-pass-encoder.draw", "device::draws"),
    ("[method]gpu-render-pass-encoder.draw-indexed", "device::draws"),
    ("[method]gpu-render-pass-encoder.draw-indirect", "device::draws"),
    ("[method]gpu-render-pass-encoder.draw-indexed-indirect", "device::draws"),
    // An indirect buffer under a time limit can also be copied from, by the virt alone.
    ("[method]gpu-buffer.usage", "device::chunks"),
    ("[method]gpu-command-encoder.copy-buffer-to-buffer", "device::chunks"),
    ("[method]gpu-command-encoder.copy-buffer-to-texture", "device::chunks"),
    // The cap on submissions in flight: a submit past it is held back with what follows it.
    ("[method]gpu-queue.submit", "device::queue"),
    ("[method]gpu-queue.on-submitted-work-done", "device::queue"),
];

/// Resources whose wrappers carry state of the virt's own: (resource, field, type). The field
/// starts as the type's `Default`.
const STATE: &[(&str, &str, &str)] = &[
    ("gpu-buffer", "mapping", "crate::mapping::MapTracker"),
    ("gpu-buffer", "quota", "crate::policy::quota::Held<u64>"),
    ("gpu-buffer", "arguments", "crate::device::chunks::Arguments"),
    ("gpu-texture", "quota", "crate::policy::quota::Held<crate::policy::quota::TextureSize>"),
    ("gpu-query-set", "quota", "crate::policy::quota::Held<u32>"),
    ("gpu-shader-module", "quota", "crate::policy::quota::Held<()>"),
    ("gpu-shader-module", "bounded", "std::cell::OnceCell<imp::GpuShaderModule>"),
    ("gpu-shader-module", "chunks", "std::rc::Rc<crate::device::chunks::ModuleChunks>"),
    ("gpu-pipeline-layout", "groups", "std::cell::RefCell<Vec<Option<std::rc::Rc<imp::GpuBindGroupLayout>>>>"),
    ("gpu-compute-pipeline", "chunks", "std::cell::OnceCell<std::rc::Rc<crate::device::chunks::Chunkable>>"),
    ("gpu-bind-group", "chunks", "std::cell::OnceCell<std::rc::Rc<crate::device::chunks::Remembered>>"),
    ("gpu-bind-group-layout", "derived", "crate::device::chunks::Derived"),
    ("gpu-command-encoder", "parts", "crate::device::chunks::Parts"),
    ("gpu-command-buffer", "parts", "crate::device::chunks::Parts"),
    ("gpu-compute-pass-encoder", "pass", "crate::device::chunks::Pass"),
    ("gpu-render-pass-encoder", "pass", "crate::device::draws::Pass"),
    ("gpu-render-pipeline", "draws", "std::cell::OnceCell<std::rc::Rc<crate::device::draws::Drawable>>"),
    ("gpu-command-encoder", "quota", "crate::policy::quota::Held<()>"),
    ("gpu-bind-group", "quota", "crate::policy::quota::Held<()>"),
    ("gpu-compute-pipeline", "quota", "crate::policy::quota::Held<()>"),
    ("gpu-render-pipeline", "quota", "crate::policy::quota::Held<()>"),
    ("gpu-device", "errors", "std::rc::Rc<crate::device::scopes::Scopes>"),
    ("gpu-device", "graveyard", "crate::policy::quota::pipelines::Graveyard"),
];

/// Resources that another object's descriptor passes to the runtime as a handle of the virt's
/// own making: (resource, the wrapper's method giving it). A shader module is compiled into
/// pipelines as its loop-bounded twin, when it has one (`crate::device::bound`).
const PASSED_AS: &[(&str, &str)] = &[("gpu-shader-module", "compiled")];

/// Resources whose imported handle the wrapper shares (`Rc`), so that work the virt holds back
/// (submissions over the in-flight cap and the queue operations behind them) can keep it after
/// the application drops its handle. A shared handle is never passed by ownership.
///
/// A pipeline, its bind groups and their layouts are shared too: a large dispatch or draw runs
/// later in chunks that the virt encodes (`crate::device::chunks`, `crate::device::draws`); so
/// are samplers and texture views, which a bind group's twin for a chunk binds again, and a
/// render pass's attachments.
const SHARED: &[&str] = &[
    "gpu-buffer",
    "gpu-texture",
    "gpu-query-set",
    "gpu-command-buffer",
    "gpu-device",
    "gpu-bind-group",
    "gpu-bind-group-layout",
    "gpu-compute-pipeline",
    "gpu-render-pipeline",
    "gpu-sampler",
    "gpu-texture-view",
];

/// Resources whose imported handle the virt may swap for another while the application holds
/// the wrapper (`Rc<RefCell<_>>`): a command encoder and a pass go on in a new encoder and pass
/// after a large dispatch or draw is cut out of them (`crate::device::chunks`,
/// `crate::device::draws`).
const SWAPPED: &[&str] = &["gpu-command-encoder", "gpu-compute-pass-encoder", "gpu-render-pass-encoder"];

/// Functions that never make an error, so that a call of theirs on a shared host device needs no
/// error scopes around it (getters need none either: see `Gen::bracketed`).
const NO_ERRORS: &[&str] = &[
    "[method]gpu-device.push-error-scope",
    "[method]gpu-device.pop-error-scope",
    "[method]gpu-device.on-uncaptured-error",
    "[method]gpu-device.lost",
    "[method]gpu-device.destroy",
    "[method]gpu-buffer.destroy",
    "[method]gpu-texture.destroy",
    "[method]gpu-query-set.destroy",
];

/// Methods of a command encoder that record nothing the runtime would run before a dispatch cut
/// after them (every other one does: `crate::device::chunks::Parts::record`). A compute pass
/// accounts for its own work.
const RECORD_NOTHING: &[&str] = &[
    "[method]gpu-command-encoder.begin-compute-pass",
    "[method]gpu-command-encoder.finish",
    "[method]gpu-command-encoder.set-label",
];

/// The resource that starts a new device id when made; every other object belongs to the device
/// of the call that made it.
const DEVICE: &str = "gpu-device";

fn main() {
    let wit = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../wit");
    println!("cargo::rerun-if-changed={}", wit.display());
    println!("cargo::rerun-if-changed=build.rs");
    let (resolve, iface) = webgpu_virt_codegen::load(&wit, "virt");
    let mut code = Gen::new(&resolve, iface).generate();
    // What the trace's header says of the interface: its name and the SHA-256 of its WIT text.
    writeln!(code, "\n/// What a trace's header says of the recorded interface.\npub mod trace {{\n{}}}", webgpu_virt_codegen::trace_constants(&resolve, iface, &wit)).unwrap();
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("forward.rs");
    std::fs::write(&out, code).expect("writing forward.rs");
}

/// Which way a value crosses the virt.
#[derive(Clone, Copy, Debug)]
enum Dir {
    /// From the application's call to the runtime's import.
    ToImport,
    /// From the runtime's result back to the application.
    ToExport,
}

struct Gen<'a> {
    t: Types<'a>,
    iface: InterfaceId,
    /// The functions generated so far, for the call description types.
    calls: Vec<CallInfo>,
    /// The generated forwarding of the current resource's hand-written methods.
    forwards: Vec<String>,
    /// The trace encoders of the named types, by function name.
    encoders: std::collections::BTreeMap<String, String>,
}

impl<'a> Gen<'a> {
    fn new(resolve: &'a Resolve, iface: InterfaceId) -> Self {
        Self { t: Types::new(resolve), iface, calls: Vec::new(), forwards: Vec::new(), encoders: Default::default() }
    }

    fn is_hand_written(&self, resource: TypeId) -> bool {
        HAND_WRITTEN.contains(&self.t.resolve.types[resource].name.as_deref().unwrap_or(""))
    }

    fn is_shared(&self, resource: TypeId) -> bool {
        SHARED.contains(&self.t.resolve.types[resource].name.as_deref().unwrap_or(""))
    }

    fn is_swapped(&self, resource: TypeId) -> bool {
        SWAPPED.contains(&self.t.resolve.types[resource].name.as_deref().unwrap_or(""))
    }

    /// The export side's Rust type (parameters and results of the exported traits).
    fn exp_ty(&mut self, ty: &Type) -> String {
        self.t.rust_type(ty, &Side::Export { module: "exp" })
    }

    /// An expression converting `e`, an export-side value, to the import side's owned value
    /// (borrows become `&imp::R`).
    fn imp_expr(&mut self, e: &str, ty: &Type) -> String {
        self.convert(e, ty, Dir::ToImport)
    }

    /// An expression converting `e`, an import-side value, to the export side's.
    fn exp_expr(&mut self, e: &str, ty: &Type) -> String {
        self.convert(e, ty, Dir::ToExport)
    }

    fn convert(&mut self, e: &str, ty: &Type, dir: Dir) -> String {
        if !self.t.info(ty).handles() {
            return e.to_string();
        }
        let Type::Id(id) = ty else { unreachable!("only type ids hold handles") };
        let id = *id;
        let (from, to) = match dir {
            Dir::ToImport => ("exp", "imp"),
            Dir::ToExport => ("imp", "exp"),
        };
        let kind = self.t.resolve.types[id].kind.clone();
        match (kind, dir) {
            (TypeDefKind::Type(t), _) => self.convert(e, &t, dir),
            (TypeDefKind::Handle(Handle::Own(r)), Dir::ToImport) => {
                let r = self.t.resource(r);
                assert!(!self.is_hand_written(r), "a hand-written resource passed by ownership: convert it by hand");
                assert!(!self.is_shared(r), "a shared resource passed by ownership: its handle may be held elsewhere");
                format!("{e}.into_inner::<{}>().inner", self.t.type_name(r))
            }
            (TypeDefKind::Handle(Handle::Borrow(r)), Dir::ToImport) => {
                let r = self.t.resource(r);
                assert!(!self.is_hand_written(r), "a hand-written resource passed by borrow: convert it by hand");
                let name = self.t.type_name(r);
                if let Some((_, method)) = PASSED_AS.iter().find(|(resource, _)| self.t.resolve.types[r].name.as_deref() == Some(*resource)) {
                    return format!("{e}.get::<{name}>().{method}()");
                }
                assert!(!self.is_swapped(r), "a swapped resource passed by borrow: convert it by hand");
                let deref = if self.is_shared(r) { "*" } else { "" };
                format!("&{deref}{e}.get::<{name}>().inner")
            }
            (TypeDefKind::Handle(Handle::Own(r)), Dir::ToExport) => {
                let r = self.t.resource(r);
                let name = self.t.type_name(r);
                if self.is_hand_written(r) {
                    format!("exp::{name}::new({name}::from({e}))")
                } else if self.t.resolve.types[r].name.as_deref() == Some(DEVICE) {
                    // A new device is its own: it starts a new id.
                    format!("exp::{name}::new({name}::wrap({e}, crate::ids::DeviceId::fresh()))")
                } else {
                    // Anything else belongs to the device of the call that made it.
                    format!("exp::{name}::new({name}::wrap({e}, device))")
                }
            }
            (TypeDefKind::Record(rec), _) => {
                let name = self.t.type_name(id);
                let fields: Vec<String> = rec
                    .fields
                    .iter()
                    .map(|f| {
                        let field = ident(&f.name);
                        format!("{field}: {}", self.convert(&format!("v.{field}"), &f.ty, dir))
                    })
                    .collect();
                format!("{{ let v = {e}; {to}::{name} {{ {} }} }}", fields.join(", "))
            }
            (TypeDefKind::Variant(var), _) => {
                let name = self.t.type_name(id);
                let arms: Vec<String> = var
                    .cases
                    .iter()
                    .map(|c| {
                        let case = camel(&c.name);
                        match &c.ty {
                            Some(t) => format!("{from}::{name}::{case}(x) => {to}::{name}::{case}({})", self.convert("x", t, dir)),
                            None => format!("{from}::{name}::{case} => {to}::{name}::{case}"),
                        }
                    })
                    .collect();
                format!("match {e} {{ {} }}", arms.join(", "))
            }
            (TypeDefKind::Option(t), _) => format!("{e}.map(|x| {})", self.convert("x", &t, dir)),
            (TypeDefKind::List(t), _) => {
                format!("{e}.into_iter().map(|x| {}).collect::<Vec<_>>()", self.convert("x", &t, dir))
            }
            (TypeDefKind::Result(r), _) => {
                let ok = match &r.ok {
                    Some(t) => format!("Ok(x) => Ok({})", self.convert("x", t, dir)),
                    None => "Ok(()) => Ok(())".into(),
                };
                let err = match &r.err {
                    Some(t) => format!("Err(x) => Err({})", self.convert("x", t, dir)),
                    None => "Err(()) => Err(())".into(),
                };
                format!("match {e} {{ {ok}, {err} }}")
            }
            (TypeDefKind::Future(Some(t)), Dir::ToExport) => {
                let conv = self.exp_expr("x", &t);
                let payload = self.exp_ty(&t);
                format!("crate::bridge::future({e}, |x| {conv}, <{payload} as crate::bridge::Placeholder>::placeholder)")
            }
            (TypeDefKind::Stream(Some(t)), Dir::ToExport) => {
                let conv = self.exp_expr("x", &t);
                format!("crate::bridge::stream({e}, |x| {conv})")
            }
            (other, dir) => panic!("converting {other:?} {dir:?} is not supported"),
        }
    }

    fn generate(mut self) -> String {
        let mut out = String::new();
        let resolve = self.t.resolve;
        let iface = &resolve.interfaces[self.iface];
        out += "// Generated by virt-component/build.rs from the WIT: do not edit.\n\n";

        // Group the functions by the resource they belong to.
        let mut by_resource: Vec<(TypeId, Vec<&wit_parser::Function>)> = iface
            .types
            .values()
            .filter(|t| matches!(resolve.types[**t].kind, TypeDefKind::Resource))
            .map(|t| (*t, Vec::new()))
            .collect();
        let mut freestanding = Vec::new();
        for f in iface.functions.values() {
            match f.kind {
                FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => freestanding.push(f),
                FunctionKind::Method(r)
                | FunctionKind::AsyncMethod(r)
                | FunctionKind::Static(r)
                | FunctionKind::AsyncStatic(r)
                | FunctionKind::Constructor(r) => {
                    by_resource.iter_mut().find(|(id, _)| *id == r).expect("a method's resource").1.push(f)
                }
            }
        }

        // The world's entry: associated types and freestanding functions.
        out += "impl exp::Guest for crate::Virt {\n";
        for (r, _) in &by_resource {
            let name = self.t.type_name(*r);
            writeln!(out, "    type {name} = {name};").unwrap();
        }
        for f in &freestanding {
            out += &self.function(f, None);
        }
        out += "}\n\n";

        for (r, functions) in &by_resource {
            let name = self.t.type_name(*r);
            let wit_name = resolve.types[*r].name.clone().unwrap();
            if self.is_hand_written(*r) {
                continue;
            }
            let state: Vec<_> = STATE.iter().filter(|(r, _, _)| *r == wit_name).collect();
            let fields: String = state.iter().map(|(_, f, t)| format!("    pub(crate) {f}: {t},\n")).collect();
            let inits: String = state.iter().map(|(_, f, _)| format!(", {f}: Default::default()")).chain([", invalid: Default::default()".to_string()]).collect();
            writeln!(out, "/// `{wit_name}`: holds the imported handle and the device it belongs to.").unwrap();
            let (inner, wrapped) = match (self.is_shared(*r), self.is_swapped(*r)) {
                (true, _) => (format!("std::rc::Rc<imp::{name}>"), "inner: std::rc::Rc::new(inner)"),
                (_, true) => (
                    format!("std::rc::Rc<std::cell::RefCell<imp::{name}>>"),
                    "inner: std::rc::Rc::new(std::cell::RefCell::new(inner))",
                ),
                (false, false) => (format!("imp::{name}"), "inner"),
            };
            writeln!(
                out,
                "pub struct {name} {{\n    pub(crate) inner: {inner},\n    pub(crate) device: crate::ids::DeviceId,\n{fields}    /// Whether the virt knows the object is invalid (`crate::device::invalid`; some kinds are\n    /// never used in work).\n    #[allow(dead_code)]\n    pub(crate) invalid: crate::device::invalid::Flag,\n    /// The object's id, for the policies (never reused; dropping it tells them). The last\n    /// field, so that it drops last: the drop of the last object of a device retires it, after\n    /// what the object held of the quota is released.\n    pub(crate) id: crate::device::ObjectId,\n}}\n"
            )
            .unwrap();
            let wrap_rc = match self.is_shared(*r) {
                // A wrapper of a handle shared already (a virtual device on a shared host device).
                true => format!("    #[allow(dead_code)]\n    pub(crate) fn wrap_rc(inner: std::rc::Rc<imp::{name}>, device: crate::ids::DeviceId) -> Self {{\n        Self {{ inner, device, id: crate::device::ObjectId::new(device){inits} }}\n    }}\n"),
                false => String::new(),
            };
            writeln!(
                out,
                "impl {name} {{\n    #[allow(dead_code)]\n    pub(crate) fn wrap(inner: imp::{name}, device: crate::ids::DeviceId) -> Self {{\n        Self {{ {wrapped}, device, id: crate::device::ObjectId::new(device){inits} }}\n    }}\n{wrap_rc}}}\n"
            )
            .unwrap();
            writeln!(out, "impl exp::Guest{name} for {name} {{").unwrap();
            for f in functions {
                out += &self.function(f, Some(*r));
            }
            out += "}\n\n";
            if !self.forwards.is_empty() {
                writeln!(out, "impl {name} {{").unwrap();
                out += &self.forwards.drain(..).collect::<String>();
                out += "}\n\n";
            }
        }
        out += &self.call_types();
        out += &self.call_encoders();
        out += &self.enum_names();
        out
    }

    /// `crate::WitName` for every enum of the interface: its cases' names in the WIT. Enums with
    /// the same cases are one type once wit-bindgen merges them: they get one implementation.
    fn enum_names(&self) -> String {
        let mut out = String::new();
        let mut seen = std::collections::HashSet::new();
        for id in self.t.resolve.interfaces[self.iface].types.values() {
            let TypeDefKind::Enum(e) = &self.t.resolve.types[*id].kind else { continue };
            if !seen.insert(e.cases.iter().map(|c| c.name.clone()).collect::<Vec<_>>()) {
                continue;
            }
            let name = self.t.type_name(*id);
            let arms: Vec<String> = e.cases.iter().map(|c| format!("exp::{name}::{} => {:?}", camel(&c.name), c.name)).collect();
            writeln!(out, "impl crate::WitName for exp::{name} {{\n    fn wit_name(&self) -> &'static str {{\n        match self {{ {} }}\n    }}\n}}\n", arms.join(", ")).unwrap();
        }
        out
    }

    /// `Func`, `Args` and `Ret`: what the policy chain sees of each call.
    fn call_types(&self) -> String {
        let mut out = String::new();
        let n = self.calls.len();
        out += "/// A function of the interface.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n#[repr(u16)]\npub enum Func {\n";
        for c in &self.calls {
            writeln!(out, "    /// `{}`\n    {},", c.wit_name, c.variant).unwrap();
        }
        out += "}\n\n";
        writeln!(out, "impl Func {{\n    /// The number of functions.\n    pub const COUNT: usize = {n};").unwrap();
        out += "    /// Every function, in the order of their numbers.\n    pub const ALL: [Func; Self::COUNT] = [";
        out += &self.calls.iter().map(|c| format!("Func::{}", c.variant)).collect::<Vec<_>>().join(", ");
        out += "];\n    /// The function's name in the WIT, as in the component's exports.\n    pub fn name(self) -> &'static str {\n        const NAMES: [&str; Func::COUNT] = [";
        out += &self.calls.iter().map(|c| format!("{:?}", c.wit_name)).collect::<Vec<_>>().join(", ");
        out += "];\n        NAMES[self as usize]\n    }\n}\n\n";

        out += "/// The arguments of a call, as the application passed them; `this` is the object whose method it is.\n";
        out += "#[allow(dead_code)]\npub enum Args<'a> {\n";
        for c in &self.calls {
            let fields: Vec<String> = c.this.iter().map(|t| format!("this: &'a {t}")).chain(c.params.iter().map(|(p, t)| format!("{p}: &'a {t}"))).collect();
            if fields.is_empty() {
                writeln!(out, "    {},", c.variant).unwrap();
            } else {
                writeln!(out, "    {} {{ {} }},", c.variant, fields.join(", ")).unwrap();
            }
        }
        out += "}\n\nimpl Args<'_> {\n    /// The function called.\n    pub fn func(&self) -> Func {\n        match self {\n";
        for c in &self.calls {
            let pat = if c.this.is_none() && c.params.is_empty() { String::new() } else { " { .. }".into() };
            writeln!(out, "            Args::{}{pat} => Func::{},", c.variant, c.variant).unwrap();
        }
        out += "        }\n    }\n}\n\n";

        out += "/// What a call returned to the application.\n#[allow(dead_code)]\npub enum Ret<'a> {\n";
        for c in &self.calls {
            writeln!(out, "    {}(&'a {}),", c.variant, c.ret).unwrap();
        }
        out += "}\n\nimpl Ret<'_> {\n    /// The function that returned.\n    pub fn func(&self) -> Func {\n        match self {\n";
        for c in &self.calls {
            writeln!(out, "            Ret::{}(_) => Func::{},", c.variant, c.variant).unwrap();
        }
        out += "        }\n    }\n}\n";
        out
    }

    /// One exported function: it shows the call to the policy chain, forwards it to the import
    /// (or to its hand-written body) and shows the chain what it returned.
    fn function(&mut self, f: &wit_parser::Function, resource: Option<TypeId>) -> String {
        let is_async = is_async(f);
        let method = matches!(f.kind, FunctionKind::Method(_) | FunctionKind::AsyncMethod(_));
        let constructor = matches!(f.kind, FunctionKind::Constructor(_));
        let rust_name = match f.kind {
            FunctionKind::Constructor(_) => "new".to_string(),
            _ => ident(f.item_name()),
        };
        let variant = match resource {
            Some(r) => format!("{}{}", self.t.type_name(r), camel(if constructor { "new" } else { f.item_name() })),
            None => camel(f.item_name()),
        };
        let params = if method { &f.params[1..] } else { &f.params[..] };
        let mut sig = Vec::new();
        if method {
            sig.push("&self".to_string());
        }
        let mut args = Vec::new();
        let mut described = Vec::new();
        for p in params {
            let name = ident(&p.name);
            let ty = self.exp_ty(&p.ty);
            sig.push(format!("{name}: {ty}"));
            described.push((name.clone(), ty.replace("'_", "'a")));
            let converted = self.imp_expr(&name, &p.ty);
            args.push(if is_async { converted } else { self.t.pass(&converted, &p.ty) });
        }
        let ret = match (&f.result, constructor) {
            (_, true) => "Self".to_string(),
            (Some(t), false) => self.exp_ty(t),
            (None, false) => "()".to_string(),
        };
        let this = method.then(|| self.t.type_name(resource.unwrap()));
        self.calls.push(CallInfo {
            wit_name: f.name.clone(),
            variant: variant.clone(),
            this: this.clone(),
            params: described,
            ret: if constructor { self.t.type_name(resource.unwrap()) } else { ret.replace("'_", "'a") },
            wit_index: self.t.resolve.interfaces[self.iface].functions.get_index_of(&f.name).expect("a function of the interface"),
            param_types: params.iter().map(|p| p.ty).collect(),
            result: if constructor { None } else { f.result },
            constructor,
            is_async,
        });

        let target = match (method, resource) {
            (true, Some(r)) if self.is_swapped(r) => format!("self.inner.borrow().{rust_name}"),
            (true, _) => format!("self.inner.{rust_name}"),
            (false, Some(r)) => format!("imp::{}::{rust_name}", self.t.type_name(r)),
            (false, None) => format!("imp::{rust_name}"),
        };
        let awaited = if is_async { ".await" } else { "" };
        let by_hand = BY_HAND.iter().find(|(name, _)| *name == f.name).map(|(_, module)| *module);
        let call = format!("{target}({}){awaited}", args.join(", "));
        let forward = match (&f.result, constructor) {
            (_, true) => format!("Self::wrap({call}, device)"),
            (Some(t), false) => {
                let t = *t;
                self.exp_expr(&call, &t)
            }
            (None, false) => call,
        };
        let body = match by_hand {
            Some(module) => {
                assert!(method, "{}: only methods can be written by hand", f.name);
                let mut raw = vec!["self".to_string()];
                raw.extend(params.iter().map(|p| ident(&p.name)));
                // The generated forwarding stays available to the hand-written body.
                self.forwards.push(format!(
                    "    /// `{}` as generated: what the hand-written body calls to forward it.\n    #[allow(dead_code, unused_braces, unused_variables, clippy::all)]\n    pub(crate) {}fn forward_{rust_name}({}) -> {ret} {{\n        let device = self.device;\n        {forward}\n    }}\n",
                    f.name,
                    if is_async { "async " } else { "" },
                    sig.join(", "),
                ));
                format!("crate::{module}::{rust_name}({}){awaited}", raw.join(", "))
            }
            None => forward,
        };
        let device = if method { "self.device" } else { "crate::ids::DeviceId::NONE" };
        let mut fields: Vec<String> = this.iter().map(|_| "this: self".to_string()).collect();
        fields.extend(params.iter().map(|p| format!("{0}: &{0}", ident(&p.name))));
        let described = if fields.is_empty() { variant.clone() } else { format!("{variant} {{ {} }}", fields.join(", ")) };
        let pump = if is_async { "crate::bridge::ensure_pump();\n        " } else { "" };
        // Objects of another device, or made with one: a validation error, as across devices
        // in WebGPU.
        let mut foreign = String::new();
        if method {
            for p in params {
                let each = |o: &str, _: &str| format!("foreign |= crate::device::share::foreign(device, {o}.device) || {o}.invalid.is_across(); ");
                foreign += &self.objects(&format!("&{}", ident(&p.name)), &p.ty, &each);
            }
        }
        if !foreign.is_empty() {
            // In an encoder's command, the encoder becomes invalid (its `finish` reports it);
            // elsewhere the call itself is the error.
            let on_foreign = match this.as_deref() {
                Some(t) if ENCODERS.contains(&t) => "crate::device::share::spoil(self)".to_string(),
                _ => format!("crate::device::share::report_foreign(device, {:?})", f.name),
            };
            foreign = format!("let mut foreign = false;\n        {foreign}\n        if foreign {{ {on_foreign}; }}\n        ");
        }
        // Objects known invalid (`crate::device::invalid`): what a call on or with one makes is
        // invalid, and an encoder recording a command with one becomes invalid (a pass is tied
        // to the command encoder it was begun on).
        let encoder = this.as_deref().is_some_and(|t| ENCODERS.contains(&t));
        let (mut known, mut made) = (String::new(), String::new());
        if method {
            for p in params {
                let each = |o: &str, _: &str| format!("known_invalid |= {o}.invalid.is(); ");
                known += &self.objects(&format!("&{}", ident(&p.name)), &p.ty, &each);
            }
            if let (Some(t), false) = (f.result, constructor) {
                // What is made with another device's object is valid on a shared host device,
                // where WebGPU's is not: it is refused as that object would be.
                let across = !foreign.is_empty();
                let each = |o: &str, made: &str| match encoder && ENCODERS.contains(&made) {
                    true => format!("{o}.invalid.within(&self.invalid); "),
                    false if across => format!("if known_invalid {{ {o}.invalid.mark(); }} if foreign {{ {o}.invalid.mark_across(); }} "),
                    false => format!("if known_invalid {{ {o}.invalid.mark(); }} "),
                };
                made = self.objects("&ret", &t, &each);
                if !made.is_empty() {
                    made += "\n        ";
                }
            }
        }
        // Only an encoder's command or a call that makes objects needs to know (the calls that
        // must not reach the runtime with such objects check by hand: `crate::device::invalid`).
        let spoiled = if encoder && !known.is_empty() { "if known_invalid { self.invalid.mark(); } " } else { "" };
        known = match (spoiled.is_empty() && made.is_empty(), known.is_empty()) {
            (true, _) => String::new(),
            (false, true) => "let known_invalid = self.invalid.is();\n        ".to_string(),
            (false, false) => format!("let mut known_invalid = false; {known}{spoiled}known_invalid |= self.invalid.is();\n        "),
        };
        let body = match (self.bracketed(f, method, is_async), foreign.is_empty()) {
            (true, true) => format!("{{ let bracket = crate::device::share::bracket(device); let ret = {body}; drop(bracket); ret }}"),
            // A call with another device's object is its one error (reported above).
            (true, false) => format!(
                "{{ let bracket = crate::device::share::bracket(device); let ret = {body}; if foreign {{ crate::device::share::quiet(bracket) }} else {{ drop(bracket) }}; ret }}"
            ),
            (false, _) => body,
        };
        // A call with another device's object that returns nothing is not made: in WebGPU it
        // would do nothing but fail. (One returning a value is made, to have the value; so is
        // an encoder's command, after the command that spoils the encoder: see `share::Spoil`;
        // and a `submit`, which uses up its command buffers: `device::queue::submit`.)
        let body = match (!foreign.is_empty(), &f.result, constructor) {
            (true, None, false) if !encoder && f.name != "[method]gpu-queue.submit" => format!("if foreign {{ }} else {{ {body} }}"),
            _ => body,
        };
        // Work recorded on a command encoder outside a compute pass: a dispatch cut later
        // must run after it.
        let records = this.as_deref() == Some("GpuCommandEncoder") && self.bracketed(f, method, is_async) && !RECORD_NOTHING.contains(&f.name.as_str());
        let pump = if records { format!("{pump}self.parts.record();\n        ") } else { pump.to_string() };
        format!(
            "    #[allow(unused_braces, unused_variables, unused_assignments, clippy::all)]
    {async_}fn {rust_name}({sig}) -> {ret} {{
        {pump}let device = {device};
        let policy = crate::policy::active();
        let call = if policy {{ crate::policy::before(device, &Args::{described}) }} else {{ 0 }};
        {foreign}{known}let ret = {body};
        {made}if policy {{
            crate::after(device, call, &Ret::{variant}(&ret));
        }}
        ret
    }}
",
            async_ = if is_async { "async " } else { "" },
            sig = sig.join(", "),
        )
    }
}

impl Gen<'_> {
    /// Whether a call of `f` on a shared host device needs error scopes around it: a
    /// synchronous method that can make an error. Getters (no arguments, a result that is not a
    /// `result`) and the functions of [`NO_ERRORS`] cannot. (The one async function that makes
    /// errors in scopes, `map-async`, brackets its start by hand.)
    fn bracketed(&self, f: &wit_parser::Function, method: bool, is_async: bool) -> bool {
        if !method || is_async || NO_ERRORS.contains(&f.name.as_str()) {
            return false;
        }
        let getter = f.params.len() == 1
            && f.result.is_some_and(|t| !matches!(t, Type::Id(id) if matches!(self.t.resolve.types[id].kind, TypeDefKind::Result(_))));
        !getter
    }

    /// Statements doing `each(object, wrapper)` for every object (of a generated wrapper) that
    /// `e`, a reference to an export-side value of type `ty`, holds; empty when it holds none.
    fn objects(&mut self, e: &str, ty: &Type, each: &dyn Fn(&str, &str) -> String) -> String {
        if !self.t.info(ty).handles() {
            return String::new();
        }
        let Type::Id(id) = ty else { return String::new() };
        let kind = self.t.resolve.types[*id].kind.clone();
        match &kind {
            TypeDefKind::Type(t) => self.objects(e, t, each),
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                let r = self.t.resource(*r);
                if self.is_hand_written(r) {
                    return String::new();
                }
                let name = self.t.type_name(r);
                each(&format!("({e}).get::<{name}>()"), &name)
            }
            TypeDefKind::Option(t) => {
                let inner = self.objects("x", t, each);
                if inner.is_empty() { inner } else { format!("if let Some(x) = ({e}).as_ref() {{ {inner}}} ") }
            }
            TypeDefKind::List(t) => {
                let inner = self.objects("x", t, each);
                if inner.is_empty() { inner } else { format!("for x in ({e}).iter() {{ {inner}}} ") }
            }
            TypeDefKind::Record(rec) => {
                rec.fields.iter().map(|f| self.objects(&format!("&({e}).{}", ident(&f.name)), &f.ty, each)).collect::<Vec<_>>().concat()
            }
            TypeDefKind::Variant(var) => {
                let name = self.t.type_name(*id);
                let arms: Vec<String> = var
                    .cases
                    .iter()
                    .filter_map(|c| {
                        let inner = c.ty.as_ref().map(|t| self.objects("x", t, each)).unwrap_or_default();
                        (!inner.is_empty()).then(|| format!("exp::{name}::{}(x) => {{ {inner}}}", camel(&c.name)))
                    })
                    .collect();
                let rest = if arms.len() < var.cases.len() { ", _ => {}" } else { "" };
                if arms.is_empty() { String::new() } else { format!("match {e} {{ {}{rest} }} ", arms.join(", ")) }
            }
            TypeDefKind::Result(r) => {
                let ok = r.ok.map(|t| self.objects("x", &t, each)).unwrap_or_default();
                let err = r.err.map(|t| self.objects("x", &t, each)).unwrap_or_default();
                match (ok.is_empty(), err.is_empty()) {
                    (true, true) => String::new(),
                    (false, true) => format!("if let Ok(x) = {e} {{ {ok}}} "),
                    (true, false) => format!("if let Err(x) = {e} {{ {err}}} "),
                    (false, false) => format!("match {e} {{ Ok(x) => {{ {ok}}}, Err(x) => {{ {err}}} }} "),
                }
            }
            _ => String::new(),
        }
    }

    /// How the trace records each call: `Args::encode`, `Ret::encode` and `Func`'s shape, and an
    /// encoder per named type (see `webgpu_virt_trace::value` for the encoding).
    fn call_encoders(&mut self) -> String {
        let mut out = String::new();
        let calls = std::mem::take(&mut self.calls);
        out += "impl Func {\n    /// Whether the function is `async`.\n    pub fn is_async(self) -> bool {\n        const ASYNC: [bool; Func::COUNT] = [";
        out += &calls.iter().map(|c| c.is_async.to_string()).collect::<Vec<_>>().join(", ");
        out += "];\n        ASYNC[self as usize]\n    }\n\n    /// Whether the function returns a value.\n    pub fn returns(self) -> bool {\n        const RETURNS: [bool; Func::COUNT] = [";
        out += &calls.iter().map(|c| (c.constructor || c.result.is_some()).to_string()).collect::<Vec<_>>().join(", ");
        out += "];\n        RETURNS[self as usize]\n    }\n\n    /// The function's index among the interface's functions in the WIT's order of declaration:\n    /// its number in a trace.\n    pub fn wit_index(self) -> u32 {\n        const INDEX: [u32; Func::COUNT] = [";
        out += &calls.iter().map(|c| c.wit_index.to_string()).collect::<Vec<_>>().join(", ");
        out += "];\n        INDEX[self as usize]\n    }\n}\n\n";

        out += "impl Args<'_> {\n    /// Encodes the arguments for the trace: the object called, then each argument.\n    #[allow(unused_variables, clippy::all)]\n    pub fn encode(&self, o: &mut crate::encode::Out) {\n        match self {\n";
        for c in &calls {
            let mut names: Vec<String> = c.this.iter().map(|_| "this".to_string()).collect();
            names.extend(c.params.iter().map(|(p, _)| p.clone()));
            let pat = if names.is_empty() { String::new() } else { format!(" {{ {} }}", names.join(", ")) };
            // The fields bind as references to the `&'a` references: take those.
            let mut body: String = names.iter().map(|n| format!("let {n} = *{n}; ")).collect();
            if c.this.is_some() {
                body += "o.object(this.id.get()); ";
            }
            for ((p, _), ty) in c.params.iter().zip(&c.param_types) {
                body += &self.enc(p, ty);
                body += " ";
            }
            writeln!(out, "            Args::{}{pat} => {{ {body}}}", c.variant).unwrap();
        }
        out += "        }\n    }\n}\n\n";

        out += "impl Ret<'_> {\n    /// Encodes the result for the trace.\n    #[allow(unused_variables, clippy::all)]\n    pub fn encode(&self, o: &mut crate::encode::Out) {\n        match self {\n";
        for c in &calls {
            let body = match (&c.result, c.constructor) {
                (_, true) => "o.object(r.id.get());".to_string(),
                (Some(t), false) => {
                    let t = *t;
                    self.enc("r", &t)
                }
                (None, false) => String::new(),
            };
            writeln!(out, "            Ret::{}(r) => {{ let r = *r; {body} }}", c.variant).unwrap();
        }
        out += "        }\n    }\n}\n\n";
        self.calls = calls;
        for f in std::mem::take(&mut self.encoders).into_values() {
            out += "#[allow(unused_variables, clippy::all)]\n";
            out += &f;
            out += "\n";
        }
        out
    }

    /// Statements encoding `e`, a reference to an export-side value of type `ty`, into `o`.
    fn enc(&mut self, e: &str, ty: &Type) -> String {
        match ty {
            Type::Bool => format!("o.byte(*({e}) as u8);"),
            Type::U8 => format!("o.byte(*({e}));"),
            Type::U16 | Type::U32 | Type::U64 => format!("o.uleb(u64::from(*({e})));"),
            Type::S8 | Type::S16 | Type::S32 | Type::S64 => format!("o.sleb(i64::from(*({e})));"),
            Type::F32 => format!("o.f32(*({e}));"),
            Type::F64 => format!("o.f64(*({e}));"),
            Type::Char => format!("o.uleb(u64::from(u32::from(*({e}))));"),
            Type::String => format!("o.string({e});"),
            Type::ErrorContext => panic!("error-context is not supported"),
            Type::Id(id) => self.enc_id(e, *id),
        }
    }

    fn enc_id(&mut self, e: &str, id: TypeId) -> String {
        let def = &self.t.resolve.types[id];
        let named = def.name.is_some()
            && matches!(def.kind, TypeDefKind::Record(_) | TypeDefKind::Variant(_) | TypeDefKind::Enum(_) | TypeDefKind::Flags(_));
        if !named {
            return self.enc_body(e, id);
        }
        let function = format!("enc_{}", ident(def.name.as_deref().unwrap()));
        if !self.encoders.contains_key(&function) {
            self.encoders.insert(function.clone(), String::new());
            let body = self.enc_body("v", id);
            let lt = if self.t.info_id(id).borrow { "<'_>" } else { "" };
            let ty = self.t.type_name(id);
            self.encoders.insert(function.clone(), format!("fn {function}(v: &exp::{ty}{lt}, o: &mut crate::encode::Out) {{ {body} }}\n"));
        }
        format!("{function}({e}, o);")
    }

    fn enc_body(&mut self, e: &str, id: TypeId) -> String {
        let kind = self.t.resolve.types[id].kind.clone();
        match kind {
            TypeDefKind::Type(t) => self.enc(e, &t),
            TypeDefKind::Record(r) => {
                let mut out = String::new();
                for f in &r.fields {
                    out += &self.enc(&format!("&({e}).{}", ident(&f.name)), &f.ty);
                    out += " ";
                }
                out
            }
            TypeDefKind::Tuple(t) => {
                let mut out = String::new();
                for (i, ty) in t.types.iter().enumerate() {
                    out += &self.enc(&format!("&({e}).{i}"), ty);
                    out += " ";
                }
                out
            }
            TypeDefKind::Variant(v) => {
                let name = self.t.type_name(id);
                let arms: Vec<String> = v
                    .cases
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let case = camel(&c.name);
                        match &c.ty {
                            Some(t) => format!("exp::{name}::{case}(x) => {{ o.uleb({i}); {} }}", self.enc("x", t)),
                            None => format!("exp::{name}::{case} => o.uleb({i}),"),
                        }
                    })
                    .collect();
                format!("match {e} {{ {} }}", arms.join(" "))
            }
            TypeDefKind::Enum(_) => format!("o.uleb(*({e}) as u64);"),
            TypeDefKind::Flags(_) => format!("o.uleb(u64::from(({e}).bits()));"),
            TypeDefKind::Option(t) => format!("match {e} {{ None => o.byte(0), Some(x) => {{ o.byte(1); {} }} }}", self.enc("x", &t)),
            TypeDefKind::List(Type::U8) => format!("o.blob({e});"),
            TypeDefKind::List(t) => format!("o.uleb(({e}).len() as u64); for x in ({e}).iter() {{ {} }}", self.enc("x", &t)),
            TypeDefKind::Result(r) => {
                let ok = r.ok.map(|t| self.enc("x", &t)).unwrap_or_default();
                let err = r.err.map(|t| self.enc("x", &t)).unwrap_or_default();
                format!("match {e} {{ Ok(x) => {{ o.byte(0); {ok} }} Err(x) => {{ o.byte(1); {err} }} }}")
            }
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                let r = self.t.resource(r);
                let name = self.t.type_name(r);
                if self.is_hand_written(r) {
                    format!("crate::encode::Recorded::record(({e}).get::<{name}>(), o);")
                } else {
                    format!("o.object(({e}).get::<{name}>().id.get());")
                }
            }
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => "o.handle();".to_string(),
            other => panic!("encoding {other:?} is not supported"),
        }
    }
}

/// A function as the generated call description shows it.
struct CallInfo {
    wit_name: String,
    variant: String,
    /// The wrapper type of `this`, for methods.
    this: Option<String>,
    /// (name, export-side type) of each parameter after `self`.
    params: Vec<(String, String)>,
    /// The export-side result type.
    ret: String,
    /// The WIT types of the parameters after `self`, and of the result (none for a
    /// constructor, whose result is the wrapper).
    param_types: Vec<Type>,
    result: Option<Type>,
    /// The function's index among the interface's, in the WIT's order (the trace's number).
    wit_index: usize,
    constructor: bool,
    is_async: bool,
}
