//! Pods: several guests composed with one shared virt, each served as a tenant of its own.
//!
//! ```text
//!               ┌────────────── pod.wasm ───────────────┐
//!   guest a ──▶ shim a (get-gpu = get-gpu-for(0)) ─┐    │
//!      │                                           ├──▶ virt ──▶ runtime's wasi:webgpu
//!      └──── every other call, one hop ────────────┤    │
//!   guest b ──▶ shim b (get-gpu = get-gpu-for(1)) ─┘    │
//!               └───────────────────────────────────────┘
//! ```
//!
//! Each guest's `wasi:webgpu/webgpu` import is an instance of its tenant shim ([`crate::shim`]),
//! whose items are the virt's own but for `get-gpu`. A pod's guests are all commands or all
//! services:
//! - a pod of commands exports each guest's `wasi:cli/run@0.3.0` under the guest's name;
//! - a pod of services is a service: it exports `wasi:http/handler@0.3.0`, the
//!   [`ROUTER`](crate::ROUTER)'s, which hands a request for `/NAME/...` to guest NAME's handler.
//!
//! It also exports every other export of the guests under its own name, and the virt's
//! [`STATS`](crate::STATS). It imports what the guests import, and the runtime's `wasi:webgpu`
//! for the virt.

use crate::{GUESTS, ROUTER, STATS, TENANCY, WEBGPU, imports};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

/// The interface a pod runs each command guest by.
pub const RUN: &str = "wasi:cli/run@0.3.0";

/// The interface a pod serves each service guest by (what `webgpu-virt serve` serves).
pub const HANDLER: &str = host_test::serve::HANDLER;

/// How many services the [`ROUTER`](crate::ROUTER) routes to: its imports `guest-0` to `guest-15`.
pub const ROUTES: usize = 16;

/// One guest of a pod: its name and its component's bytes.
pub struct Guest<'a> {
    /// Its name: the pod exports its `wasi:cli/run` under it (a command's), or serves it under
    /// `/NAME/` (a service's).
    pub name: &'a str,
    /// Its component.
    pub component: &'a [u8],
}

/// Why a pod could not be made. Each names the guest at fault.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// No guests were given.
    #[error("a pod needs at least one guest (--guest NAME=APP.wasm)")]
    NoGuests,
    /// A name that cannot name an export.
    #[error("`{0}` is not a valid guest name: use lowercase words of letters and digits joined by single dashes, starting with a letter (`app-a`)")]
    InvalidName(String),
    /// Two guests of one name.
    #[error("the guest name `{0}` is given twice")]
    DuplicateName(String),
    /// A guest that is not a component.
    #[error("guest `{0}` is not a WebAssembly component")]
    NotComponent(String),
    /// A guest without a `wasi:webgpu` import: there is nothing to share with it.
    #[error("guest `{name}` does not import {WEBGPU} (its imports: {imports})")]
    NoWebGpu {
        /// The guest.
        name: String,
        /// Its imports, comma-separated.
        imports: String,
    },
    /// A guest that imports the virt's own interfaces, which only the pod wires.
    #[error("guest `{name}` imports {import}, which belongs to the virt")]
    VirtImport {
        /// The guest.
        name: String,
        /// The import.
        import: String,
    },
    /// A guest that a pod can neither run nor serve.
    #[error("guest `{0}` exports neither {RUN} nor {HANDLER}, so a pod can neither run nor serve it")]
    NoRun(String),
    /// A command and a service in one pod, which is either run or served.
    #[error("guest `{command}` is a command (it exports {RUN}) and guest `{service}` a service (it exports {HANDLER}): a pod's guests are all commands or all services")]
    Mixed {
        /// A command guest.
        command: String,
        /// A service guest.
        service: String,
    },
    /// More services than the router has imports for.
    #[error("a pod serves at most {ROUTES} services, and {0} were given")]
    TooManyServices(usize),
    /// Two guests export one name (or a guest's export has another guest's name).
    #[error("guests `{first}` and `{second}` both export `{export}`")]
    DuplicateExport {
        /// The guest that exported it first.
        first: String,
        /// The other.
        second: String,
        /// The name.
        export: String,
    },
    /// The virt is not one of ours.
    #[error("the virt does not export {TENANCY}: it cannot serve a pod")]
    NoTenancy,
    /// The virt cannot name a pod's guests for the router.
    #[error("the virt does not export {GUESTS}: it cannot serve a pod of services")]
    NoGuestNames,
    /// A shim could not be made.
    #[error(transparent)]
    Shim(#[from] crate::shim::ShimError),
    /// wac could not read or compose the components.
    #[error("composing guest `{guest}` failed: {error:#}")]
    Compose {
        /// The guest being composed, or `virt`.
        guest: String,
        /// Why.
        error: anyhow::Error,
    },
}

/// Whether `name` can name a guest: a kebab-case word, as the component model names exports.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && name.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Composes `guests` with `virt` (configured for them: see [`crate::Config::guests`]) into a
/// pod, as `webgpu-virt plug --guest` does. Guest number `i` of the pod is tenant `i` of the
/// virt.
pub fn plug_pod(guests: &[Guest<'_>], virt: &[u8]) -> Result<Vec<u8>, PodError> {
    let services = check(guests)?;
    let mut graph = CompositionGraph::new();
    let register = |graph: &mut CompositionGraph, name: &str, bytes: Vec<u8>, guest: &str| -> Result<_, PodError> {
        let package = Package::from_bytes(name, None, bytes, graph.types_mut()).map_err(failed(guest))?;
        graph.register_package(package).map_err(|e| failed(guest)(e.into()))
    };
    let virt_package = register(&mut graph, "webgpu-virt:virt", virt.to_vec(), "virt")?;
    if !graph.types()[graph[virt_package].ty()].exports.contains_key(TENANCY) {
        return Err(PodError::NoTenancy);
    }
    let virt = graph.instantiate(virt_package);
    let alias = |graph: &mut CompositionGraph, node: NodeId, name: &str, guest: &str| {
        graph.alias_instance_export(node, name).map_err(|e| failed(guest)(e.into()))
    };
    let webgpu = alias(&mut graph, virt, WEBGPU, "virt")?;
    let tenancy = alias(&mut graph, virt, TENANCY, "virt")?;
    if services && !graph.types()[graph[virt_package].ty()].exports.contains_key(GUESTS) {
        return Err(PodError::NoGuestNames);
    }
    // Who exports what, so that two guests' exports never meet under one name.
    let mut exported: Vec<(String, String)> = guests.iter().map(|g| (g.name.to_string(), g.name.to_string())).collect();
    // The services' handlers, in the pod's order, for the router.
    let mut handlers = Vec::new();
    for (tenant, guest) in guests.iter().enumerate() {
        let name = guest.name;
        let shim = shim(tenant as u32)?;
        let shim = register(&mut graph, &format!("webgpu-virt:shim-{name}"), shim, name)?;
        let shim = graph.instantiate(shim);
        graph.set_instantiation_argument(shim, WEBGPU, webgpu).map_err(|e| failed(name)(e.into()))?;
        graph.set_instantiation_argument(shim, TENANCY, tenancy).map_err(|e| failed(name)(e.into()))?;
        let package = register(&mut graph, &format!("pod:{name}"), guest.component.to_vec(), name)?;
        let exports: Vec<String> = graph.types()[graph[package].ty()].exports.keys().cloned().collect();
        let app = graph.instantiate(package);
        graph.set_instantiation_argument(app, WEBGPU, shim).map_err(|e| failed(name)(e.into()))?;
        for export in exports {
            let node = alias(&mut graph, app, &export, name)?;
            if services && export == HANDLER {
                handlers.push(node);
                continue;
            }
            let public = if export == RUN { name.to_string() } else { export };
            if let Some((first, _)) = exported.iter().find(|(owner, e)| *e == public && owner != name) {
                return Err(PodError::DuplicateExport { first: first.clone(), second: name.to_string(), export: public });
            }
            exported.push((name.to_string(), public.clone()));
            graph.export(node, &public).map_err(|e| failed(name)(e.into()))?;
        }
    }
    if services {
        let router = register(&mut graph, "webgpu-virt:router", ROUTER.to_vec(), "router")?;
        let router = graph.instantiate(router);
        let names = alias(&mut graph, virt, GUESTS, "virt")?;
        graph.set_instantiation_argument(router, GUESTS, names).map_err(|e| failed("router")(e.into()))?;
        // The imports past the pod's guests are never called: guest 0's handler fills them.
        for slot in 0..ROUTES {
            let handler = handlers.get(slot).unwrap_or(&handlers[0]);
            graph.set_instantiation_argument(router, &format!("guest-{slot}"), *handler).map_err(|e| failed("router")(e.into()))?;
        }
        let handler = alias(&mut graph, router, HANDLER, "router")?;
        graph.export(handler, HANDLER).map_err(|e| failed("router")(e.into()))?;
    }
    if graph.types()[graph[virt_package].ty()].exports.contains_key(STATS) {
        let stats = alias(&mut graph, virt, STATS, "virt")?;
        graph.export(stats, STATS).map_err(|e| failed("virt")(e.into()))?;
    }
    graph.encode(EncodeOptions::default()).map_err(|e| failed("virt")(e.into()))
}

/// The tenant shim of guest number `tenant`: a component importing the virt's `wasi:webgpu`
/// and `tenancy` and exporting `wasi:webgpu` for that guest (see [`crate::shim`]). An instance of
/// it is what a pod passes to the guest as its `wasi:webgpu/webgpu`.
pub fn shim(tenant: u32) -> Result<Vec<u8>, crate::shim::ShimError> {
    crate::shim::shim(crate::SHIM_IMPORTS, WEBGPU, TENANCY, tenant)
}

/// What to say when composing `guest` fails.
fn failed(guest: &str) -> impl FnOnce(anyhow::Error) -> PodError {
    let guest = guest.to_string();
    move |error| PodError::Compose { guest, error }
}

/// Checks the names of a pod's guests: at least one, each valid, none twice.
pub fn check_names(names: &[&str]) -> Result<(), PodError> {
    if names.is_empty() {
        return Err(PodError::NoGuests);
    }
    for (i, name) in names.iter().enumerate() {
        if !valid_name(name) {
            return Err(PodError::InvalidName(name.to_string()));
        }
        if names[..i].contains(name) {
            return Err(PodError::DuplicateName(name.to_string()));
        }
    }
    Ok(())
}

/// Checks the guests before composing: names, imports, exports. Whether they are services.
fn check(guests: &[Guest<'_>]) -> Result<bool, PodError> {
    check_names(&guests.iter().map(|g| g.name).collect::<Vec<_>>())?;
    let (mut command, mut service) = (None, None);
    for guest in guests {
        let name = guest.name.to_string();
        if !wasmparser::Parser::is_component(guest.component) {
            return Err(PodError::NotComponent(name));
        }
        let guest_imports = imports(guest.component).map_err(|e| PodError::Compose { guest: name.clone(), error: e.into() })?;
        if !guest_imports.iter().any(|i| i == WEBGPU) {
            return Err(PodError::NoWebGpu { name, imports: guest_imports.join(", ") });
        }
        if let Some(import) = guest_imports.iter().find(|i| i.starts_with("webgpu-virt:")) {
            return Err(PodError::VirtImport { name, import: import.clone() });
        }
        let exports = crate::exports(guest.component).map_err(|e| PodError::Compose { guest: name.clone(), error: e.into() })?;
        if exports.iter().any(|e| e == HANDLER) {
            service.get_or_insert(name);
        } else if exports.iter().any(|e| e == RUN) {
            command.get_or_insert(name);
        } else {
            return Err(PodError::NoRun(name));
        }
    }
    match (command, service) {
        (Some(command), Some(service)) => Err(PodError::Mixed { command, service }),
        (None, Some(_)) if guests.len() > ROUTES => Err(PodError::TooManyServices(guests.len())),
        (_, service) => Ok(service.is_some()),
    }
}

/// Why a pod's configuration is not right.
#[derive(Debug, thiserror::Error)]
pub enum PodConfigError {
    /// `[guests.NAME]` for a guest the pod does not have.
    #[error("the configuration has a policy for guest `{0}`, which is not one of the pod's guests")]
    UnknownGuest(String),
    /// A setting of the whole pod given for one guest.
    #[error("`{setting}` is set for the whole pod, not for one guest (found in the policy of guest `{guest}`)")]
    PodSetting {
        /// The guest whose policy has it.
        guest: String,
        /// The setting's key.
        setting: &'static str,
    },
}

/// The configuration of a pod of guests named `names` (in the pod's order), from `config`: a
/// guest's policy is its `[guests.NAME]` table if `config` has one, else the top-level policy;
/// recording, the call counter, the no-op policy and the pool's caps are the pod's.
pub fn pod_config(config: &crate::Config, names: &[&str]) -> Result<crate::Config, PodConfigError> {
    if let Some(stranger) = config.guests.iter().find(|g| !names.contains(&g.name.as_str())) {
        return Err(PodConfigError::UnknownGuest(stranger.name.clone()));
    }
    for guest in &config.guests {
        let p = &guest.policy;
        let pod_wide = [
            ("record", p.record.is_some()),
            ("count-calls", p.count_calls),
            ("noop", p.noop),
            ("log-errors", p.log_errors),
            ("log-stats", p.log_stats),
            ("gpu-time", p.gpu_time),
            ("pool", p.pool != crate::Pool::default()),
            ("guests", !p.guests.is_empty()),
        ];
        if let Some((setting, _)) = pod_wide.into_iter().find(|(_, set)| *set) {
            return Err(PodConfigError::PodSetting { guest: guest.name.clone(), setting });
        }
    }
    // The policy of a guest without a table of its own: the top level's, less the pod's own.
    let shared = crate::Config {
        record: None,
        record_batched: false,
        count_calls: false,
        noop: false,
        log_errors: false,
        log_stats: false,
        gpu_time: false,
        pool: crate::Pool::default(),
        guests: Vec::new(),
        ..config.clone()
    };
    let guests = names
        .iter()
        .map(|name| {
            let policy = config.guests.iter().find(|g| g.name == *name).map_or_else(|| shared.clone(), |g| g.policy.clone());
            crate::GuestPolicy { name: name.to_string(), policy }
        })
        .collect();
    Ok(crate::Config {
        record: config.record.clone(),
        record_batched: config.record_batched,
        count_calls: config.count_calls,
        noop: config.noop,
        log_errors: config.log_errors,
        log_stats: config.log_stats,
        gpu_time: config.gpu_time,
        pool: config.pool.clone(),
        guests,
        ..crate::Config::default()
    })
}
