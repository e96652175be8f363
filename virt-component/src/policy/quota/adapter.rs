//! What the application is told of the adapter and its devices.
//!
//! Limits are the runtime's clamped by the quota (no buffer, and no binding of one, larger than
//! the memory quota or the buffer size cap; no texture dimension above its cap), so that a
//! well-behaved application adapts before it fails; a
//! `request-device` asking for more is refused as WebGPU refuses a limit above the adapter's
//! (`operation-error`). Denied features are absent from `has` and a `request-device` asking for
//! one is a `type-error`. Adapter info can be masked. Each device is watched for loss, which
//! releases its memory and objects.

use super::release_device;
use crate::policy::config;
use crate::{GpuAdapter, GpuAdapterInfo, GpuDevice, GpuSupportedFeatures, GpuSupportedLimits, RecordOptionGpuSize64};
use crate::{WitName, exp};

/// The most a buffer (or a binding of one) may be: the memory quota and the buffer size cap.
pub fn buffer_cap(c: &webgpu_virt_config::Config) -> Option<u64> {
    [c.max_memory, c.max_buffer_size].into_iter().flatten().map(|s| s.0).min()
}

/// The most a texture dimension may be.
fn dimension_cap(c: &webgpu_virt_config::Config) -> Option<u64> {
    c.max_texture_dimension.map(u64::from)
}

/// What caps a limit, from the configuration.
type Cap = fn(&webgpu_virt_config::Config) -> Option<u64>;

/// The limits the quota clamps: their names in `required-limits` (WebGPU's) and their caps.
const CLAMPED: [(&str, Cap); 6] = [
    ("maxBufferSize", buffer_cap),
    ("maxStorageBufferBindingSize", buffer_cap),
    ("maxUniformBufferBindingSize", buffer_cap),
    ("maxTextureDimension1D", dimension_cap),
    ("maxTextureDimension2D", dimension_cap),
    ("maxTextureDimension3D", dimension_cap),
];

/// A limit the runtime reports, clamped by a cap.
fn clamp(value: u64, cap: Cap) -> u64 {
    config(|c| cap(c).map_or(value, |cap| value.min(cap)))
}

pub fn max_buffer_size(limits: &GpuSupportedLimits) -> u64 {
    clamp(limits.inner.max_buffer_size(), buffer_cap)
}

pub fn max_storage_buffer_binding_size(limits: &GpuSupportedLimits) -> u64 {
    clamp(limits.inner.max_storage_buffer_binding_size(), buffer_cap)
}

pub fn max_uniform_buffer_binding_size(limits: &GpuSupportedLimits) -> u64 {
    clamp(limits.inner.max_uniform_buffer_binding_size(), buffer_cap)
}

/// The texture dimension limits, clamped.
macro_rules! dimensions {
    ($($name:ident),*) => {$(
        pub fn $name(limits: &GpuSupportedLimits) -> u32 {
            // A clamp of a u32 is a u32.
            clamp(limits.inner.$name().into(), dimension_cap) as u32
        }
    )*};
}

dimensions!(max_texture_dimension1_d, max_texture_dimension2_d, max_texture_dimension3_d);

fn denied(feature: &str) -> bool {
    config(|c| c.deny_features.iter().any(|d| d == feature))
}

pub fn has(features: &GpuSupportedFeatures, value: String) -> bool {
    !denied(&value) && features.inner.has(&value)
}

/// The adapter info's strings, masked when the configuration says so.
macro_rules! masked {
    ($($name:ident: $generic:literal),*) => {$(
        pub fn $name(info: &GpuAdapterInfo) -> String {
            match config(|c| c.mask_adapter_info) {
                true => $generic.into(),
                false => info.inner.$name(),
            }
        }
    )*};
}

masked!(vendor: "webgpu-virt", architecture: "", device: "virtual", description: "webgpu-virt virtual adapter");

fn refuse(kind: exp::RequestDeviceErrorKind, message: String) -> Result<exp::GpuDevice, exp::RequestDeviceError> {
    Err(exp::RequestDeviceError { kind, message: super::said(message) })
}

pub async fn request_device(
    adapter: &GpuAdapter,
    descriptor: Option<exp::GpuDeviceDescriptor>,
) -> Result<exp::GpuDevice, exp::RequestDeviceError> {
    if let Some(d) = &descriptor {
        if let Some(feature) = d.required_features.iter().flatten().find(|f| denied(f.wit_name())) {
            return refuse(exp::RequestDeviceErrorKind::TypeError, format!("feature `{}` is not available", feature.wit_name()));
        }
        if let Some(limits) = &d.required_limits {
            let limits = &limits.get::<RecordOptionGpuSize64>().inner;
            for (name, cap) in CLAMPED {
                if let Some(Some(asked)) = limits.get(name) {
                    let most = clamp(u64::MAX, cap);
                    if asked > most {
                        return refuse(exp::RequestDeviceErrorKind::OperationError, format!("`{name}` of {asked} is above the limit, {most}"));
                    }
                }
            }
        }
    }
    let device = adapter.forward_request_device(descriptor).await?;
    if let Err(why) = super::pipelines::prepare(adapter, device.get::<GpuDevice>()).await {
        let message = format!("the cap on pipelines needs a second device from the adapter, which it refused: {why}");
        return refuse(exp::RequestDeviceErrorKind::OperationError, message);
    }
    super::submissions::watch(device.get::<GpuDevice>());
    if super::counting() {
        // A lost device's objects hold no memory any more.
        let inner = device.get::<GpuDevice>();
        let (lost, id) = (inner.inner.lost(), inner.device);
        crate::bridge::spawn(async move {
            lost.await;
            release_device(id);
            super::submissions::forget(id);
        });
    }
    Ok(device)
}
