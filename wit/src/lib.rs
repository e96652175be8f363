//! The WIT of webgpu-virt and where its dependencies live on disk.
//!
//! `wasi:webgpu@0.3.0-rc.2` is not committed: this crate's build script takes it from the
//! crates.io package `wasi-webgpu-wasmtime` (the only registry package that ships it), and
//! `wasi:cli@0.3.0` with its siblings from `wasmtime-wasi` (and `wasi:http@0.3.0` from
//! `wasmtime-wasi-http`), all pinned by version and by the
//! sha256 of every file, and writes them under `wit/deps/`. Depend on this crate (as a build
//! dependency where a build script needs the WIT) and the files are there before you read them.

/// The `wit/` directory: our package plus `deps/`.
pub const WIT_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The fully qualified name of the interface everything here is about.
pub const WEBGPU_INTERFACE: &str = "wasi:webgpu/webgpu@0.3.0-rc.2";

/// The `wasi:webgpu` package's WIT text, as fetched (a package of its own: it uses no other).
/// Built in, so that a binary reads traces without the source tree.
pub const WEBGPU_WIT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/deps/webgpu.wit"));

/// The `wasi:webgpu` package file, as fetched.
pub fn webgpu_wit_path() -> std::path::PathBuf {
    std::path::Path::new(WIT_DIR).join("deps").join("webgpu.wit")
}

/// For build scripts that build this project's Wasm crates (test guests, the virt component).
pub mod build {
    use std::path::Path;
    use std::process::Command;

    /// Installs a Rust target when it is missing: rustup does not do it on its own here, even
    /// with the target in `rust-toolchain.toml`.
    pub fn ensure_target(target: &str) {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().expect("running rustc --print sysroot");
        let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
        if Path::new(&sysroot).join("lib/rustlib").join(target).is_dir() {
            return;
        }
        match Command::new("rustup").args(["target", "add", target]).status() {
            Ok(s) if s.success() => {}
            _ => panic!("the {target} target is missing and `rustup target add {target}` failed: install it and build again"),
        }
    }

    /// Runs `cargo build --locked --release --target TARGET` on another workspace's manifest,
    /// with `extra` arguments, into `target_dir`. What the outer build set for its own target
    /// does not leak in.
    pub fn cargo_build(manifest: &Path, target: &str, target_dir: &Path, extra: &[&str]) {
        ensure_target(target);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--locked", "--release", "--target", target])
            .args(extra)
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir);
        for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS"] {
            cmd.env_remove(var);
        }
        let status = cmd.status().expect("running cargo");
        assert!(status.success(), "building {} failed (see the output above)", manifest.display());
    }
}
