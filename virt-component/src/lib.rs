//! webgpu-virt's component: it exports `wasi:webgpu/webgpu` to the application in front of which
//! it is composed and imports the runtime's, forwarding every call.
//!
//! The forwarding layer is generated from the WIT by `build.rs` (`forward.rs` in `OUT_DIR`):
//! one wrapper per resource holding the imported handle, one exported method per function.
//! `bridge` holds what is not mechanical: the pump that carries futures and streams from the
//! import side to the export side, and the resources the virt can also make itself.

mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "webgpu-virt:worlds/virt",
        generate_all,
        merge_structurally_equal_types: true,
    });
}

mod bridge;
mod mapping;

use bindings::exports::wasi::webgpu::webgpu as exp;
use bindings::wasi::webgpu::webgpu as imp;
pub use bridge::{GpuDeviceLostInfo, GpuError};

/// The component's export.
pub struct Virt;

include!(concat!(env!("OUT_DIR"), "/forward.rs"));

bindings::export!(Virt with_types_in bindings);
