//! Tenants: the guests a virt serves. A virt in front of one application serves one tenant,
//! number 0; a pod's virt serves one per guest, numbered in the pod's order.
//!
//! A component cannot see who calls it, so a tenant is known by the objects it holds. Each
//! guest's `get-gpu` comes from its tenant shim, which calls `tenancy.get-gpu-for` with the
//! guest's number; that `gpu` belongs to the tenant's *root*, a [`DeviceId`] standing for the
//! tenant before it has a device. Every object inherits the device id of the object that made
//! it, and a new device belongs to the tenant of the adapter it came from (its
//! `crate::device::VirtualDevice` keeps it), so every object leads back to one tenant, and a
//! guest can only ever reach its own.

use crate::policy::DeviceId;
use crate::{Gpu, exp};
use hashbrown::HashMap;
use std::cell::RefCell;

thread_local! {
    /// The tenant of every root; an id neither here nor a device's (`DeviceId::NONE`, what the
    /// plain `get-gpu` hands out) is tenant 0's.
    static TENANTS: RefCell<HashMap<DeviceId, u32>> = RefCell::new(HashMap::new());
    /// Each tenant's root, made at its first `get-gpu`.
    static ROOTS: RefCell<HashMap<u32, DeviceId>> = RefCell::new(HashMap::new());
}

/// The tenant an object of `device` belongs to.
pub fn of(device: DeviceId) -> u32 {
    match crate::device::get(device) {
        Some(v) => v.tenant,
        None => TENANTS.with_borrow(|t| t.get(&device).copied().unwrap_or(0)),
    }
}

/// The root id of `tenant`: what its `gpu` and adapters carry.
pub fn root(tenant: u32) -> DeviceId {
    if tenant == 0 {
        return DeviceId::NONE;
    }
    ROOTS.with_borrow_mut(|roots| {
        *roots.entry(tenant).or_insert_with(|| {
            let id = DeviceId::fresh();
            TENANTS.with_borrow_mut(|t| t.insert(id, tenant));
            id
        })
    })
}

/// Whether the configuration has a tenant of this number.
pub fn exists(tenant: u32) -> bool {
    tenant < crate::policy::tenants()
}

/// `tenancy.get-gpu-for`: the `gpu` of a tenant, shown to the policies as a `get-gpu` of its.
pub fn get_gpu_for(tenant: u32) -> exp::Gpu {
    let device = root(tenant);
    let policy = crate::policy::active();
    let call = if policy { crate::policy::before(device, &crate::Args::GetGpu) } else { 0 };
    let gpu = exp::Gpu::new(Gpu::wrap(crate::imp::get_gpu(), device));
    if policy {
        crate::policy::after(device, call, &crate::Ret::GetGpu(&gpu));
    }
    gpu
}

/// `gpu.request-adapter`: a `gpu` of a tenant the pod does not have finds no adapter.
pub async fn request_adapter(gpu: &Gpu, options: Option<exp::GpuRequestAdapterOptions>) -> Option<exp::GpuAdapter> {
    if !exists(of(gpu.device)) {
        return None;
    }
    gpu.forward_request_adapter(options).await
}
