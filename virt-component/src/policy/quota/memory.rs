//! What GPU objects cost in memory, exactly as the quota charges them.
//!
//! A buffer costs its size; a query set `count x 8`; a texture, per mip level, its blocks times
//! the bytes of a block over all its aspects, times the array layers (2D) or the level's depth
//! (3D, halving per level), times the sample count. Formats whose size is up to the
//! implementation are charged at the larger size (`depth24plus` as 4 bytes).

use crate::exp::{GpuTextureDescriptor, GpuTextureDimension, GpuTextureFormat as F};

/// A format's block: width and height in texels, and bytes over all aspects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub width: u32,
    pub height: u32,
    pub bytes: u32,
}

const fn texel(bytes: u32) -> Block {
    Block { width: 1, height: 1, bytes }
}

const fn block(width: u32, height: u32, bytes: u32) -> Block {
    Block { width, height, bytes }
}

/// The block of every texture format of the WIT.
pub fn block_of(format: F) -> Block {
    match format {
        F::R8unorm | F::R8snorm | F::R8uint | F::R8sint | F::Stencil8 => texel(1),
        F::R16unorm | F::R16snorm | F::R16uint | F::R16sint | F::R16float => texel(2),
        F::Rg8unorm | F::Rg8snorm | F::Rg8uint | F::Rg8sint | F::Depth16unorm => texel(2),
        F::R32uint | F::R32sint | F::R32float => texel(4),
        F::Rg16unorm | F::Rg16snorm | F::Rg16uint | F::Rg16sint | F::Rg16float => texel(4),
        F::Rgba8unorm | F::Rgba8unormSrgb | F::Rgba8snorm | F::Rgba8uint | F::Rgba8sint => texel(4),
        F::Bgra8unorm | F::Bgra8unormSrgb => texel(4),
        F::Rgb9e5ufloat | F::Rgb10a2uint | F::Rgb10a2unorm | F::Rg11b10ufloat => texel(4),
        // Depth: 24-bit depth may be stored in 32 bits; stencil adds its byte.
        F::Depth24plus | F::Depth32float => texel(4),
        F::Depth24plusStencil8 | F::Depth32floatStencil8 => texel(5),
        F::Rg32uint | F::Rg32sint | F::Rg32float => texel(8),
        F::Rgba16unorm | F::Rgba16snorm | F::Rgba16uint | F::Rgba16sint | F::Rgba16float => texel(8),
        F::Rgba32uint | F::Rgba32sint | F::Rgba32float => texel(16),
        F::Bc1RgbaUnorm | F::Bc1RgbaUnormSrgb | F::Bc4RUnorm | F::Bc4RSnorm => block(4, 4, 8),
        F::Bc2RgbaUnorm | F::Bc2RgbaUnormSrgb | F::Bc3RgbaUnorm | F::Bc3RgbaUnormSrgb => block(4, 4, 16),
        F::Bc5RgUnorm | F::Bc5RgSnorm | F::Bc6hRgbUfloat | F::Bc6hRgbFloat => block(4, 4, 16),
        F::Bc7RgbaUnorm | F::Bc7RgbaUnormSrgb => block(4, 4, 16),
        F::Etc2Rgb8unorm | F::Etc2Rgb8unormSrgb | F::Etc2Rgb8a1unorm | F::Etc2Rgb8a1unormSrgb => block(4, 4, 8),
        F::Etc2Rgba8unorm | F::Etc2Rgba8unormSrgb => block(4, 4, 16),
        F::EacR11unorm | F::EacR11snorm => block(4, 4, 8),
        F::EacRg11unorm | F::EacRg11snorm => block(4, 4, 16),
        F::Astc4x4Unorm | F::Astc4x4UnormSrgb => block(4, 4, 16),
        F::Astc5x4Unorm | F::Astc5x4UnormSrgb => block(5, 4, 16),
        F::Astc5x5Unorm | F::Astc5x5UnormSrgb => block(5, 5, 16),
        F::Astc6x5Unorm | F::Astc6x5UnormSrgb => block(6, 5, 16),
        F::Astc6x6Unorm | F::Astc6x6UnormSrgb => block(6, 6, 16),
        F::Astc8x5Unorm | F::Astc8x5UnormSrgb => block(8, 5, 16),
        F::Astc8x6Unorm | F::Astc8x6UnormSrgb => block(8, 6, 16),
        F::Astc8x8Unorm | F::Astc8x8UnormSrgb => block(8, 8, 16),
        F::Astc10x5Unorm | F::Astc10x5UnormSrgb => block(10, 5, 16),
        F::Astc10x6Unorm | F::Astc10x6UnormSrgb => block(10, 6, 16),
        F::Astc10x8Unorm | F::Astc10x8UnormSrgb => block(10, 8, 16),
        F::Astc10x10Unorm | F::Astc10x10UnormSrgb => block(10, 10, 16),
        F::Astc12x10Unorm | F::Astc12x10UnormSrgb => block(12, 10, 16),
        F::Astc12x12Unorm | F::Astc12x12UnormSrgb => block(12, 12, 16),
    }
}

/// The bytes a texture of this descriptor takes (saturating at `u64::MAX`).
pub fn texture_bytes(descriptor: &GpuTextureDescriptor) -> u64 {
    let size = &descriptor.size;
    let dimension = descriptor.dimension.unwrap_or(GpuTextureDimension::D2);
    texture_bytes_of(
        block_of(descriptor.format),
        dimension,
        [size.width, size.height.unwrap_or(1), size.depth_or_array_layers.unwrap_or(1)],
        descriptor.mip_level_count.unwrap_or(1),
        descriptor.sample_count.unwrap_or(1),
    )
}

/// The bytes of a texture: `size` is width, height and depth or array layers.
pub fn texture_bytes_of(block: Block, dimension: GpuTextureDimension, size: [u32; 3], mips: u32, samples: u32) -> u64 {
    let [width, height, depth] = size;
    // A 3D texture's depth halves per level; a 2D texture's array layers do not. WebGPU allows
    // no 1D array (validation refuses it: the charge is the request's all the same).
    let (layers, depth) = match dimension {
        GpuTextureDimension::D3 => (1u128, depth),
        GpuTextureDimension::D1 | GpuTextureDimension::D2 => (u128::from(depth), 1),
    };
    let level = |l: u32, extent: u32| extent.checked_shr(l).unwrap_or(0).max(1);
    let mut total = 0u128;
    // Past 32 levels every extent is 1: the rest cost the same, without a loop of 2^32.
    for l in 0..mips.min(33) {
        let blocks_x = level(l, width).div_ceil(block.width);
        let blocks_y = level(l, height).div_ceil(block.height);
        total += u128::from(blocks_x) * u128::from(blocks_y) * u128::from(level(l, depth)) * u128::from(block.bytes);
    }
    if mips > 33 {
        total += u128::from(mips - 33) * u128::from(block.bytes);
    }
    let total = total.saturating_mul(layers).saturating_mul(u128::from(samples));
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// The bytes of a query set.
pub fn query_set_bytes(count: u32) -> u64 {
    u64::from(count) * 8
}

#[cfg(test)]
mod tests {
    use super::*;
    const D1: GpuTextureDimension = GpuTextureDimension::D1;
    const D2: GpuTextureDimension = GpuTextureDimension::D2;
    const D3: GpuTextureDimension = GpuTextureDimension::D3;

    fn bytes(format: F, dimension: GpuTextureDimension, size: [u32; 3], mips: u32, samples: u32) -> u64 {
        texture_bytes_of(block_of(format), dimension, size, mips, samples)
    }

    #[test]
    fn the_issues_examples() {
        // 30x20 rg8unorm, 10 layers, 5 mips: (600 + 150 + 35 + 6 + 1) texels x 2 bytes x 10.
        assert_eq!(bytes(F::Rg8unorm, D2, [30, 20, 10], 5, 1), 15_840);
        assert_eq!(bytes(F::Rg8unorm, D2, [30, 20, 1], 1, 4), 4_800);
        // 8 x 8 blocks of 8 bytes.
        assert_eq!(bytes(F::Etc2Rgb8unorm, D2, [32, 32, 1], 1, 1), 512);
    }

    #[test]
    fn plain_formats_by_width() {
        for (format, texel) in [
            (F::R8unorm, 1),
            (F::R16float, 2),
            (F::Rg8sint, 2),
            (F::Rgba8unormSrgb, 4),
            (F::Bgra8unorm, 4),
            (F::Rg16float, 4),
            (F::R32float, 4),
            (F::Rgb10a2unorm, 4),
            (F::Rg11b10ufloat, 4),
            (F::Rgb9e5ufloat, 4),
            (F::Rg32uint, 8),
            (F::Rgba16float, 8),
            (F::Rgba32float, 16),
        ] {
            assert_eq!(bytes(format, D2, [16, 8, 1], 1, 1), 128 * texel, "{format:?}");
        }
    }

    #[test]
    fn depth_and_stencil_at_the_larger_size() {
        assert_eq!(bytes(F::Stencil8, D2, [10, 10, 1], 1, 1), 100);
        assert_eq!(bytes(F::Depth16unorm, D2, [10, 10, 1], 1, 1), 200);
        assert_eq!(bytes(F::Depth24plus, D2, [10, 10, 1], 1, 1), 400);
        assert_eq!(bytes(F::Depth32float, D2, [10, 10, 1], 1, 1), 400);
        assert_eq!(bytes(F::Depth24plusStencil8, D2, [10, 10, 1], 1, 1), 500);
        assert_eq!(bytes(F::Depth32floatStencil8, D2, [10, 10, 1], 1, 4), 2000);
    }

    #[test]
    fn compressed_formats_by_block() {
        // 10x10 texels: 3x3 blocks of 4x4 (rounded up).
        assert_eq!(bytes(F::Bc1RgbaUnorm, D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes(F::Bc4RSnorm, D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes(F::Bc3RgbaUnormSrgb, D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes(F::Bc7RgbaUnorm, D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes(F::Etc2Rgb8a1unorm, D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes(F::Etc2Rgba8unorm, D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes(F::EacR11snorm, D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes(F::EacRg11unorm, D2, [10, 10, 1], 1, 1), 9 * 16);
        // ASTC: 16 bytes a block, blocks of every size.
        assert_eq!(bytes(F::Astc4x4Unorm, D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes(F::Astc5x4UnormSrgb, D2, [10, 10, 1], 1, 1), 2 * 3 * 16);
        assert_eq!(bytes(F::Astc6x6Unorm, D2, [12, 12, 1], 1, 1), 4 * 16);
        assert_eq!(bytes(F::Astc8x5Unorm, D2, [17, 11, 1], 1, 1), 3 * 3 * 16);
        assert_eq!(bytes(F::Astc10x10Unorm, D2, [20, 21, 1], 1, 1), 2 * 3 * 16);
        assert_eq!(bytes(F::Astc12x10Unorm, D2, [12, 10, 1], 1, 1), 16);
        assert_eq!(bytes(F::Astc12x12UnormSrgb, D2, [25, 25, 1], 1, 1), 9 * 16);
        // A mip chain of 16x16 bc1: 4x4, 2x2, 1x1, 1x1, 1x1 blocks.
        assert_eq!(bytes(F::Bc1RgbaUnorm, D2, [16, 16, 1], 5, 1), (16 + 4 + 1 + 1 + 1) * 8);
    }

    #[test]
    fn three_d_depth_halves_and_layers_do_not() {
        // 8x8x8 r8: 512 + 64 + 8 + 1.
        assert_eq!(bytes(F::R8unorm, D3, [8, 8, 8], 4, 1), 585);
        // 8x8 with 8 layers: (64 + 16 + 4 + 1) x 8.
        assert_eq!(bytes(F::R8unorm, D2, [8, 8, 8], 4, 1), 680);
        assert_eq!(bytes(F::Rgba8unorm, D1, [256, 1, 1], 1, 1), 1024);
    }

    #[test]
    fn absurd_sizes_saturate() {
        assert_eq!(bytes(F::Rgba32float, D3, [u32::MAX; 3], u32::MAX, u32::MAX), u64::MAX);
        assert_eq!(bytes(F::R8unorm, D2, [1, 1, 1], 100, 1), 100);
        assert_eq!(query_set_bytes(u32::MAX), 8 * u64::from(u32::MAX));
    }
}
