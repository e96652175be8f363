//! What the application is told of the adapter and its devices.
//!
//! Limits are the runtime's clamped by the quota (no buffer, and no binding of one, larger than
//! the memory quota or the buffer size cap; no texture dimension above its cap), so that a
//! well-behaved application adapts before it fails; a
//! `request-device` asking for more is refused as WebGPU refuses a limit above the adapter's
//! (`operation-error`). Denied features are absent from `has` and a `request-device` asking for
//! one is a `type-error`. Adapter info can be masked.

use crate::ids::DeviceId;
use crate::tenant;
use webgpu_virt_config::{Config, Pool};
use crate::{GpuAdapter, GpuAdapterInfo, GpuDevice, GpuSupportedFeatures, GpuSupportedLimits, RecordOptionGpuSize64};
use crate::{WitName, exp};

/// The most a buffer (or a binding of one) may be: the memory quotas (the guest's and the
/// pool's) and the buffer size cap.
pub fn buffer_cap(c: &Config, pool: &Pool) -> Option<u64> {
    [c.max_memory, c.max_buffer_size, pool.max_memory].into_iter().flatten().map(|s| s.0).min()
}

/// The most a texture dimension may be.
fn dimension_cap(c: &Config, _: &Pool) -> Option<u64> {
    c.max_texture_dimension.map(u64::from)
}

/// What caps a limit, from a tenant's policy and the pool's.
type Cap = fn(&Config, &Pool) -> Option<u64>;

/// The limits the quota clamps: their names in `required-limits` (WebGPU's) and their caps.
const CLAMPED: [(&str, Cap); 6] = [
    ("maxBufferSize", buffer_cap),
    ("maxStorageBufferBindingSize", buffer_cap),
    ("maxUniformBufferBindingSize", buffer_cap),
    ("maxTextureDimension1D", dimension_cap),
    ("maxTextureDimension2D", dimension_cap),
    ("maxTextureDimension3D", dimension_cap),
];

/// A limit the runtime reports to the tenant of `device`, clamped by a cap.
fn clamp(device: DeviceId, value: u64, cap: Cap) -> u64 {
    cap(tenant::policy(device), &crate::config::pod().pool).map_or(value, |cap| value.min(cap))
}

pub fn max_buffer_size(limits: &GpuSupportedLimits) -> u64 {
    clamp(limits.device, limits.inner.max_buffer_size(), buffer_cap)
}

pub fn max_storage_buffer_binding_size(limits: &GpuSupportedLimits) -> u64 {
    clamp(limits.device, limits.inner.max_storage_buffer_binding_size(), buffer_cap)
}

pub fn max_uniform_buffer_binding_size(limits: &GpuSupportedLimits) -> u64 {
    clamp(limits.device, limits.inner.max_uniform_buffer_binding_size(), buffer_cap)
}

/// The texture dimension limits, clamped.
macro_rules! dimensions {
    ($($name:ident),*) => {$(
        pub fn $name(limits: &GpuSupportedLimits) -> u32 {
            // A clamp of a u32 is a u32.
            clamp(limits.device, limits.inner.$name().into(), dimension_cap) as u32
        }
    )*};
}

dimensions!(max_texture_dimension1_d, max_texture_dimension2_d, max_texture_dimension3_d);

fn denied(device: DeviceId, feature: &str) -> bool {
    tenant::policy(device).deny_features.iter().any(|d| d == feature)
}

pub fn has(features: &GpuSupportedFeatures, value: String) -> bool {
    !denied(features.device, &value) && features.inner.has(&value)
}

/// The adapter info's strings, masked when the configuration says so.
macro_rules! masked {
    ($($name:ident: $generic:literal),*) => {$(
        pub fn $name(info: &GpuAdapterInfo) -> String {
            match tenant::policy(info.device).mask_adapter_info {
                true => $generic.into(),
                false => info.inner.$name(),
            }
        }
    )*};
}

masked!(vendor: "webgpu-virt", architecture: "", device: "virtual", description: "webgpu-virt virtual adapter");

fn refuse<T>(kind: exp::RequestDeviceErrorKind, message: String) -> Result<T, exp::RequestDeviceError> {
    Err(exp::RequestDeviceError { kind, message: super::said(message) })
}

/// What `request-device` checks before a device is made: no denied feature, no limit above
/// what the quota allows.
pub fn admit(adapter: &GpuAdapter, descriptor: Option<&exp::GpuDeviceDescriptor>) -> Result<(), exp::RequestDeviceError> {
    let Some(d) = descriptor else { return Ok(()) };
    if let Some(feature) = d.required_features.iter().flatten().find(|f| denied(adapter.device, f.wit_name())) {
        return refuse(exp::RequestDeviceErrorKind::TypeError, format!("feature `{}` is not available", feature.wit_name()));
    }
    if let Some(limits) = &d.required_limits {
        let limits = &limits.get::<RecordOptionGpuSize64>().inner;
        for (name, cap) in CLAMPED {
            if let Some(Some(asked)) = limits.get(name) {
                let most = clamp(adapter.device, u64::MAX, cap);
                if asked > most {
                    return refuse(exp::RequestDeviceErrorKind::OperationError, format!("`{name}` of {asked} is above the limit, {most}"));
                }
            }
        }
    }
    Ok(())
}

/// What the quota sets up for a device just made: its graveyard.
pub async fn admitted(adapter: &GpuAdapter, device: &GpuDevice) -> Result<(), exp::RequestDeviceError> {
    if let Err(why) = super::pipelines::prepare(adapter, device).await {
        let message = format!("the cap on pipelines needs a second device from the adapter, which it refused: {why}");
        return refuse(exp::RequestDeviceErrorKind::OperationError, message);
    }
    Ok(())
}
