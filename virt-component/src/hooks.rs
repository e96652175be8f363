//! What the layers below ask of the policies above them. The virtual-device layer and the
//! bridge name no policy: they call these functions, which ask the one [`Policies`] registered
//! (the policy chain registers itself when it is built; before, and with none, nothing is
//! refused and nothing observed).

use crate::encode::Recorded;
use crate::ids::DeviceId;
use crate::{GpuAdapter, GpuDevice, exp};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

/// One value the virt keeps for the operator (the `stats` export).
#[derive(Clone)]
pub struct Counter {
    pub name: String,
    pub value: u64,
}

/// A future the policies answer with.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What the lower layers ask of the policies.
pub trait Policies {
    /// Whether `adapter` may make a device as `descriptor` asks (before it is made).
    fn admit_device(&self, adapter: &GpuAdapter, descriptor: Option<&exp::GpuDeviceDescriptor>) -> Result<(), exp::RequestDeviceError>;

    /// Sets up what the policies need for a device just made; an error refuses it after all.
    fn device_admitted<'a>(&'a self, adapter: &'a GpuAdapter, device: &'a GpuDevice) -> Answer<'a, Result<(), exp::RequestDeviceError>>;

    /// `device` is destroyed or lost: what it took is released.
    fn device_gone(&self, device: DeviceId);

    /// Nothing can reach `device` any more (its last object was dropped); it is still registered.
    fn device_retired(&self, device: DeviceId);

    /// A future that call number `call` returned resolved to `value`, or a stream it returned
    /// produced it.
    fn resolved(&self, call: u64, value: &dyn Recorded);

    /// The application dropped object `object`.
    fn dropped(&self, object: u64);

    /// The queue operation that call number `call` made ran `ns` nanoseconds on the GPU (as
    /// far as the virt could tell: `crate::device::gpu_time`).
    fn gpu_time(&self, call: u64, ns: u64);
}

/// Refuses nothing and observes nothing.
struct Nothing;

impl Policies for Nothing {
    fn admit_device(&self, _: &GpuAdapter, _: Option<&exp::GpuDeviceDescriptor>) -> Result<(), exp::RequestDeviceError> {
        Ok(())
    }

    fn device_admitted<'a>(&'a self, _: &'a GpuAdapter, _: &'a GpuDevice) -> Answer<'a, Result<(), exp::RequestDeviceError>> {
        Box::pin(async { Ok(()) })
    }

    fn device_gone(&self, _: DeviceId) {}

    fn device_retired(&self, _: DeviceId) {}

    fn resolved(&self, _: u64, _: &dyn Recorded) {}

    fn dropped(&self, _: u64) {}

    fn gpu_time(&self, _: u64, _: u64) {}
}

thread_local! {
    static POLICIES: Cell<&'static dyn Policies> = const { Cell::new(&Nothing) };
}

/// Makes `policies` the ones asked from now on.
pub fn register(policies: &'static dyn Policies) {
    POLICIES.set(policies);
}

fn policies() -> &'static dyn Policies {
    POLICIES.get()
}

pub fn admit_device(adapter: &GpuAdapter, descriptor: Option<&exp::GpuDeviceDescriptor>) -> Result<(), exp::RequestDeviceError> {
    policies().admit_device(adapter, descriptor)
}

pub async fn device_admitted(adapter: &GpuAdapter, device: &GpuDevice) -> Result<(), exp::RequestDeviceError> {
    policies().device_admitted(adapter, device).await
}

pub fn device_gone(device: DeviceId) {
    policies().device_gone(device);
}

pub fn device_retired(device: DeviceId) {
    policies().device_retired(device);
}

pub fn resolved(call: u64, value: &dyn Recorded) {
    policies().resolved(call, value);
}

pub fn dropped(object: u64) {
    policies().dropped(object);
}

pub fn gpu_time(call: u64, ns: u64) {
    policies().gpu_time(call, ns);
}
