//! Tenants: the guests a virt serves. A virt in front of one application serves one tenant,
//! number 0; a pod's virt serves one per guest, numbered in the pod's order.
//!
//! A component cannot see who calls it, so a tenant is known by the objects it holds. Each
//! guest's `get-gpu` comes from its tenant shim, which calls `tenancy.get-gpu-for` with the
//! guest's number; that `gpu` belongs to the tenant's *root*, a [`DeviceId`] standing for the
//! tenant before it has a device. Every object inherits the device id of the object that made
//! it, and a new device belongs to the tenant of the adapter it came from (the device layer
//! registers it here, [`enter`]), so every object leads back to one tenant, and a guest can
//! only ever reach its own.

use crate::ids::DeviceId;
use crate::{Gpu, config, exp};
use hashbrown::HashMap;
use std::cell::RefCell;
use webgpu_virt_config::Config;

thread_local! {
    /// The tenant of every root and every registered device; an id not here (`DeviceId::NONE`,
    /// what the plain `get-gpu` hands out, or a device gone) is tenant 0's.
    static TENANTS: RefCell<HashMap<DeviceId, u32>> = RefCell::new(HashMap::new());
    /// Each tenant's root, made at its first `get-gpu`.
    static ROOTS: RefCell<HashMap<u32, DeviceId>> = RefCell::new(HashMap::new());
}

/// The tenant an object of `device` belongs to.
pub fn of(device: DeviceId) -> u32 {
    TENANTS.with_borrow(|t| t.get(&device).copied().unwrap_or(0))
}

/// The policy of the tenant that objects of `device` belong to.
pub fn policy(device: DeviceId) -> &'static Config {
    config::of_tenant(of(device))
}

/// Device `device` belongs to `tenant` (from its making until it leaves the device registry).
pub fn enter(device: DeviceId, tenant: u32) {
    if tenant != 0 {
        TENANTS.with_borrow_mut(|t| t.insert(device, tenant));
    }
}

/// Device `device` is gone from the device registry.
pub fn leave(device: DeviceId) {
    TENANTS.with_borrow_mut(|t| t.remove(&device));
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
    tenant < config::tenants()
}

/// `gpu.request-adapter`: a `gpu` of a tenant the pod does not have finds no adapter.
pub async fn request_adapter(gpu: &Gpu, options: Option<exp::GpuRequestAdapterOptions>) -> Option<exp::GpuAdapter> {
    if !exists(of(gpu.device)) {
        return None;
    }
    gpu.forward_request_adapter(options).await
}
