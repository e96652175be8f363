//! What GPU objects cost in memory, exactly as the quota charges them: the figures of
//! `webgpu_virt_config::memory` (which the trace tools count with too), for the WIT's types.

use crate::WitName as _;
use crate::exp::{GpuTextureDescriptor, GpuTextureDimension, GpuTextureFormat};
pub use webgpu_virt_config::memory::{Block, query_set_bytes};
use webgpu_virt_config::memory::{Dimension, texture_bytes as bytes_of};

/// The block of a texture format. (Every format of the WIT has one: a test of the trace tools
/// checks the table against the WIT. One it lacked would be charged at the largest texel.)
pub fn block_of(format: GpuTextureFormat) -> Block {
    webgpu_virt_config::memory::block_of(format.wit_name()).unwrap_or(Block { width: 1, height: 1, bytes: 16 })
}

/// The bytes a texture of this descriptor takes (saturating at `u64::MAX`).
pub fn texture_bytes(descriptor: &GpuTextureDescriptor) -> u64 {
    let size = &descriptor.size;
    let dimension = match descriptor.dimension {
        Some(GpuTextureDimension::D1) => Dimension::D1,
        Some(GpuTextureDimension::D3) => Dimension::D3,
        Some(GpuTextureDimension::D2) | None => Dimension::D2,
    };
    bytes_of(
        block_of(descriptor.format),
        dimension,
        [size.width, size.height.unwrap_or(1), size.depth_or_array_layers.unwrap_or(1)],
        descriptor.mip_level_count.unwrap_or(1),
        descriptor.sample_count.unwrap_or(1),
    )
}
