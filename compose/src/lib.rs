//! webgpu-virt's library: the virt component, its configuration, and composing it in front of
//! applications.
//!
//! ```no_run
//! use webgpu_virt::Config;
//!
//! let app = std::fs::read("app.wasm")?;
//! let virt = webgpu_virt::configure(webgpu_virt::VIRT, &Config { count_calls: true, ..Config::default() })?;
//! let composed = webgpu_virt::plug(&app, &virt)?;
//! std::fs::write("app.virt.wasm", composed)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod configure;
pub mod pod;
pub mod shim;
pub mod trace;

pub use configure::{ConfigError, ConfigureError, configuration, configure, read_config};
pub use webgpu_virt_config::{Config, Duration, Fraction, Guest as GuestPolicy, MaxObjects, Pool, Size};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeKind};

/// The virt component, unconfigured: a pure pass-through of `wasi:webgpu`.
pub const VIRT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/virt.wasm"));

/// The virt's WASI build: the same, and it can write a trace through `wasi:filesystem` and log
/// errors nobody listens to on `wasi:cli/stderr` (both 0.2, which it imports), and measure GPU
/// time with `wasi:clocks/monotonic-clock@0.3.0`, for a configuration that asks for any of them.
pub const VIRT_RECORD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/virt-record.wasm"));

/// The replayer: a command component (it exports `wasi:cli/run@0.3.0`) that replays a trace
/// on the `wasi:webgpu` it imports and verifies it against the recording. Its arguments:
/// `TRACE [--no-verify] [--until CALL] [--wait SECONDS]`; it reads TRACE through
/// `wasi:filesystem`. `webgpu-virt replay` runs it on the built-in host.
pub const REPLAYER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/replayer.wasm"));

/// The router in front of a pod of services (the WIT world `router`): it exports
/// `wasi:http/handler@0.3.0` and hands a request for `/NAME/...` to the guest NAME, whose handler
/// is its import `guest-i` (`i` the guest's number); it takes the names from the virt's
/// [`GUESTS`]. See [`pod`].
pub const ROUTER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/router.wasm"));

/// The built-in virt that `config` needs: the WASI build if it records, logs errors or
/// measures GPU time.
pub fn virt_for(config: &Config) -> &'static [u8] {
    if config.needs_wasi() { VIRT_RECORD } else { VIRT }
}

/// The interface the virt stands in front of.
pub const WEBGPU: &str = "wasi:webgpu/webgpu@0.3.0-rc.2";

include!(concat!(env!("OUT_DIR"), "/features.rs"));

/// The virt's operator interface (`webgpu-virt run --stats` reads it).
pub const STATS: &str = "webgpu-virt:worlds/stats@0.1.0";

/// The virt's interface for a pod's tenant shims (`get-gpu-for`).
pub const TENANCY: &str = "webgpu-virt:worlds/tenancy@0.1.0";

/// The virt's interface naming a pod's guests, for the [`ROUTER`].
pub const GUESTS: &str = "webgpu-virt:worlds/guests@0.1.0";

/// A component importing the virt's `wasi:webgpu` and `tenancy` (the WIT world `tenant-shim`),
/// made by the build: a pod's tenant shims take their import types from it.
const SHIM_IMPORTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tenant-shim-imports.wasm"));

/// Why a composition could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlugError {
    /// The application is not a component.
    #[error("the application is not a WebAssembly component")]
    AppNotComponent,
    /// The virt is not a component.
    #[error("the virt is not a WebAssembly component")]
    VirtNotComponent,
    /// The application does not import `wasi:webgpu` at all.
    #[error("the application does not import {WEBGPU} (its imports: {imports})")]
    NoWebGpuImport {
        /// The application's imports, comma-separated.
        imports: String,
    },
    /// The application imports another version of `wasi:webgpu`.
    #[error("the application imports {found}, but this virt serves {WEBGPU}")]
    WebGpuVersion {
        /// What the application imports.
        found: String,
    },
    /// wac could not read or compose the components.
    #[error("composing failed: {0:#}")]
    Compose(anyhow::Error),
}

/// The names the outermost component imports.
pub fn imports(bytes: &[u8]) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    extern_names(bytes, false)
}

/// The names the outermost component exports.
pub fn exports(bytes: &[u8]) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    extern_names(bytes, true)
}

fn extern_names(bytes: &[u8], exports: bool) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    let mut names = Vec::new();
    // `parse_all` also yields the payloads of nested modules and components: count the depth.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 && !exports => {
                for import in reader {
                    names.push(import?.name.name.to_string());
                }
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 && exports => {
                for export in reader {
                    names.push(export?.name.name.to_string());
                }
            }
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(names)
}

/// Composes `virt` in front of `app`, as `webgpu-virt plug` does: the result is `app` with its
/// `wasi:webgpu` import served by the virt, whose own `wasi:webgpu` import becomes the result's.
/// It exports what `app` exports and, unless `app` already exports one (a virt is in it
/// already), the virt's [`STATS`]. Otherwise what [`wac_plug`] makes.
pub fn plug(app: &[u8], virt: &[u8]) -> Result<Vec<u8>, PlugError> {
    plug_with(app, virt, true)
}

/// Composes `virt` in front of `app` exactly as `wac plug --plug virt.wasm app.wasm` does
/// (through the same function, `wac_graph::plug`): the result exports only what `app` exports.
pub fn wac_plug(app: &[u8], virt: &[u8]) -> Result<Vec<u8>, PlugError> {
    plug_with(app, virt, false)
}

fn plug_with(app: &[u8], virt: &[u8], export_stats: bool) -> Result<Vec<u8>, PlugError> {
    if !wasmparser::Parser::is_component(app) {
        return Err(PlugError::AppNotComponent);
    }
    if !wasmparser::Parser::is_component(virt) {
        return Err(PlugError::VirtNotComponent);
    }
    let app_imports = imports(app).map_err(|e| PlugError::Compose(e.into()))?;
    if !app_imports.iter().any(|i| i == WEBGPU) {
        let other = app_imports.iter().find(|i| i.starts_with("wasi:webgpu/webgpu@"));
        return Err(match other {
            Some(found) => PlugError::WebGpuVersion { found: found.clone() },
            None => PlugError::NoWebGpuImport { imports: app_imports.join(", ") },
        });
    }
    let mut graph = CompositionGraph::new();
    let compose = |e: anyhow::Error| PlugError::Compose(e);
    let virt = Package::from_bytes("webgpu-virt:virt", None, virt.to_vec(), graph.types_mut()).map_err(compose)?;
    let virt = graph.register_package(virt).map_err(|e| compose(e.into()))?;
    let app = Package::from_bytes("webgpu-virt:app", None, app.to_vec(), graph.types_mut()).map_err(compose)?;
    let app = graph.register_package(app).map_err(|e| compose(e.into()))?;
    wac_graph::plug(&mut graph, vec![virt], app).map_err(|e| compose(e.into()))?;
    if export_stats && graph.get_export(STATS).is_none() && graph.types()[graph[virt].ty()].exports.contains_key(STATS) {
        let instance = graph
            .node_ids()
            .find(|&n| matches!(graph[n].kind(), NodeKind::Instantiation(_)) && graph[n].package() == Some(virt))
            .expect("wac_graph::plug instantiated the virt");
        let stats = graph.alias_instance_export(instance, STATS).map_err(|e| compose(e.into()))?;
        graph.export(stats, STATS).map_err(|e| compose(e.into()))?;
    }
    graph.encode(EncodeOptions::default()).map_err(|e| compose(e.into()))
}
