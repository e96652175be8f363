//! The functions the quota takes over: creations charged before they are forwarded, destroys
//! that release, and the getters of refused objects.
//!
//! A refused creation does not reach the runtime. The application gets an object all the same,
//! as WebGPU hands out an invalid object: the virt makes the smallest object of the same kind
//! that no use can succeed with (a buffer of 0 bytes, a texture of one block or a query set of
//! one query, each destroyed at once; an empty shader module; a finished command encoder; an
//! empty bind group of an empty layout), so that any later use of it in a creation or a command
//! is the runtime's validation error. The virt marks it known invalid
//! (`crate::device::invalid`), so that work made with it (a submit, a write, a map) is answered
//! by the virt and never reaches the runtime. Its getters answer what the application asked for,
//! and the error (out-of-memory over the quota or a count cap, validation above a size cap) goes
//! to the application's error scope or uncaptured-error stream. None of these stand-ins makes an
//! error of its own. A creation on a lost virtual device of a shared host device gets a stand-in
//! too, silently; its buffer is one the runtime refused to make, where the runtime's error
//! scopes let the virt hide that error ([`buffer_stand_in`]).

use super::{Charge, Held, Kind, Refusal, TextureSize, memory};
use crate::device::Memory;
use crate::device::invalid::Flag;
use crate::device::queue::now_or_held;
use crate::device::timeline::HeldCall;
use std::rc::Rc;
use crate::{GpuBindGroup, GpuBuffer, GpuCommandEncoder, GpuDevice, GpuQuerySet, GpuShaderModule, GpuTexture, exp, imp};

/// The most queries a query set may hold in WebGPU.
const MAX_QUERIES: u32 = 4096;

/// Reports a refusal to the application and counts it.
fn refuse(device: &GpuDevice, refusal: Refusal) {
    super::refused(device.device);
    crate::device::scopes::report(device, refusal.kind, refusal.message);
}

/// Charges a creation, after the size caps that make it a validation error.
fn charge(device: &GpuDevice, kind: Kind, bytes: u64, too_large: Option<String>) -> Result<Option<Charge>, Refusal> {
    if let Some(why) = too_large {
        return Err(Refusal::validation(why));
    }
    Charge::new(device.device, kind, bytes)
}

/// Whether the runtime's own limits refuse this creation. Then it is forwarded: the runtime's
/// validation error is WebGPU's answer to a size above a limit (not the quota's out-of-memory),
/// and an invalid creation allocates nothing. Asked only when the quota refuses.
fn above_runtime_limits(device: &GpuDevice, above: impl FnOnce(&imp::GpuSupportedLimits) -> bool) -> bool {
    above(&device.inner.limits())
}

fn held<R>(charge: Option<Charge>, refused: Option<R>) -> Held<R> {
    Held { charge: std::cell::Cell::new(charge), refused }
}

/// Whether a creation of `bytes` on `device` may go to the runtime: its charge; else why not
/// (`None`: the device is a lost pooled one, on which WebGPU makes invalid objects silently).
fn admit(device: &GpuDevice, kind: Kind, bytes: u64, too_large: Option<String>) -> Result<Option<Charge>, Option<Refusal>> {
    if crate::device::is_lost(device.device) {
        return Err(None);
    }
    charge(device, kind, bytes, too_large).map_err(Some)
}

/// Reports a refusal, if there is one (a lost device's creations report nothing).
fn refuse_if(device: &GpuDevice, refusal: Option<Refusal>) {
    if let Some(refusal) = refusal {
        refuse(device, refusal);
    }
}

pub fn create_buffer(device: &GpuDevice, descriptor: exp::GpuBufferDescriptor) -> exp::GpuBuffer {
    let (descriptor, arguments) = crate::device::chunks::arguments(device, descriptor);
    let cap = crate::tenant::policy(device.device).max_buffer_size.map(|s| s.0);
    let too_large = cap.filter(|cap| descriptor.size > *cap).map(|cap| format!("a buffer of {} bytes is larger than maxBufferSize, {cap}", descriptor.size));
    let (inner, quota) = match admit(device, Kind::Buffer, descriptor.size, too_large) {
        Ok(charge) => (device.inner.create_buffer(&descriptor), held(charge, None)),
        Err(Some(_)) if above_runtime_limits(device, |l| descriptor.size > l.max_buffer_size()) => {
            (device.inner.create_buffer(&descriptor), held(None, None))
        }
        Err(refusal) => {
            let inner = buffer_stand_in(device, &descriptor, refusal.is_none());
            refuse_if(device, refusal);
            (inner, held(None, Some(descriptor.size)))
        }
    };
    let mut buffer = GpuBuffer::wrap(inner, device.device);
    if quota.refused.is_some() {
        buffer.invalid.mark();
        if descriptor.mapped_at_creation == Some(true) {
            buffer.mapping.map_locally(descriptor.size);
        }
    }
    crate::device::track(device.device, Memory::Buffer(Rc::downgrade(&buffer.inner)));
    buffer.quota = quota;
    buffer.arguments = arguments;
    exp::GpuBuffer::new(buffer)
}

/// A refused buffer's stand-in: of 0 bytes, destroyed. On a lost pooled device (`lost`) whose
/// runtime's error scopes pop at once, a buffer the runtime refused to make instead (larger than
/// its limit, with the application's usage), made inside error scopes of the virt's own:
/// WebGPU's objects of a lost device are invalid, and a command recorded with one makes its
/// encoder invalid then and there, where a destroyed buffer's is refused only at submission.
fn buffer_stand_in(device: &GpuDevice, descriptor: &imp::GpuBufferDescriptor, lost: bool) -> imp::GpuBuffer {
    if lost && crate::device::get(device.device).is_some_and(|v| v.host.instant_pops) {
        let size = device.inner.limits().max_buffer_size().saturating_add(4);
        let invalid = imp::GpuBufferDescriptor { size, mapped_at_creation: None, ..descriptor.clone() };
        return crate::device::scopes::caught(&device.inner, || device.inner.create_buffer(&invalid)).0;
    }
    let stand_in = imp::GpuBufferDescriptor { size: 0, mapped_at_creation: None, ..descriptor.clone() };
    let inner = device.inner.create_buffer(&stand_in);
    inner.destroy();
    inner
}

pub fn create_texture(device: &GpuDevice, descriptor: exp::GpuTextureDescriptor) -> exp::GpuTexture {
    let size = &descriptor.size;
    let extents = [size.width, size.height.unwrap_or(1), size.depth_or_array_layers.unwrap_or(1)];
    // The depth of a 3D texture is a dimension; a 2D texture's layers are not.
    let dimensions = if descriptor.dimension == Some(exp::GpuTextureDimension::D3) { 3 } else { 2 };
    let too_large = crate::tenant::policy(device.device).max_texture_dimension.and_then(|cap| {
        let largest = extents[..dimensions].iter().max().copied().unwrap_or(0);
        (largest > cap).then(|| format!("a texture dimension of {largest} is above maxTextureDimension, {cap}"))
    });
    let above = |l: &imp::GpuSupportedLimits| match descriptor.dimension {
        Some(exp::GpuTextureDimension::D1) => extents[0] > l.max_texture_dimension1_d(),
        Some(exp::GpuTextureDimension::D3) => extents.iter().any(|e| *e > l.max_texture_dimension3_d()),
        _ => extents[0].max(extents[1]) > l.max_texture_dimension2_d() || extents[2] > l.max_texture_array_layers(),
    };
    let (inner, quota) = match admit(device, Kind::Texture, memory::texture_bytes(&descriptor), too_large) {
        Ok(charge) => (device.inner.create_texture(&descriptor), held(charge, None)),
        Err(Some(_)) if above_runtime_limits(device, above) => (device.inner.create_texture(&descriptor), held(None, None)),
        Err(refusal) => {
            let block = memory::block_of(descriptor.format);
            let one_d = descriptor.dimension == Some(exp::GpuTextureDimension::D1);
            let stand_in = imp::GpuTextureDescriptor {
                size: imp::GpuExtent3D {
                    width: block.width,
                    height: Some(if one_d { 1 } else { block.height }),
                    depth_or_array_layers: Some(1),
                },
                mip_level_count: None,
                sample_count: None,
                texture_binding_view_dimension: None,
                ..descriptor.clone()
            };
            let inner = device.inner.create_texture(&stand_in);
            inner.destroy();
            refuse_if(device, refusal);
            let asked = TextureSize {
                width: size.width,
                height: size.height.unwrap_or(1),
                depth_or_array_layers: size.depth_or_array_layers.unwrap_or(1),
                mip_level_count: descriptor.mip_level_count.unwrap_or(1),
                sample_count: descriptor.sample_count.unwrap_or(1),
            };
            (inner, held(None, Some(asked)))
        }
    };
    let mut texture = GpuTexture::wrap(inner, device.device);
    if quota.refused.is_some() {
        texture.invalid.mark();
    }
    crate::device::track(device.device, Memory::Texture(Rc::downgrade(&texture.inner)));
    texture.quota = quota;
    exp::GpuTexture::new(texture)
}

pub fn create_query_set(
    device: &GpuDevice,
    descriptor: exp::GpuQuerySetDescriptor,
) -> Result<exp::GpuQuerySet, exp::CreateQuerySetError> {
    let (inner, quota) = match admit(device, Kind::QuerySet, memory::query_set_bytes(descriptor.count), None) {
        Ok(charge) => (device.inner.create_query_set(&descriptor)?, held(charge, None)),
        // WebGPU's own limit on queries in a set.
        Err(Some(_)) if descriptor.count > MAX_QUERIES => (device.inner.create_query_set(&descriptor)?, held(None, None)),
        Err(refusal) => {
            let inner = device.inner.create_query_set(&imp::GpuQuerySetDescriptor { count: 1, ..descriptor.clone() })?;
            inner.destroy();
            refuse_if(device, refusal);
            (inner, held(None, Some(descriptor.count)))
        }
    };
    let mut query_set = GpuQuerySet::wrap(inner, device.device);
    if quota.refused.is_some() {
        query_set.invalid.mark();
    }
    crate::device::track(device.device, Memory::QuerySet(Rc::downgrade(&query_set.inner)));
    query_set.quota = quota;
    Ok(exp::GpuQuerySet::new(query_set))
}

/// The quota and validity of a counted object of wrapper `$wrapper`, for [`counted`].
macro_rules! parts {
    ($wrapper:ty) => {
        |made| {
            let w = made.get::<$wrapper>();
            (&w.quota, &w.invalid)
        }
    };
}
pub(super) use parts;

/// A creation counted against its kind's cap (it takes no memory of its own): the descriptor
/// goes to `forward` and the object is charged, or, refused, to `stand_in` (whose object is
/// known invalid). `parts` gives the object's quota and validity.
pub(super) fn counted<D, E>(
    device: &GpuDevice,
    kind: Kind,
    descriptor: D,
    forward: impl FnOnce(D) -> E,
    parts: impl Fn(&E) -> (&Held<()>, &Flag),
    stand_in: impl FnOnce(D) -> E,
) -> E {
    match Charge::new(device.device, kind, 0) {
        Ok(charge) => {
            let made = forward(descriptor);
            parts(&made).0.charge.set(charge);
            made
        }
        Err(refusal) => {
            let made = stand_in(descriptor);
            parts(&made).1.mark();
            refuse(device, refusal);
            made
        }
    }
}

pub fn create_shader_module(device: &GpuDevice, descriptor: exp::GpuShaderModuleDescriptor) -> exp::GpuShaderModule {
    use crate::device::bound;
    use crate::device::chunks;
    let forward = |mut d: exp::GpuShaderModuleDescriptor| match bound::bounded(device, &d.code) {
        Some(code) if bound::twins(device) => {
            let label = d.label.clone();
            let module = device.forward_create_shader_module(d);
            chunks::remember(device, &module, &code);
            bound::twin(device, &module, code, label);
            module
        }
        Some(code) => {
            d.code = code;
            device.forward_create_shader_module(d)
        }
        None => {
            let code = chunks::on(device.device).then(|| d.code.clone());
            let module = device.forward_create_shader_module(d);
            if let Some(code) = code {
                chunks::remember(device, &module, &code);
            }
            module
        }
    };
    counted(device, Kind::ShaderModule, descriptor, forward, parts!(GpuShaderModule), |d| {
        // An empty module: any pipeline made with it lacks its entry point.
        let empty = imp::GpuShaderModuleDescriptor { code: String::new(), label: d.label, compilation_hints: None };
        exp::GpuShaderModule::new(GpuShaderModule::wrap(device.inner.create_shader_module(&empty), device.device))
    })
}

pub fn create_command_encoder(device: &GpuDevice, descriptor: Option<exp::GpuCommandEncoderDescriptor>) -> exp::GpuCommandEncoder {
    let forward = |d| device.forward_create_command_encoder(d);
    counted(device, Kind::CommandEncoder, descriptor, forward, parts!(GpuCommandEncoder), |d| {
        // A finished encoder: any further use of it is a validation error.
        let inner = device.inner.create_command_encoder(d.as_ref());
        drop(inner.finish(None));
        exp::GpuCommandEncoder::new(GpuCommandEncoder::wrap(inner, device.device))
    })
}

pub fn create_bind_group(device: &GpuDevice, descriptor: exp::GpuBindGroupDescriptor<'_>) -> exp::GpuBindGroup {
    let forward = |d| crate::device::chunks::create_bind_group(device, d);
    counted(device, Kind::BindGroup, descriptor, forward, parts!(GpuBindGroup), |d| {
        // An empty group of an empty layout: it fits no pipeline that uses its slot.
        let layout = device.inner.create_bind_group_layout(&imp::GpuBindGroupLayoutDescriptor { entries: Vec::new(), label: None });
        let empty = imp::GpuBindGroupDescriptor { layout: &layout, entries: Vec::new(), label: d.label };
        exp::GpuBindGroup::new(GpuBindGroup::wrap(device.inner.create_bind_group(&empty), device.device))
    })
}

pub fn destroy(this: &impl Destroy) {
    this.destroy_now();
}

/// The `destroy` of objects that hold memory or devices: release, then forward.
pub trait Destroy {
    fn destroy_now(&self);
}

impl Destroy for GpuTexture {
    fn destroy_now(&self) {
        self.quota.release();
        now_or_held(self.device, || self.inner.destroy(), || HeldCall::DestroyTexture(self.inner.clone()));
    }
}

impl Destroy for GpuQuerySet {
    fn destroy_now(&self) {
        self.quota.release();
        now_or_held(self.device, || self.inner.destroy(), || HeldCall::DestroyQuerySet(self.inner.clone()));
    }
}

pub fn size(buffer: &GpuBuffer) -> u64 {
    buffer.quota.refused.unwrap_or_else(|| buffer.inner.size())
}

pub fn count(query_set: &GpuQuerySet) -> u32 {
    query_set.quota.refused.unwrap_or_else(|| query_set.inner.count())
}

/// The getters of a texture's size.
macro_rules! texture_getters {
    ($($name:ident),*) => {$(
        pub fn $name(texture: &GpuTexture) -> u32 {
            texture.quota.refused.map_or_else(|| texture.inner.$name(), |asked| asked.$name)
        }
    )*};
}

texture_getters!(width, height, depth_or_array_layers, mip_level_count, sample_count);
