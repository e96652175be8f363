//! Loop budgets: the shader modules of a guest with a loop budget (`max-loop-iterations`, or a
//! time limit) are compiled into pipelines with every loop bounded (`webgpu_virt_bound`), so
//! that work the virt forwards always ends, a lost device's too: a lost device does not stop
//! work already submitted, and on a shared host device the other guests' work waits behind it.
//!
//! Where the runtime's `pop-error-scope` completes at once (the host device says so when it is
//! made), the application's module is made as it asked, and everything it can see of it is that
//! module's: its errors, its compilation info, its label. Beside it the virt makes a bounded
//! twin inside error scopes of its own, whose errors (it has some only when the original has the
//! same) nobody sees; the generated forwarding passes the twin wherever a pipeline names the
//! module ([`GpuShaderModule::compiled`]). On a runtime whose pops complete later, a synchronous
//! call could not close such scopes: the module is made from the bounded code alone, and the
//! messages of an invalid one may quote it. Either way, a policy sees the application's code (a
//! trace records it). A source the rewrite cannot follow does not compile, and is left as it is.

use super::registry;
use super::scopes::caught;
use crate::{GpuDevice, GpuShaderModule, exp, imp, tenant};

impl GpuShaderModule {
    /// What a pipeline compiles: the bounded twin, if the module has one.
    pub fn compiled(&self) -> &imp::GpuShaderModule {
        self.bounded.get().unwrap_or(&self.inner)
    }
}

/// `code` with every loop bounded, if `device`'s guest has a loop budget and the code has loops.
pub fn bounded(device: &GpuDevice, code: &str) -> Option<String> {
    let budget = tenant::policy(device.device).loop_budget()?;
    webgpu_virt_bound::bound(code, budget).ok().filter(|b| b.loops > 0).map(|b| b.code)
}

/// Whether `device`'s bounded modules can be twins of the application's (its runtime's pops
/// complete at once).
pub fn twins(device: &GpuDevice) -> bool {
    registry::get(device.device).is_some_and(|v| v.host.instant_pops)
}

/// Makes `module`'s twin from `code` (bounded) and `label`, its errors caught and dropped.
pub fn twin(device: &GpuDevice, module: &exp::GpuShaderModule, code: String, label: Option<String>) {
    // What the scopes catch is the original's error again: dropped.
    let (twin, _) = caught(&device.inner, || device.inner.create_shader_module(&imp::GpuShaderModuleDescriptor { code, label, compilation_hints: None }));
    let _ = module.get::<GpuShaderModule>().bounded.set(twin);
}
