//! The functions the quota takes over: creations charged before they are forwarded, destroys
//! that release, and the getters of refused objects.
//!
//! A refused creation does not reach the runtime. The application gets an object all the same,
//! as WebGPU hands out an invalid object: the virt makes it the smallest object of the same kind
//! and usage (a buffer of 0 bytes, a texture of one block, a query set of one query) and destroys
//! it at once, so that any later use of it is the runtime's validation error. Its getters answer
//! what the application asked for, and an out-of-memory error goes to the application's error
//! scope or uncaptured-error stream.

use super::{Charge, Held, Kind, OverQuota, TextureSize, memory};
use crate::{GpuBuffer, GpuDevice, GpuQuerySet, GpuTexture, exp, imp};

/// Reports a refusal to the application.
fn refuse(device: &GpuDevice, what: &str, over: OverQuota) {
    let OverQuota { asked, left } = over;
    let message = format!("webgpu-virt quota: {what} of {asked} bytes refused, {left} bytes of the memory quota left");
    crate::errors::report(device, exp::GpuErrorKind::OutOfMemoryError, message);
}

fn held<R>(charge: Option<Charge>, refused: Option<R>) -> Held<R> {
    Held { charge: std::cell::Cell::new(charge), refused }
}

pub fn create_buffer(device: &GpuDevice, descriptor: exp::GpuBufferDescriptor) -> exp::GpuBuffer {
    let (inner, quota) = match Charge::new(device.device, Kind::Buffer, descriptor.size) {
        Ok(charge) => (device.inner.create_buffer(&descriptor), held(charge, None)),
        Err(over) => {
            let stand_in = imp::GpuBufferDescriptor { size: 0, mapped_at_creation: None, ..descriptor.clone() };
            let inner = device.inner.create_buffer(&stand_in);
            inner.destroy();
            refuse(device, "a buffer", over);
            (inner, held(None, Some(descriptor.size)))
        }
    };
    exp::GpuBuffer::new(GpuBuffer { quota, ..GpuBuffer::wrap(inner, device.device) })
}

pub fn create_texture(device: &GpuDevice, descriptor: exp::GpuTextureDescriptor) -> exp::GpuTexture {
    let (inner, quota) = match Charge::new(device.device, Kind::Texture, memory::texture_bytes(&descriptor)) {
        Ok(charge) => (device.inner.create_texture(&descriptor), held(charge, None)),
        Err(over) => {
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
            refuse(device, "a texture", over);
            let size = &descriptor.size;
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
    exp::GpuTexture::new(GpuTexture { quota, ..GpuTexture::wrap(inner, device.device) })
}

pub fn create_query_set(
    device: &GpuDevice,
    descriptor: exp::GpuQuerySetDescriptor,
) -> Result<exp::GpuQuerySet, exp::CreateQuerySetError> {
    let (inner, quota) = match Charge::new(device.device, Kind::QuerySet, memory::query_set_bytes(descriptor.count)) {
        Ok(charge) => (device.inner.create_query_set(&descriptor)?, held(charge, None)),
        Err(over) => {
            let inner = device.inner.create_query_set(&imp::GpuQuerySetDescriptor { count: 1, ..descriptor.clone() })?;
            inner.destroy();
            refuse(device, "a query set", over);
            (inner, held(None, Some(descriptor.count)))
        }
    };
    Ok(exp::GpuQuerySet::new(GpuQuerySet { quota, ..GpuQuerySet::wrap(inner, device.device) }))
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
        self.inner.destroy();
    }
}

impl Destroy for GpuQuerySet {
    fn destroy_now(&self) {
        self.quota.release();
        self.inner.destroy();
    }
}

impl Destroy for GpuDevice {
    fn destroy_now(&self) {
        super::release_device(self.device);
        self.inner.destroy();
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
