//! Builds the virt component: `virt-component/` for `wasm32-unknown-unknown` (so the core module
//! imports no WASI), made into a component with wit-component, at `$OUT_DIR/virt.wasm`.

use std::path::{Path, PathBuf};

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap();
    let virt = root.join("virt-component");
    for p in ["Cargo.toml", "Cargo.lock", "build.rs", "src"] {
        println!("cargo::rerun-if-changed={}", virt.join(p).display());
    }
    println!("cargo::rerun-if-changed={}", root.join("config").display());
    println!("cargo::rerun-if-changed={}", webgpu_virt_wit::WIT_DIR);
    println!("cargo::rerun-if-changed=build.rs");

    let target_dir = root.join("target").join("virt");
    webgpu_virt_wit::build::cargo_build(&virt.join("Cargo.toml"), TARGET, &target_dir, &[]);
    let core = target_dir.join(TARGET).join("release").join("webgpu_virt_component.wasm");
    let module = std::fs::read(&core).unwrap_or_else(|e| panic!("reading {}: {e}", core.display()));
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| panic!("making a component of {}: {e:?}", core.display()));
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("virt.wasm");
    std::fs::write(&out, component).expect("writing virt.wasm");
}
