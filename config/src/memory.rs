//! What GPU objects cost in memory, exactly as the quota charges them; the trace tools count a
//! trace's memory with the same figures.
//!
//! A buffer costs its size; a query set `count x 8`; a texture, per mip level, its blocks times
//! the bytes of a block over all its aspects, times the array layers (2D) or the level's depth
//! (3D, halving per level), times the sample count. Formats whose size is up to the
//! implementation are charged at the larger size (`depth24plus` as 4 bytes).

/// A format's block: width and height in texels, and bytes over all aspects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Texels across.
    pub width: u32,
    /// Texels down.
    pub height: u32,
    /// Bytes, over all aspects.
    pub bytes: u32,
}

const fn texel(bytes: u32) -> Block {
    Block { width: 1, height: 1, bytes }
}

const fn block(width: u32, height: u32, bytes: u32) -> Block {
    Block { width, height, bytes }
}

/// The block of a texture format, by its case name in the WIT (`gpu-texture-format`).
pub fn block_of(format: &str) -> Option<Block> {
    let base = format.strip_suffix("-srgb").unwrap_or(format);
    // ASTC: `astc{W}x{H}-unorm`, 16 bytes a block of every size.
    if let Some(size) = base.strip_prefix("astc").and_then(|s| s.strip_suffix("-unorm")) {
        let (w, h) = size.split_once('x')?;
        return Some(block(w.parse().ok()?, h.parse().ok()?, 16));
    }
    Some(match base {
        "r8unorm" | "r8snorm" | "r8uint" | "r8sint" | "stencil8" => texel(1),
        "r16unorm" | "r16snorm" | "r16uint" | "r16sint" | "r16float" => texel(2),
        "rg8unorm" | "rg8snorm" | "rg8uint" | "rg8sint" | "depth16unorm" => texel(2),
        "r32uint" | "r32sint" | "r32float" => texel(4),
        "rg16unorm" | "rg16snorm" | "rg16uint" | "rg16sint" | "rg16float" => texel(4),
        "rgba8unorm" | "rgba8snorm" | "rgba8uint" | "rgba8sint" | "bgra8unorm" => texel(4),
        "rgb9e5ufloat" | "rgb10a2uint" | "rgb10a2unorm" | "rg11b10ufloat" => texel(4),
        // Depth: 24-bit depth may be stored in 32 bits; stencil adds its byte.
        "depth24plus" | "depth32float" => texel(4),
        "depth24plus-stencil8" | "depth32float-stencil8" => texel(5),
        "rg32uint" | "rg32sint" | "rg32float" => texel(8),
        "rgba16unorm" | "rgba16snorm" | "rgba16uint" | "rgba16sint" | "rgba16float" => texel(8),
        "rgba32uint" | "rgba32sint" | "rgba32float" => texel(16),
        "bc1-rgba-unorm" | "bc4-r-unorm" | "bc4-r-snorm" => block(4, 4, 8),
        "bc2-rgba-unorm" | "bc3-rgba-unorm" | "bc5-rg-unorm" | "bc5-rg-snorm" => block(4, 4, 16),
        "bc6h-rgb-ufloat" | "bc6h-rgb-float" | "bc7-rgba-unorm" => block(4, 4, 16),
        "etc2-rgb8unorm" | "etc2-rgb8a1unorm" | "eac-r11unorm" | "eac-r11snorm" => block(4, 4, 8),
        "etc2-rgba8unorm" | "eac-rg11unorm" | "eac-rg11snorm" => block(4, 4, 16),
        _ => return None,
    })
}

/// A texture's dimension (`gpu-texture-dimension`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dimension {
    /// `d1`
    D1,
    /// `d2`, the default.
    #[default]
    D2,
    /// `d3`
    D3,
}

/// The bytes of a texture (saturating at `u64::MAX`): `size` is width, height and depth or
/// array layers.
pub fn texture_bytes(block: Block, dimension: Dimension, size: [u32; 3], mips: u32, samples: u32) -> u64 {
    let [width, height, depth] = size;
    // A 3D texture's depth halves per level; a 2D texture's array layers do not. WebGPU allows
    // no 1D array (validation refuses it: the charge is the request's all the same).
    let (layers, depth) = match dimension {
        Dimension::D3 => (1u128, depth),
        Dimension::D1 | Dimension::D2 => (u128::from(depth), 1),
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
    use Dimension::{D1, D2, D3};

    fn bytes(format: &str, dimension: Dimension, size: [u32; 3], mips: u32, samples: u32) -> u64 {
        texture_bytes(block_of(format).expect("a format"), dimension, size, mips, samples)
    }

    #[test]
    fn the_issues_examples() {
        // 30x20 rg8unorm, 10 layers, 5 mips: (600 + 150 + 35 + 6 + 1) texels x 2 bytes x 10.
        assert_eq!(bytes("rg8unorm", D2, [30, 20, 10], 5, 1), 15_840);
        assert_eq!(bytes("rg8unorm", D2, [30, 20, 1], 1, 4), 4_800);
        // 8 x 8 blocks of 8 bytes.
        assert_eq!(bytes("etc2-rgb8unorm", D2, [32, 32, 1], 1, 1), 512);
    }

    #[test]
    fn plain_formats_by_width() {
        for (format, texel) in [
            ("r8unorm", 1),
            ("r16float", 2),
            ("rg8sint", 2),
            ("rgba8unorm-srgb", 4),
            ("bgra8unorm", 4),
            ("rg16float", 4),
            ("r32float", 4),
            ("rgb10a2unorm", 4),
            ("rg11b10ufloat", 4),
            ("rgb9e5ufloat", 4),
            ("rg32uint", 8),
            ("rgba16float", 8),
            ("rgba32float", 16),
        ] {
            assert_eq!(bytes(format, D2, [16, 8, 1], 1, 1), 128 * texel, "{format}");
        }
    }

    #[test]
    fn depth_and_stencil_at_the_larger_size() {
        assert_eq!(bytes("stencil8", D2, [10, 10, 1], 1, 1), 100);
        assert_eq!(bytes("depth16unorm", D2, [10, 10, 1], 1, 1), 200);
        assert_eq!(bytes("depth24plus", D2, [10, 10, 1], 1, 1), 400);
        assert_eq!(bytes("depth32float", D2, [10, 10, 1], 1, 1), 400);
        assert_eq!(bytes("depth24plus-stencil8", D2, [10, 10, 1], 1, 1), 500);
        assert_eq!(bytes("depth32float-stencil8", D2, [10, 10, 1], 1, 4), 2000);
    }

    #[test]
    fn compressed_formats_by_block() {
        // 10x10 texels: 3x3 blocks of 4x4 (rounded up).
        assert_eq!(bytes("bc1-rgba-unorm", D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes("bc4-r-snorm", D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes("bc3-rgba-unorm-srgb", D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes("bc7-rgba-unorm", D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes("etc2-rgb8a1unorm", D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes("etc2-rgba8unorm", D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes("eac-r11snorm", D2, [10, 10, 1], 1, 1), 9 * 8);
        assert_eq!(bytes("eac-rg11unorm", D2, [10, 10, 1], 1, 1), 9 * 16);
        // ASTC: 16 bytes a block, blocks of every size.
        assert_eq!(bytes("astc4x4-unorm", D2, [10, 10, 1], 1, 1), 9 * 16);
        assert_eq!(bytes("astc5x4-unorm-srgb", D2, [10, 10, 1], 1, 1), 2 * 3 * 16);
        assert_eq!(bytes("astc6x6-unorm", D2, [12, 12, 1], 1, 1), 4 * 16);
        assert_eq!(bytes("astc8x5-unorm", D2, [17, 11, 1], 1, 1), 3 * 3 * 16);
        assert_eq!(bytes("astc10x10-unorm", D2, [20, 21, 1], 1, 1), 2 * 3 * 16);
        assert_eq!(bytes("astc12x10-unorm", D2, [12, 10, 1], 1, 1), 16);
        assert_eq!(bytes("astc12x12-unorm-srgb", D2, [25, 25, 1], 1, 1), 9 * 16);
        // A mip chain of 16x16 bc1: 4x4, 2x2, 1x1, 1x1, 1x1 blocks.
        assert_eq!(bytes("bc1-rgba-unorm", D2, [16, 16, 1], 5, 1), (16 + 4 + 1 + 1 + 1) * 8);
    }

    #[test]
    fn three_d_depth_halves_and_layers_do_not() {
        // 8x8x8 r8: 512 + 64 + 8 + 1.
        assert_eq!(bytes("r8unorm", D3, [8, 8, 8], 4, 1), 585);
        // 8x8 with 8 layers: (64 + 16 + 4 + 1) x 8.
        assert_eq!(bytes("r8unorm", D2, [8, 8, 8], 4, 1), 680);
        assert_eq!(bytes("rgba8unorm", D1, [256, 1, 1], 1, 1), 1024);
    }

    #[test]
    fn absurd_sizes_saturate() {
        assert_eq!(bytes("rgba32float", D3, [u32::MAX; 3], u32::MAX, u32::MAX), u64::MAX);
        assert_eq!(bytes("r8unorm", D2, [1, 1, 1], 100, 1), 100);
        assert_eq!(query_set_bytes(u32::MAX), 8 * u64::from(u32::MAX));
    }

    #[test]
    fn unknown_formats_have_no_block() {
        assert_eq!(block_of("rgba7unorm"), None);
        assert_eq!(block_of("astcx4-unorm"), None);
        assert_eq!(block_of("astc4x4-snorm"), None);
    }
}
