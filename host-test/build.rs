fn main() {
    // The WIT dependencies are fetched by webgpu-virt-wit's build script; depending on it here
    // orders that before `bindgen!` reads them.
    println!("cargo::rerun-if-changed=build.rs");
    let _ = webgpu_virt_wit::WIT_DIR;
}
