//! The WIT of webgpu-virt and where its dependencies live on disk.
//!
//! `wasi:webgpu@0.3.0-rc.2` is not committed: this crate's build script takes it from the
//! crates.io package `wasi-webgpu-wasmtime` (the only registry package that ships it), and
//! `wasi:cli@0.3.0` with its siblings from `wasmtime-wasi`, both pinned by version and by the
//! sha256 of every file, and writes them under `wit/deps/`. Depend on this crate (as a build
//! dependency where a build script needs the WIT) and the files are there before you read them.

/// The `wit/` directory: our package plus `deps/`.
pub const WIT_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The fully qualified name of the interface everything here is about.
pub const WEBGPU_INTERFACE: &str = "wasi:webgpu/webgpu@0.3.0-rc.2";

/// The `wasi:webgpu` package file, as fetched.
pub fn webgpu_wit_path() -> std::path::PathBuf {
    std::path::Path::new(WIT_DIR).join("deps").join("webgpu.wit")
}
