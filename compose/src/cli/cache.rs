//! Compiled components kept between runs, so that `replay` (and `run --cache`) skip Cranelift.
//!
//! Each entry is a file in the user's cache directory (`$WEBGPU_VIRT_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/webgpu-virt`, else `~/.cache/webgpu-virt`), named by a key over this
//! program's version, the engine's compatibility hash and the component's SHA-256. Loading a
//! compiled component trusts its bytes (`Component::deserialize` is unsafe), so an entry is
//! only loaded when it is one this version wrote, whole: it starts with [`MAGIC`] and its key,
//! and the SHA-256 of the compiled bytes that follow matches the one it holds. Anything else (a
//! damaged file, one of another version, a foreign one) is compiled afresh and written over.
//! The cache is an optimisation: a directory that cannot be written costs only the time.

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of an entry, naming the layout (the key and checksum after it).
const MAGIC: &[u8; 16] = b"webgpu-virt-cc1\n";

/// Where entries go, if anywhere.
pub fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEBGPU_VIRT_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()).map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("webgpu-virt"))
}

/// The component at `path` compiled for `engine`: through the cache when `cached` (`run --cache`,
/// `serve --cache`), else compiled here.
pub fn load(engine: &Engine, path: &Path, cached: bool) -> anyhow::Result<Component> {
    if !cached {
        return host_test::run::load(engine, path).map_err(anyhow::Error::from);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    compile(engine, &bytes, path, dir().as_deref())
}

/// `bytes` compiled for `engine`: from the entry in `dir` if a valid one is there, else
/// compiled and written there. `what` names the component in errors.
pub fn compile(engine: &Engine, bytes: &[u8], what: &Path, dir: Option<&Path>) -> anyhow::Result<Component> {
    let Some(dir) = dir else { return host_test::run::compile(engine, bytes, what).map_err(anyhow::Error::from) };
    let key = key(engine, bytes);
    let path = dir.join(format!("{}.cwasm", hex(&key[..16])));
    let entry = std::fs::read(&path).ok();
    if let Some(compiled) = entry.as_deref().and_then(|entry| valid(entry, &key)) {
        // SAFETY: the bytes are what this program's `precompile_component` wrote for this
        // engine and this component (the key), unchanged since (the checksum).
        if let Ok(component) = unsafe { Component::deserialize(engine, compiled) } {
            return Ok(component);
        }
    }
    if !wasmparser::Parser::is_component(bytes) {
        anyhow::bail!("{} is not a WebAssembly component", what.display());
    }
    let compiled = engine.precompile_component(bytes).map_err(anyhow::Error::from).with_context(|| format!("compiling {}", what.display()))?;
    // SAFETY: `engine` compiled these bytes just now.
    let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(anyhow::Error::from).with_context(|| format!("loading {} as compiled", what.display()))?;
    // Written whole or not at all: a temporary file, then renamed over the entry.
    let _ = std::fs::create_dir_all(dir).and_then(|()| {
        let temp = dir.join(format!(".{}.{}", hex(&key[..8]), std::process::id()));
        let mut entry = Vec::with_capacity(MAGIC.len() + 64 + compiled.len());
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(&key);
        entry.extend_from_slice(&Sha256::digest(&compiled));
        entry.extend_from_slice(&compiled);
        std::fs::write(&temp, &entry).and_then(|()| std::fs::rename(&temp, &path)).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    });
    Ok(component)
}

/// The compiled bytes of `entry`, if it is a whole entry of this layout for `key`.
fn valid<'a>(entry: &'a [u8], key: &[u8; 32]) -> Option<&'a [u8]> {
    let rest = entry.strip_prefix(MAGIC)?;
    let (stored_key, rest) = rest.split_at_checked(32)?;
    let (sum, compiled) = rest.split_at_checked(32)?;
    (stored_key == key && sum == Sha256::digest(compiled).as_slice()).then_some(compiled)
}

/// What an entry is for: this program's version, the engine's settings, the component.
fn key(engine: &Engine, bytes: &[u8]) -> [u8; 32] {
    let mut engine_hash = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(engine_hash.finish().to_le_bytes());
    h.update(Sha256::digest(bytes));
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_entry_of_its_key_is_valid() {
        let key = [3; 32];
        let compiled = b"compiled bytes".as_slice();
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&key);
        entry.extend_from_slice(&Sha256::digest(compiled));
        entry.extend_from_slice(compiled);
        assert_eq!(valid(&entry, &key), Some(compiled));
        assert_eq!(valid(&entry, &[4; 32]), None, "another key");
        assert_eq!(valid(&entry[..entry.len() - 1], &key), None, "cut");
        let mut damaged = entry.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert_eq!(valid(&damaged, &key), None, "damaged");
        assert_eq!(valid(b"\x7fELF foreign", &key), None, "foreign");
    }
}
