//! Builds the virt component: `virt-component/` for `wasm32-unknown-unknown` (so the core module
//! imports no WASI), made into a component with wit-component, at `$OUT_DIR/virt.wasm`; and its
//! recording build at `$OUT_DIR/virt-record.wasm`; the router in front of a pod of services
//! (`router/`, alike) at `$OUT_DIR/router.wasm`; and the replayer (`replayer/`, a
//! `wasm32-wasip2` command component) at `$OUT_DIR/replayer.wasm`.

use std::path::PathBuf;

const TARGET: &str = "wasm32-unknown-unknown";

/// Wasm SIMD for the virt and the replayer: XXH3, the trace's blob hash, runs 1.6x as fast with
/// it (measured with `bench_hash`). Every current Wasm runtime has it; wasmtime by default.
const SIMD: [&str; 2] = ["--config", "build.rustflags = [\"-C\", \"target-feature=+simd128\"]"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap();
    let virt = root.join("virt-component");
    let replayer = manifest.join("replayer");
    let router = manifest.join("router");
    for p in ["Cargo.toml", "Cargo.lock", "build.rs", "src"] {
        for component in [&virt, &replayer, &router] {
            println!("cargo::rerun-if-changed={}", component.join(p).display());
        }
    }
    // The crates of this workspace the virt and the replayer are built from.
    for dependency in ["trace", "config", "bound", "wit/codegen"] {
        println!("cargo::rerun-if-changed={}", root.join(dependency).display());
    }
    println!("cargo::rerun-if-changed={}", webgpu_virt_wit::WIT_DIR);
    println!("cargo::rerun-if-changed=build.rs");

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // The virt, and its recording build (which also imports `wasi:filesystem`), in one target
    // directory: their dependencies are built once (only the virt's own crate differs).
    let target_dir = root.join("target").join("virt");
    // The router in front of a pod of services, alike, from its own crate.
    let builds = [
        ("virt", &virt, &[][..], "webgpu_virt_component"),
        ("virt-record", &virt, &["--features", "record"][..], "webgpu_virt_component"),
        ("router", &router, &[][..], "webgpu_virt_router"),
    ];
    for (name, crate_dir, features, core_name) in builds {
        webgpu_virt_wit::build::cargo_build(&crate_dir.join("Cargo.toml"), TARGET, &target_dir, &[features, &SIMD[..]].concat());
        let core = target_dir.join(TARGET).join("release").join(format!("{core_name}.wasm"));
        let module = std::fs::read(&core).unwrap_or_else(|e| panic!("reading {}: {e}", core.display()));
        let component = wit_component::ComponentEncoder::default()
            .module(&module)
            .and_then(|e| e.validate(true).encode())
            .unwrap_or_else(|e| panic!("making a component of {}: {e:?}", core.display()));
        std::fs::write(out.join(format!("{name}.wasm")), component).unwrap_or_else(|e| panic!("writing {name}.wasm: {e}"));
    }
    // The replayer: wasm32-wasip2, so that its standard library reads the trace through WASI.
    // It shares the virt's target directory, where its build scripts' dependencies (the
    // generator's) are built already.
    webgpu_virt_wit::build::cargo_build(&replayer.join("Cargo.toml"), "wasm32-wasip2", &target_dir, &SIMD);
    let built = target_dir.join("wasm32-wasip2").join("release").join("webgpu_virt_replayer.wasm");
    std::fs::copy(&built, out.join("replayer.wasm")).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    std::fs::write(out.join("features.rs"), features()).expect("writing features.rs");
    std::fs::write(out.join("tenant-shim-imports.wasm"), shim_imports()).expect("writing tenant-shim-imports.wasm");
}

/// A component of the world `tenant-shim` (it imports the virt's `wasi:webgpu` and `tenancy`),
/// from a placeholder core module: the pod's tenant shims take their import types from it.
fn shim_imports() -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(webgpu_virt_wit::WIT_DIR).expect("parsing the WIT");
    let world = resolve.select_world(&[pkg], Some("tenant-shim")).expect("the tenant-shim world");
    let mut module = wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8)
        .expect("embedding the tenant-shim world");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .expect("making the tenant-shim import types")
}

/// `FEATURES`: the cases of wasi:webgpu's `gpu-feature-name`, which `--deny-feature` accepts.
fn features() -> String {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(webgpu_virt_wit::WIT_DIR).expect("parsing the WIT");
    let world = resolve.select_world(&[pkg], Some("virt")).expect("the virt world");
    let names: Vec<String> = resolve.worlds[world]
        .imports
        .values()
        .filter_map(|item| match item {
            wit_parser::WorldItem::Interface { id, .. } => resolve.interfaces[*id].types.get("gpu-feature-name"),
            _ => None,
        })
        .flat_map(|id| match &resolve.types[*id].kind {
            wit_parser::TypeDefKind::Enum(e) => e.cases.iter().map(|c| c.name.clone()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert!(!names.is_empty(), "wasi:webgpu has a gpu-feature-name enum");
    format!("/// The features of `wasi:webgpu` (`gpu-feature-name`).\npub const FEATURES: &[&str] = &{names:?};\n")
}
