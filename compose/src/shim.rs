//! The tenant shim: a tiny component per guest of a pod that gives the guest the shared virt's
//! `wasi:webgpu` with the guest's own `get-gpu`.
//!
//! The shim imports the virt's `wasi:webgpu/webgpu` instance and its `tenancy` instance, and
//! exports every item of the imported `wasi:webgpu` (each resource type, type and function,
//! aliased), except `get-gpu`: that one is the shim's own, a core function that calls
//! `tenancy.get-gpu-for` with the guest's number baked in. An instance of the shim is thus a
//! `wasi:webgpu/webgpu` instance, which the pod passes to the guest. A guest's calls reach the
//! virt directly (one hop, as with a plain virt), only `get-gpu` passes the shim, and the guest
//! cannot name another tenant.
//!
//! The import types come from [`SHIM_IMPORTS`](crate::SHIM_IMPORTS), a component that
//! wit-component made at build time for a world importing both interfaces: its sections before
//! its first core module (types, imports and type aliases) are copied as they are, and the shim's
//! own items follow them.

use wasm_encoder::reencode::{Reencode, ReencodeComponent};
use wasm_encoder::{
    Alias, CanonicalFunctionSection, CanonicalOption, CodeSection, Component, ComponentAliasSection, ComponentExportKind,
    ComponentExportSection, ComponentSectionId, ComponentTypeSection, ComponentValType, EntityType, ExportKind, ExportSection,
    Function, FunctionSection, ImportSection, InstanceSection, Instruction, Module, ModuleArg, ModuleSection, RawSection,
    TypeSection, ValType,
};
use wasmparser::{ComponentExternalKind, ComponentTypeRef, InstanceTypeDeclaration, Parser, Payload};

/// The number of items in each index space of the component being built.
#[derive(Default)]
struct Spaces {
    types: u32,
    funcs: u32,
    instances: u32,
}

impl Spaces {
    fn next(&mut self, kind: ComponentExternalKind) -> Option<u32> {
        let space = match kind {
            ComponentExternalKind::Type => &mut self.types,
            ComponentExternalKind::Func => &mut self.funcs,
            ComponentExternalKind::Instance => &mut self.instances,
            _ => return None,
        };
        *space += 1;
        Some(*space - 1)
    }
}

/// Why a shim could not be made: the built-in import types are not what this code expects.
/// (Only a change of the WIT or of wit-component's output could cause it.)
#[derive(Debug, thiserror::Error)]
#[error("making the tenant shim: {0}")]
pub struct ShimError(String);

impl From<wasmparser::BinaryReaderError> for ShimError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Self(e.to_string())
    }
}

impl<E: std::fmt::Debug> From<wasm_encoder::reencode::Error<E>> for ShimError {
    fn from(e: wasm_encoder::reencode::Error<E>) -> Self {
        Self(format!("{e:?}"))
    }
}

/// Re-encodes the imported instance type's declarations at the shim's top level: a type index
/// of the instance type is the top-level index it became.
struct Remap(Vec<u32>);

impl Reencode for Remap {
    type Error = std::convert::Infallible;
}

impl ReencodeComponent for Remap {
    fn component_type_index(&mut self, ty: u32) -> u32 {
        self.0[ty as usize]
    }
}

/// The tenant shim of guest number `tenant`, its imports typed as in `imports` (see the module
/// docs): `webgpu` and `tenancy` name the two imported interfaces.
pub fn shim(imports: &[u8], webgpu: &str, tenancy: &str, tenant: u32) -> Result<Vec<u8>, ShimError> {
    let fail = |what: String| ShimError(what);
    let mut out = Component::new();
    let mut spaces = Spaces::default();
    // The declarations of every instance type defined so far, by type index.
    let mut instance_types = Vec::new();
    let (mut webgpu_at, mut tenancy_at, mut declarations) = (None, None, None);
    for payload in Parser::new(0).parse_all(imports) {
        let (id, range) = match payload? {
            Payload::Version { .. } | Payload::CustomSection(_) => continue,
            Payload::ComponentTypeSection(reader) => {
                for ty in reader.clone() {
                    let index = spaces.next(ComponentExternalKind::Type).expect("a type");
                    if let wasmparser::ComponentType::Instance(decls) = ty? {
                        instance_types.push((index, decls));
                    }
                }
                (ComponentSectionId::Type, reader.range())
            }
            Payload::ComponentImportSection(reader) => {
                for import in reader.clone() {
                    let import = import?;
                    let name = import.name.name;
                    let index = spaces.next(kind_of(&import.ty)).ok_or_else(|| fail(format!("unexpected import `{name}`")))?;
                    if let ComponentTypeRef::Instance(ty) = import.ty {
                        if name == webgpu {
                            webgpu_at = Some(index);
                            let at = instance_types.iter().position(|(i, _)| *i == ty);
                            declarations = Some(at.map(|at| instance_types.swap_remove(at).1).ok_or_else(|| fail(format!("no instance type {ty} for {webgpu}")))?);
                        } else if name == tenancy {
                            tenancy_at = Some(index);
                        }
                    }
                }
                (ComponentSectionId::Import, reader.range())
            }
            Payload::ComponentAliasSection(reader) => {
                for alias in reader.clone() {
                    let kind = match alias? {
                        wasmparser::ComponentAlias::InstanceExport { kind, .. } => kind,
                        wasmparser::ComponentAlias::Outer { kind: wasmparser::ComponentOuterAliasKind::Type, .. } => ComponentExternalKind::Type,
                        other => return Err(fail(format!("unexpected alias {other:?}"))),
                    };
                    spaces.next(kind).ok_or_else(|| fail(format!("unexpected alias of a {kind:?}")))?;
                }
                (ComponentSectionId::Alias, reader.range())
            }
            // Its own implementation begins: what comes next is the shim's.
            _ => break,
        };
        out.section(&RawSection { id: id as u8, data: &imports[range.start as usize..range.end as usize] });
    }
    let (Some(webgpu_at), Some(tenancy_at), Some(declarations)) = (webgpu_at, tenancy_at, declarations) else {
        return Err(fail(format!("the import types lack {webgpu} or {tenancy}")));
    };

    // The virt's `get-gpu-for` and the `gpu` resource type, and the type of `get-gpu`.
    let mut aliases = ComponentAliasSection::new();
    aliases.alias(Alias::InstanceExport { instance: tenancy_at, kind: ComponentExportKind::Func, name: "get-gpu-for" });
    let get_gpu_for = spaces.next(ComponentExternalKind::Func).expect("a func");
    aliases.alias(Alias::InstanceExport { instance: webgpu_at, kind: ComponentExportKind::Type, name: "gpu" });
    let gpu = spaces.next(ComponentExternalKind::Type).expect("a type");
    out.section(&aliases);
    let mut types = ComponentTypeSection::new();
    types.defined_type().own(gpu);
    let own_gpu = spaces.next(ComponentExternalKind::Type).expect("a type");
    types.function().params(std::iter::empty::<(&str, ComponentValType)>()).result(Some(ComponentValType::Type(own_gpu)));
    let get_gpu_type = spaces.next(ComponentExternalKind::Type).expect("a type");
    out.section(&types);

    // `get-gpu-for` lowered into a core module whose `get-gpu` calls it with the tenant.
    let mut lower = CanonicalFunctionSection::new();
    lower.lower(get_gpu_for, []);
    out.section(&lower);
    out.section(&ModuleSection(&core_module(tenant)));
    let mut core_instances = InstanceSection::new();
    core_instances.export_items([("get-gpu-for", ExportKind::Func, 0)]);
    core_instances.instantiate(0, [("virt", ModuleArg::Instance(0))]);
    out.section(&core_instances);
    let mut core_alias = ComponentAliasSection::new();
    core_alias.alias(Alias::CoreInstanceExport { instance: 1, kind: ExportKind::Func, name: "get-gpu" });
    out.section(&core_alias);
    let mut lift = CanonicalFunctionSection::new();
    lift.lift(1, get_gpu_type, std::iter::empty::<CanonicalOption>());
    let get_gpu = spaces.next(ComponentExternalKind::Func).expect("a func");
    out.section(&lift);

    // The instance type's declarations, replayed at the top level: its types defined again, its
    // exported types and functions aliased from the import and exported, the functions with
    // their types ascribed in terms of the exported types (which is how a component's exported
    // methods name their resources). `get-gpu` is the shim's own.
    let mut remap = Remap(Vec::new());
    let mut found_get_gpu = false;
    for decl in declarations {
        match decl {
            InstanceTypeDeclaration::Type(ty) => {
                let mut types = ComponentTypeSection::new();
                remap.parse_component_type(types.ty(), ty)?;
                out.section(&types);
                remap.0.push(spaces.next(ComponentExternalKind::Type).expect("a type"));
            }
            InstanceTypeDeclaration::Export { name, ty: ComponentTypeRef::Type(_) } => {
                let mut alias = ComponentAliasSection::new();
                alias.alias(Alias::InstanceExport { instance: webgpu_at, kind: ComponentExportKind::Type, name: name.name });
                out.section(&alias);
                let aliased = spaces.next(ComponentExternalKind::Type).expect("a type");
                let mut export = ComponentExportSection::new();
                export.export(name.name, ComponentExportKind::Type, aliased, None);
                out.section(&export);
                // Exporting a type makes a new type index: the one later declarations mean.
                remap.0.push(spaces.next(ComponentExternalKind::Type).expect("a type"));
            }
            InstanceTypeDeclaration::Export { name, ty: ComponentTypeRef::Func(ty) } => {
                let func = if name.name == "get-gpu" {
                    found_get_gpu = true;
                    get_gpu
                } else {
                    let mut alias = ComponentAliasSection::new();
                    alias.alias(Alias::InstanceExport { instance: webgpu_at, kind: ComponentExportKind::Func, name: name.name });
                    out.section(&alias);
                    spaces.next(ComponentExternalKind::Func).expect("a func")
                };
                let mut export = ComponentExportSection::new();
                let ascribed = wasm_encoder::ComponentTypeRef::Func(remap.component_type_index(ty));
                export.export(name.name, ComponentExportKind::Func, func, Some(ascribed));
                out.section(&export);
                spaces.next(ComponentExternalKind::Func);
            }
            other => return Err(fail(format!("{webgpu}'s type declares {other:?}, which a shim cannot re-export"))),
        }
    }
    if !found_get_gpu {
        return Err(fail(format!("{webgpu} has no `get-gpu`")));
    }
    Ok(out.finish())
}

/// The core module: `get-gpu` calls the imported `virt.get-gpu-for` with `tenant`.
fn core_module(tenant: u32) -> Module {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    types.ty().function([], [ValType::I32]);
    module.section(&types);
    let mut imports = ImportSection::new();
    imports.import("virt", "get-gpu-for", EntityType::Function(0));
    module.section(&imports);
    let mut functions = FunctionSection::new();
    functions.function(1);
    module.section(&functions);
    let mut exports = ExportSection::new();
    exports.export("get-gpu", ExportKind::Func, 1);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    // The tenant's number, as the i32 the canonical ABI passes a u32 as.
    body.instruction(&Instruction::I32Const(tenant as i32));
    body.instruction(&Instruction::Call(0));
    body.instruction(&Instruction::End);
    code.function(&body);
    module.section(&code);
    module
}

fn kind_of(ty: &ComponentTypeRef) -> ComponentExternalKind {
    match ty {
        ComponentTypeRef::Module(_) => ComponentExternalKind::Module,
        ComponentTypeRef::Func(_) => ComponentExternalKind::Func,
        ComponentTypeRef::Value(_) => ComponentExternalKind::Value,
        ComponentTypeRef::Type(_) => ComponentExternalKind::Type,
        ComponentTypeRef::Instance(_) => ComponentExternalKind::Instance,
        ComponentTypeRef::Component(_) => ComponentExternalKind::Component,
    }
}
