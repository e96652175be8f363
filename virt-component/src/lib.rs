//! webgpu-virt's component: it exports `wasi:webgpu/webgpu` to the application in front of which
//! it is composed and imports the runtime's, forwarding every call through the policy chain that
//! `webgpu-virt configure` baked into it.
//!
//! Layers, each using only those below it (the generated forwarding, here at the root, wires them):
//! 1. plumbing: `config`, `ids`, `encode`, `hooks` (what lower layers ask of policies), `bridge`, `console`, `clock`;
//! 2. the virtual-device layer: `tenant`, `device/`, `mapping`: it names no policy, only `hooks`;
//! 3. the policies: `policy/` registers the chain with `hooks`; `quota/`, `record/`, `calls`, `noop` each stand on layer 2 alone.
//!
//! The forwarding layer is generated from the WIT by `build.rs` (`forward.rs` in `OUT_DIR`):
//! one wrapper per resource holding the imported handle and its device, one exported method per
//! function, and the call description types the policies see ([`Func`], [`Args`], [`Ret`]).
//! Hand-written: `device` (what a device the application holds is: its host device, error
//! scopes, queue timeline, sharing of a host device by a pod's guests), `tenant` (a pod's
//! guests), `policy` (the chain and its policies, one folder each), `config` (the baked
//! configuration), `bridge` (the pump that carries futures and streams across, and the
//! resources the virt can make itself), `mapping` (buffer mapping kept in WebGPU's order).

mod bindings {
    #[cfg(not(feature = "record"))]
    wit_bindgen::generate!({
        path: "../wit",
        world: "webgpu-virt:worlds/virt",
        generate_all,
        merge_structurally_equal_types: true,
    });
    // The WASI build (feature `record`) also imports `wasi:filesystem@0.2` to record, stderr
    // (0.2) to say why it cannot and to log errors, and the monotonic clock (0.3) to measure
    // GPU time. Its WASI 0.2 packages live apart, in `wit/p2/`, each pushed on its own (in the
    // order of their dependencies) after our worlds.
    #[cfg(feature = "record")]
    wit_bindgen::generate!({
        inline: "
            package webgpu-virt:recording;

            world virt-record {
                include webgpu-virt:worlds/virt@0.1.0;
                import wasi:filesystem/preopens@0.2.12;
                import wasi:filesystem/types@0.2.12;
                import wasi:cli/stderr@0.2.12;
                import wasi:clocks/monotonic-clock@0.3.0;
            }
        ",
        path: [
            "../wit",
            "../wit/p2/io.wit",
            "../wit/p2/clocks.wit",
            "../wit/p2/filesystem.wit",
            "../wit/p2/random.wit",
            "../wit/p2/sockets.wit",
            "../wit/p2/cli.wit",
        ],
        world: "webgpu-virt:recording/virt-record",
        generate_all,
        merge_structurally_equal_types: true,
    });
}

mod bridge;
mod clock;
mod config;
mod console;
mod device;
mod encode;
mod hooks;
mod ids;
mod mapping;
mod policy;
mod tenant;

use bindings::exports::wasi::webgpu::webgpu as exp;
use bindings::exports::webgpu_virt::worlds::{guests, stats, tenancy};
use bindings::wasi::webgpu::webgpu as imp;
pub use bridge::{GpuDeviceLostInfo, GpuError};

/// The component's export.
pub struct Virt;

/// An enum case's name in the WIT (implemented by the generator for every enum).
pub trait WitName {
    fn wit_name(&self) -> &'static str;
}

include!(concat!(env!("OUT_DIR"), "/forward.rs"));

/// After a call that the policies saw: they see its result, and with `log-stats` the counters
/// go to the operator's console if a limit was hit.
fn after(device: ids::DeviceId, call: u64, ret: &Ret<'_>) {
    policy::after(device, call, ret);
    if let Some(hit) = console::stats_due() {
        console::write(&format!("webgpu-virt: stats, after {hit}:"));
        for c in <Virt as stats::Guest>::counters() {
            console::write(&format!("webgpu-virt:   {} {}  {}", c.policy, c.name, c.value));
        }
    }
}

impl stats::Guest for Virt {
    fn counters() -> Vec<stats::Counter> {
        let counters = policy::counters().into_iter().chain(device::scopes::counters()).chain(device::gpu_time::counters());
        counters.map(|(policy, c)| stats::Counter { policy: policy.into(), name: c.name, value: c.value }).collect()
    }

    async fn flush() {
        // The GPU time of the last submissions, for the stats and the trace.
        device::host::settle().await;
        policy::flush();
    }
}

impl tenancy::Guest for Virt {
    /// The `gpu` of a tenant, shown to the policies as a `get-gpu` of its.
    fn get_gpu_for(tenant: u32) -> exp::Gpu {
        let device = tenant::root(tenant);
        let policy = policy::active();
        let call = if policy { policy::before(device, &Args::GetGpu) } else { 0 };
        let gpu = exp::Gpu::new(Gpu::wrap(imp::get_gpu(), device));
        if policy {
            after(device, call, &Ret::GetGpu(&gpu));
        }
        gpu
    }
}

impl guests::Guest for Virt {
    /// The pod's guests by number, for the router in front of a pod of services.
    fn names() -> Vec<String> {
        config::pod().guests.iter().map(|g| g.name.clone()).collect()
    }
}

bindings::export!(Virt with_types_in bindings);
