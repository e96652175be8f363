//! Fetches the pinned WIT dependencies into `wit/deps/` (git-ignored): `wasi:webgpu` and the WASI
//! 0.3 packages it and our worlds use (`wasi:http` for services). WASI 0.2's packages, which only
//! the recording virt uses (to write files with `wasi:filesystem@0.2`), go to `wit/p2/`
//! (git-ignored too), apart: with
//! two versions of `wasi:cli` in one WIT resolve, every binding of it would be named by version.
//!
//! The packages come from crates.io through cargo itself (`cargo info NAME@VERSION` puts the
//! `.crate` archive into cargo's registry cache), so no other client or address is involved.
//! Every archive and every extracted file is checked against the sha256 pinned below; a
//! mismatch is an error, never a silent fallback.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Crate {
    name: &'static str,
    version: &'static str,
    sha256: &'static str,
    /// (path inside the archive, path under `wit/`, sha256 of the file)
    files: &'static [(&'static str, &'static str, &'static str)],
}

const CRATES: &[Crate] = &[
    Crate {
        name: "wasi-webgpu-wasmtime",
        version: "0.5.0",
        sha256: "e2294f34acbfa100e60ddbb97290ffaa2e2fe57571bf4280f63ec5dafe6537b9",
        files: &[(
            "wit/deps/wasi-webgpu-0.3.0-rc.2/package.wit",
            "deps/webgpu.wit",
            "0c3d714f52b300baf7eb66e21d9c3a50503546560ecf25fdd9553129de0c8942",
        )],
    },
    Crate {
        name: "wasmtime-wasi",
        version: "48.0.8",
        sha256: "a678afa77874a2d6eed071852f7777ccd77495e0bfbc30f7b8089e1d00b2485f",
        files: &[
            ("src/p3/wit/deps/cli.wit", "deps/cli.wit", "04b2de3bf344052c78080f3c5320442132b4e7c20b42633a92b8400b6d29ab0d"),
            ("src/p3/wit/deps/clocks.wit", "deps/clocks.wit", "5b59398732d19f6e327b1693c851a690bdf30e86cbf755d5a53b2fe7d6f2775e"),
            ("src/p3/wit/deps/filesystem.wit", "deps/filesystem.wit", "612729afb560f715c18de8787014f6b35ee7d3d12a8ef5566d93720ca463c9c9"),
            ("src/p3/wit/deps/random.wit", "deps/random.wit", "671234beada8dbdff53d10a6554bfbdc6ed9259d3093dfb8cc78c00b67fdf6e5"),
            ("src/p3/wit/deps/sockets.wit", "deps/sockets.wit", "9ea0d8bbd63773ee67ee58f4dbb1a4ad5ec250ed79487ed847715c0b87ee95cf"),
            // WASI 0.2, for the recording virt's file output (`wasi:filesystem@0.2.12`) and
            // what it refers to: apart, in `p2/`.
            ("src/p2/wit/deps/cli.wit", "p2/cli.wit", "fb6ac5d23fcaf3d231142a3c2f9bb1e9bc1fe5af6f1f329f6b1a5555ce0d3873"),
            ("src/p2/wit/deps/clocks.wit", "p2/clocks.wit", "6ed8aa65bb8cbe224a0b2cbac9fc1b3bd25bdb17eda5ae0d23c983ed31c447cc"),
            ("src/p2/wit/deps/filesystem.wit", "p2/filesystem.wit", "e675f261017bf9b4fa7df5b9701023fe0249ede71021ac1bf978748e62edcda8"),
            ("src/p2/wit/deps/io.wit", "p2/io.wit", "96e206d00076fa0480df32c5bcf255a3fa4862805ac2f6b8537a781cce54f433"),
            ("src/p2/wit/deps/random.wit", "p2/random.wit", "48578c40213d5cab6650980905fa146a0be8c39c4433ee5e7e00637b87dbe08f"),
            ("src/p2/wit/deps/sockets.wit", "p2/sockets.wit", "ad38dbf3b0bbdf34c0f2b608edcbfee04d71b443a63faff1f5e0053c3f84b377"),
        ],
    },
    // `wasi:http@0.3.0`, for services (`webgpu-virt serve`): what the host serves them with.
    Crate {
        name: "wasmtime-wasi-http",
        version: "48.0.8",
        sha256: "1ce402d792df4c6440de3a48b6fb34ebb06309584bd9777832d14ad7a486f762",
        files: &[("src/p3/wit/deps/http.wit", "deps/http.wit", "905f68152b4ba133db28ad1283f5ab5e67af1c64b9d306b770a607f6076b03be")],
    },
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=deps");
    println!("cargo::rerun-if-changed=p2");
    let wit = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Err(e) = fetch_all(wit) {
        panic!("fetching the WIT dependencies into {}: {e}", wit.display());
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn fetch_all(wit: &Path) -> Result<(), String> {
    for dir in ["deps", "p2"] {
        std::fs::create_dir_all(wit.join(dir)).map_err(|e| e.to_string())?;
    }
    for krate in CRATES {
        let present = krate.files.iter().all(|(_, name, sum)| {
            std::fs::read(wit.join(name)).is_ok_and(|bytes| sha256_hex(&bytes) == *sum)
        });
        if present {
            continue;
        }
        let archive = crate_archive(krate)?;
        extract(krate, &archive, wit)?;
    }
    Ok(())
}

/// The `.crate` archive's bytes, verified.
fn crate_archive(krate: &Crate) -> Result<Vec<u8>, String> {
    let file = format!("{}-{}.crate", krate.name, krate.version);
    let cached = || find_in_registry_cache(&file);
    let path = match cached() {
        Some(path) => path,
        None => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let spec = format!("{}@{}", krate.name, krate.version);
            let out = Command::new(&cargo)
                .args(["info", &spec])
                .current_dir(std::env::temp_dir())
                .output()
                .map_err(|e| format!("running `{cargo} info {spec}`: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "`cargo info {spec}` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            cached().ok_or_else(|| format!("`cargo info {spec}` did not leave {file} in cargo's registry cache"))?
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let got = sha256_hex(&bytes);
    if got != krate.sha256 {
        return Err(format!("{} has sha256 {got}, expected {}", path.display(), krate.sha256));
    }
    Ok(bytes)
}

fn cargo_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return home.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cargo")
}

fn find_in_registry_cache(file: &str) -> Option<PathBuf> {
    let cache = cargo_home().join("registry").join("cache");
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|index| index.path().join(file))
        .find(|p| p.is_file())
}

fn extract(krate: &Crate, archive: &[u8], wit: &Path) -> Result<(), String> {
    let prefix = format!("{}-{}/", krate.name, krate.version);
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut wanted: Vec<_> = krate.files.iter().collect();
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        let Some(inner) = path.strip_prefix(&prefix) else { continue };
        let Some(pos) = wanted.iter().position(|(src, _, _)| *src == inner) else { continue };
        let (src, name, sum) = wanted.swap_remove(pos);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| e.to_string())?;
        let got = sha256_hex(&bytes);
        if got != *sum {
            return Err(format!("{src} in {prefix} has sha256 {got}, expected {sum}"));
        }
        std::fs::write(wit.join(name), bytes).map_err(|e| format!("writing {name}: {e}"))?;
    }
    match wanted.first() {
        None => Ok(()),
        Some((src, _, _)) => Err(format!("{src} is missing from {}-{}", krate.name, krate.version)),
    }
}
