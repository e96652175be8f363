//! What the code generators of the virt component (`virt-component/build.rs`) and of the
//! replayer (`compose/replayer/build.rs`) share: the WIT's types as wit-bindgen names and passes
//! them, and what a trace's header says of the interface. Both generate from the WIT at build
//! time, so that a new revision of `wasi:webgpu` is a rebuild.

#![deny(missing_docs)]

use heck::{ToSnakeCase, ToUpperCamelCase};
use sha2::Digest as _;
use std::collections::HashMap;
use std::path::Path;
use wit_parser::{Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, WorldItem};

/// The interface both generate for.
pub const WEBGPU: &str = "wasi:webgpu/webgpu@0.3.0-rc.2";

/// Parses the WIT directory `wit` and finds `wasi:webgpu` in `world` (imported or exported).
pub fn load(wit: &Path, world: &str) -> (Resolve, InterfaceId) {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(wit).unwrap_or_else(|e| panic!("parsing {}: {e:?}", wit.display()));
    let world = resolve.select_world(&[pkg], Some(world)).unwrap_or_else(|e| panic!("the `{world}` world: {e:?}"));
    let w = &resolve.worlds[world];
    let iface = w
        .imports
        .values()
        .chain(w.exports.values())
        .find_map(|item| match item {
            WorldItem::Interface { id, .. } if resolve.id_of(*id).as_deref() == Some(WEBGPU) => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the world uses no {WEBGPU}"));
    (resolve, iface)
}

/// Rust items naming the recorded interface, for a trace's header: `PACKAGE` and `WIT_HASH`
/// (SHA-256 of `wasi:webgpu`'s WIT text under `wit/deps/`).
pub fn trace_constants(resolve: &Resolve, iface: InterfaceId, wit: &Path) -> String {
    let path = wit.join("deps").join("webgpu.wit");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let hash: Vec<String> = sha2::Sha256::digest(&text).iter().map(|b| format!("{b:#04x}")).collect();
    format!(
        "/// The interface a trace records.\npub const PACKAGE: &str = {:?};\n/// SHA-256 of the interface's WIT text, as this was built with.\npub const WIT_HASH: [u8; 32] = [{}];\n",
        resolve.id_of(iface).expect("a named interface"),
        hash.join(", ")
    )
}

/// What a type holds, transitively: decides how it is converted and passed.
#[derive(Clone, Copy, Default)]
pub struct Info {
    /// An owned handle.
    pub own: bool,
    /// A borrowed handle.
    pub borrow: bool,
    /// A list or a string.
    pub list: bool,
}

impl Info {
    /// Whether it holds a handle.
    pub fn handles(self) -> bool {
        self.own || self.borrow
    }

    fn or(self, o: Info) -> Info {
        Info { own: self.own || o.own, borrow: self.borrow || o.borrow, list: self.list || o.list }
    }
}

/// Which side of a binding a Rust type is for: it decides how handles and borrows are written.
pub enum Side<'s> {
    /// An exported interface's trait (`module::Name`, `module::NameBorrow<'_>`).
    Export {
        /// The module path of the bindings.
        module: &'s str,
    },
    /// An imported interface (`module::Name`, `&'lt module::Name`).
    Import {
        /// The module path of the bindings.
        module: &'s str,
        /// The lifetime of borrows (`'a`, `'_`, `'static`).
        lifetime: &'s str,
    },
}

/// The interface's types, with what each holds (computed once).
pub struct Types<'a> {
    /// The WIT.
    pub resolve: &'a Resolve,
    infos: HashMap<TypeId, Info>,
}

impl<'a> Types<'a> {
    /// The types of `resolve`.
    pub fn new(resolve: &'a Resolve) -> Self {
        Self { resolve, infos: HashMap::new() }
    }

    /// What `ty` holds.
    pub fn info(&mut self, ty: &Type) -> Info {
        match ty {
            Type::String => Info { list: true, ..Info::default() },
            Type::Id(id) => self.info_id(*id),
            _ => Info::default(),
        }
    }

    /// What type `id` holds.
    pub fn info_id(&mut self, id: TypeId) -> Info {
        if let Some(i) = self.infos.get(&id) {
            return *i;
        }
        let kind = self.resolve.types[id].kind.clone();
        let info = match &kind {
            TypeDefKind::Handle(Handle::Own(_)) => Info { own: true, ..Info::default() },
            TypeDefKind::Handle(Handle::Borrow(_)) => Info { borrow: true, ..Info::default() },
            TypeDefKind::Record(r) => r.fields.iter().fold(Info::default(), |a, f| a.or(self.info(&f.ty))),
            TypeDefKind::Variant(v) => v.cases.iter().filter_map(|c| c.ty.as_ref()).fold(Info::default(), |a, t| a.or(self.info(t))),
            TypeDefKind::Tuple(t) => t.types.iter().fold(Info::default(), |a, t| a.or(self.info(t))),
            TypeDefKind::Option(t) | TypeDefKind::Type(t) => self.info(t),
            TypeDefKind::List(t) => Info { list: true, ..self.info(t) },
            TypeDefKind::Result(r) => {
                let ok = r.ok.as_ref().map(|t| self.info(t)).unwrap_or_default();
                let err = r.err.as_ref().map(|t| self.info(t)).unwrap_or_default();
                ok.or(err)
            }
            TypeDefKind::Future(t) | TypeDefKind::Stream(t) => t.as_ref().map(|t| self.info(t)).unwrap_or_default(),
            TypeDefKind::Resource | TypeDefKind::Enum(_) | TypeDefKind::Flags(_) => Info::default(),
            other => panic!("the generator does not handle {other:?} yet"),
        };
        self.infos.insert(id, info);
        info
    }

    /// A named type's name in the WIT.
    pub fn wit_name(&self, id: TypeId) -> &'a str {
        self.resolve.types[id].name.as_deref().expect("a named type")
    }

    /// A named type's name in Rust.
    pub fn type_name(&self, id: TypeId) -> String {
        camel(self.wit_name(id))
    }

    /// The resource a handle type refers to, through aliases.
    pub fn resource(&self, mut id: TypeId) -> TypeId {
        while let TypeDefKind::Type(Type::Id(next)) = self.resolve.types[id].kind {
            id = next;
        }
        id
    }

    /// Whether a type is a named record, variant, enum or flags (one helper function each).
    pub fn is_named(&self, id: TypeId) -> bool {
        let def = &self.resolve.types[id];
        def.name.is_some() && matches!(def.kind, TypeDefKind::Record(_) | TypeDefKind::Variant(_) | TypeDefKind::Enum(_) | TypeDefKind::Flags(_))
    }

    /// The Rust type wit-bindgen gives `ty` on `side`.
    pub fn rust_type(&mut self, ty: &Type, side: &Side<'_>) -> String {
        let (module, lt) = match side {
            Side::Export { module } => (*module, "'_"),
            Side::Import { module, lifetime } => (*module, *lifetime),
        };
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::U16 => "u16".into(),
            Type::U32 => "u32".into(),
            Type::U64 => "u64".into(),
            Type::S8 => "i8".into(),
            Type::S16 => "i16".into(),
            Type::S32 => "i32".into(),
            Type::S64 => "i64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "String".into(),
            Type::ErrorContext => panic!("error-context is not supported"),
            Type::Id(id) => {
                let id = *id;
                let def = &self.resolve.types[id];
                if def.name.is_some() && !matches!(def.kind, TypeDefKind::Type(_) | TypeDefKind::Handle(_)) {
                    let lts = if self.info_id(id).borrow { format!("<{lt}>") } else { String::new() };
                    return format!("{module}::{}{lts}", self.type_name(id));
                }
                match def.kind.clone() {
                    TypeDefKind::Type(t) => self.rust_type(&t, side),
                    TypeDefKind::Handle(Handle::Own(r)) => format!("{module}::{}", self.type_name(self.resource(r))),
                    TypeDefKind::Handle(Handle::Borrow(r)) => match side {
                        Side::Export { .. } => format!("{module}::{}Borrow<'_>", self.type_name(self.resource(r))),
                        Side::Import { .. } => format!("&{lt} {module}::{}", self.type_name(self.resource(r))),
                    },
                    TypeDefKind::Option(t) => format!("Option<{}>", self.rust_type(&t, side)),
                    TypeDefKind::List(t) => format!("Vec<{}>", self.rust_type(&t, side)),
                    TypeDefKind::Result(r) => {
                        let ok = r.ok.map(|t| self.rust_type(&t, side)).unwrap_or_else(|| "()".into());
                        let err = r.err.map(|t| self.rust_type(&t, side)).unwrap_or_else(|| "()".into());
                        format!("Result<{ok}, {err}>")
                    }
                    TypeDefKind::Tuple(t) => {
                        let parts: Vec<String> = t.types.iter().map(|t| self.rust_type(t, side)).collect();
                        format!("({},)", parts.join(", "))
                    }
                    TypeDefKind::Future(Some(t)) => format!("wit_bindgen::rt::async_support::FutureReader<{}>", self.rust_type(&t, side)),
                    TypeDefKind::Stream(Some(t)) => format!("wit_bindgen::rt::async_support::StreamReader<{}>", self.rust_type(&t, side)),
                    other => panic!("unsupported anonymous type {other:?}"),
                }
            }
        }
    }

    /// How a value `e` is passed to a synchronous import: wit-bindgen borrows the top level of
    /// strings, lists and of types holding them or borrows (unless they hold an owned handle,
    /// which forces ownership), and passes everything else by value.
    pub fn pass(&mut self, e: &str, ty: &Type) -> String {
        match ty {
            Type::String => format!("&{e}"),
            Type::Id(id) => {
                let id = *id;
                match self.resolve.types[id].kind.clone() {
                    TypeDefKind::Type(t) => self.pass(e, &t),
                    TypeDefKind::List(_) => format!("&{e}"),
                    TypeDefKind::Handle(_) | TypeDefKind::Enum(_) | TypeDefKind::Flags(_) => e.to_string(),
                    TypeDefKind::Option(t) => {
                        if self.pass("x", &t) == "x" {
                            e.to_string()
                        } else if matches!(t, Type::String) || matches!(t, Type::Id(i) if matches!(self.resolve.types[i].kind, TypeDefKind::List(_))) {
                            format!("{e}.as_deref()")
                        } else {
                            format!("{e}.as_ref()")
                        }
                    }
                    _ => {
                        let info = self.info_id(id);
                        if !info.own && (info.list || info.borrow) { format!("&{e}") } else { e.to_string() }
                    }
                }
            }
            _ => e.to_string(),
        }
    }
}

/// Whether `f` is an `async func`.
pub fn is_async(f: &Function) -> bool {
    matches!(f.kind, FunctionKind::AsyncFreestanding | FunctionKind::AsyncMethod(_) | FunctionKind::AsyncStatic(_))
}

/// Rust's keywords, which wit-bindgen escapes with a trailing underscore.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A WIT name as a Rust identifier, as wit-bindgen writes it.
pub fn ident(name: &str) -> String {
    let s = name.to_snake_case();
    if KEYWORDS.contains(&s.as_str()) { format!("{s}_") } else { s }
}

/// A WIT name as a Rust type name.
pub fn camel(name: &str) -> String {
    name.to_upper_camel_case()
}
