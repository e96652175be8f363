//! Conversions between the `wasi:webgpu` WIT types and wgpu's.
//!
//! Only plain data lives here; descriptors that carry resource handles are converted where the
//! resource table is at hand (the `device` and `commands` modules).

use crate::bindings::wasi::webgpu::webgpu as w;

/// Maps a WIT enum onto a wgpu enum, both ways where wgpu's side is total.
macro_rules! enum_map {
    ($fn_in:ident : $wit:ident => $wg:ty { $($a:ident => $b:expr),* $(,)? }) => {
        pub fn $fn_in(v: w::$wit) -> $wg {
            match v { $(w::$wit::$a => $b),* }
        }
    };
    ($fn_in:ident, $fn_out:ident : $wit:ident => $wg:ty { $($a:ident => $b:expr),* $(,)? }) => {
        enum_map!($fn_in : $wit => $wg { $($a => $b),* });

        #[allow(dead_code)]
        pub fn $fn_out(v: $wg) -> Option<w::$wit> {
            $( if v == $b { return Some(w::$wit::$a); } )*
            None
        }
    };
}

enum_map!(address_mode: GpuAddressMode => wgpu::AddressMode {
    ClampToEdge => wgpu::AddressMode::ClampToEdge,
    Repeat => wgpu::AddressMode::Repeat,
    MirrorRepeat => wgpu::AddressMode::MirrorRepeat,
});
enum_map!(filter_mode: GpuFilterMode => wgpu::FilterMode {
    Nearest => wgpu::FilterMode::Nearest,
    Linear => wgpu::FilterMode::Linear,
});
enum_map!(mipmap_filter_mode: GpuMipmapFilterMode => wgpu::MipmapFilterMode {
    Nearest => wgpu::MipmapFilterMode::Nearest,
    Linear => wgpu::MipmapFilterMode::Linear,
});
enum_map!(compare_function: GpuCompareFunction => wgpu::CompareFunction {
    Never => wgpu::CompareFunction::Never,
    Less => wgpu::CompareFunction::Less,
    Equal => wgpu::CompareFunction::Equal,
    LessEqual => wgpu::CompareFunction::LessEqual,
    Greater => wgpu::CompareFunction::Greater,
    NotEqual => wgpu::CompareFunction::NotEqual,
    GreaterEqual => wgpu::CompareFunction::GreaterEqual,
    Always => wgpu::CompareFunction::Always,
});
enum_map!(blend_factor: GpuBlendFactor => wgpu::BlendFactor {
    Zero => wgpu::BlendFactor::Zero,
    One => wgpu::BlendFactor::One,
    Src => wgpu::BlendFactor::Src,
    OneMinusSrc => wgpu::BlendFactor::OneMinusSrc,
    SrcAlpha => wgpu::BlendFactor::SrcAlpha,
    OneMinusSrcAlpha => wgpu::BlendFactor::OneMinusSrcAlpha,
    Dst => wgpu::BlendFactor::Dst,
    OneMinusDst => wgpu::BlendFactor::OneMinusDst,
    DstAlpha => wgpu::BlendFactor::DstAlpha,
    OneMinusDstAlpha => wgpu::BlendFactor::OneMinusDstAlpha,
    SrcAlphaSaturated => wgpu::BlendFactor::SrcAlphaSaturated,
    Constant => wgpu::BlendFactor::Constant,
    OneMinusConstant => wgpu::BlendFactor::OneMinusConstant,
    Src1 => wgpu::BlendFactor::Src1,
    OneMinusSrc1 => wgpu::BlendFactor::OneMinusSrc1,
    Src1Alpha => wgpu::BlendFactor::Src1Alpha,
    OneMinusSrc1Alpha => wgpu::BlendFactor::OneMinusSrc1Alpha,
});
enum_map!(blend_operation: GpuBlendOperation => wgpu::BlendOperation {
    Add => wgpu::BlendOperation::Add,
    Subtract => wgpu::BlendOperation::Subtract,
    ReverseSubtract => wgpu::BlendOperation::ReverseSubtract,
    Min => wgpu::BlendOperation::Min,
    Max => wgpu::BlendOperation::Max,
});
enum_map!(cull_mode: GpuCullMode => Option<wgpu::Face> {
    None => None,
    Front => Some(wgpu::Face::Front),
    Back => Some(wgpu::Face::Back),
});
enum_map!(front_face: GpuFrontFace => wgpu::FrontFace {
    Ccw => wgpu::FrontFace::Ccw,
    Cw => wgpu::FrontFace::Cw,
});
enum_map!(index_format: GpuIndexFormat => wgpu::IndexFormat {
    Uint16 => wgpu::IndexFormat::Uint16,
    Uint32 => wgpu::IndexFormat::Uint32,
});
enum_map!(primitive_topology: GpuPrimitiveTopology => wgpu::PrimitiveTopology {
    PointList => wgpu::PrimitiveTopology::PointList,
    LineList => wgpu::PrimitiveTopology::LineList,
    LineStrip => wgpu::PrimitiveTopology::LineStrip,
    TriangleList => wgpu::PrimitiveTopology::TriangleList,
    TriangleStrip => wgpu::PrimitiveTopology::TriangleStrip,
});
enum_map!(stencil_operation: GpuStencilOperation => wgpu::StencilOperation {
    Keep => wgpu::StencilOperation::Keep,
    Zero => wgpu::StencilOperation::Zero,
    Replace => wgpu::StencilOperation::Replace,
    Invert => wgpu::StencilOperation::Invert,
    IncrementClamp => wgpu::StencilOperation::IncrementClamp,
    DecrementClamp => wgpu::StencilOperation::DecrementClamp,
    IncrementWrap => wgpu::StencilOperation::IncrementWrap,
    DecrementWrap => wgpu::StencilOperation::DecrementWrap,
});
enum_map!(storage_texture_access: GpuStorageTextureAccess => wgpu::StorageTextureAccess {
    WriteOnly => wgpu::StorageTextureAccess::WriteOnly,
    ReadOnly => wgpu::StorageTextureAccess::ReadOnly,
    ReadWrite => wgpu::StorageTextureAccess::ReadWrite,
});
enum_map!(texture_aspect: GpuTextureAspect => wgpu::TextureAspect {
    All => wgpu::TextureAspect::All,
    StencilOnly => wgpu::TextureAspect::StencilOnly,
    DepthOnly => wgpu::TextureAspect::DepthOnly,
});
enum_map!(texture_dimension, texture_dimension_out: GpuTextureDimension => wgpu::TextureDimension {
    D1 => wgpu::TextureDimension::D1,
    D2 => wgpu::TextureDimension::D2,
    D3 => wgpu::TextureDimension::D3,
});
enum_map!(texture_view_dimension, texture_view_dimension_out: GpuTextureViewDimension => wgpu::TextureViewDimension {
    D1 => wgpu::TextureViewDimension::D1,
    D2 => wgpu::TextureViewDimension::D2,
    D2Array => wgpu::TextureViewDimension::D2Array,
    Cube => wgpu::TextureViewDimension::Cube,
    CubeArray => wgpu::TextureViewDimension::CubeArray,
    D3 => wgpu::TextureViewDimension::D3,
});
enum_map!(texture_sample_type: GpuTextureSampleType => wgpu::TextureSampleType {
    Float => wgpu::TextureSampleType::Float { filterable: true },
    UnfilterableFloat => wgpu::TextureSampleType::Float { filterable: false },
    Depth => wgpu::TextureSampleType::Depth,
    Sint => wgpu::TextureSampleType::Sint,
    Uint => wgpu::TextureSampleType::Uint,
});
enum_map!(sampler_binding_type: GpuSamplerBindingType => wgpu::SamplerBindingType {
    Filtering => wgpu::SamplerBindingType::Filtering,
    NonFiltering => wgpu::SamplerBindingType::NonFiltering,
    Comparison => wgpu::SamplerBindingType::Comparison,
});
enum_map!(vertex_step_mode: GpuVertexStepMode => wgpu::VertexStepMode {
    Vertex => wgpu::VertexStepMode::Vertex,
    Instance => wgpu::VertexStepMode::Instance,
});
enum_map!(query_type: GpuQueryType => wgpu::QueryType {
    Occlusion => wgpu::QueryType::Occlusion,
    Timestamp => wgpu::QueryType::Timestamp,
});
enum_map!(power_preference: GpuPowerPreference => wgpu::PowerPreference {
    LowPower => wgpu::PowerPreference::LowPower,
    HighPerformance => wgpu::PowerPreference::HighPerformance,
});
enum_map!(vertex_format: GpuVertexFormat => wgpu::VertexFormat {
    Uint8 => wgpu::VertexFormat::Uint8, Uint8x2 => wgpu::VertexFormat::Uint8x2,
    Uint8x4 => wgpu::VertexFormat::Uint8x4, Sint8 => wgpu::VertexFormat::Sint8,
    Sint8x2 => wgpu::VertexFormat::Sint8x2, Sint8x4 => wgpu::VertexFormat::Sint8x4,
    Unorm8 => wgpu::VertexFormat::Unorm8, Unorm8x2 => wgpu::VertexFormat::Unorm8x2,
    Unorm8x4 => wgpu::VertexFormat::Unorm8x4, Snorm8 => wgpu::VertexFormat::Snorm8,
    Snorm8x2 => wgpu::VertexFormat::Snorm8x2, Snorm8x4 => wgpu::VertexFormat::Snorm8x4,
    Uint16 => wgpu::VertexFormat::Uint16, Uint16x2 => wgpu::VertexFormat::Uint16x2,
    Uint16x4 => wgpu::VertexFormat::Uint16x4, Sint16 => wgpu::VertexFormat::Sint16,
    Sint16x2 => wgpu::VertexFormat::Sint16x2, Sint16x4 => wgpu::VertexFormat::Sint16x4,
    Unorm16 => wgpu::VertexFormat::Unorm16, Unorm16x2 => wgpu::VertexFormat::Unorm16x2,
    Unorm16x4 => wgpu::VertexFormat::Unorm16x4, Snorm16 => wgpu::VertexFormat::Snorm16,
    Snorm16x2 => wgpu::VertexFormat::Snorm16x2, Snorm16x4 => wgpu::VertexFormat::Snorm16x4,
    Float16 => wgpu::VertexFormat::Float16, Float16x2 => wgpu::VertexFormat::Float16x2,
    Float16x4 => wgpu::VertexFormat::Float16x4, Float32 => wgpu::VertexFormat::Float32,
    Float32x2 => wgpu::VertexFormat::Float32x2, Float32x3 => wgpu::VertexFormat::Float32x3,
    Float32x4 => wgpu::VertexFormat::Float32x4, Uint32 => wgpu::VertexFormat::Uint32,
    Uint32x2 => wgpu::VertexFormat::Uint32x2, Uint32x3 => wgpu::VertexFormat::Uint32x3,
    Uint32x4 => wgpu::VertexFormat::Uint32x4, Sint32 => wgpu::VertexFormat::Sint32,
    Sint32x2 => wgpu::VertexFormat::Sint32x2, Sint32x3 => wgpu::VertexFormat::Sint32x3,
    Sint32x4 => wgpu::VertexFormat::Sint32x4, Unorm1010102 => wgpu::VertexFormat::Unorm10_10_10_2,
    Unorm8x4Bgra => wgpu::VertexFormat::Unorm8x4Bgra,
});

macro_rules! astc {
    ($b:ident, $c:ident) => {
        wgpu::TextureFormat::Astc { block: wgpu::AstcBlock::$b, channel: wgpu::AstcChannel::$c }
    };
}
enum_map!(texture_format, texture_format_out: GpuTextureFormat => wgpu::TextureFormat {
    R8unorm => wgpu::TextureFormat::R8Unorm, R8snorm => wgpu::TextureFormat::R8Snorm,
    R8uint => wgpu::TextureFormat::R8Uint, R8sint => wgpu::TextureFormat::R8Sint,
    R16unorm => wgpu::TextureFormat::R16Unorm, R16snorm => wgpu::TextureFormat::R16Snorm,
    R16uint => wgpu::TextureFormat::R16Uint, R16sint => wgpu::TextureFormat::R16Sint,
    R16float => wgpu::TextureFormat::R16Float, Rg8unorm => wgpu::TextureFormat::Rg8Unorm,
    Rg8snorm => wgpu::TextureFormat::Rg8Snorm, Rg8uint => wgpu::TextureFormat::Rg8Uint,
    Rg8sint => wgpu::TextureFormat::Rg8Sint, R32uint => wgpu::TextureFormat::R32Uint,
    R32sint => wgpu::TextureFormat::R32Sint, R32float => wgpu::TextureFormat::R32Float,
    Rg16unorm => wgpu::TextureFormat::Rg16Unorm, Rg16snorm => wgpu::TextureFormat::Rg16Snorm,
    Rg16uint => wgpu::TextureFormat::Rg16Uint, Rg16sint => wgpu::TextureFormat::Rg16Sint,
    Rg16float => wgpu::TextureFormat::Rg16Float, Rgba8unorm => wgpu::TextureFormat::Rgba8Unorm,
    Rgba8unormSrgb => wgpu::TextureFormat::Rgba8UnormSrgb, Rgba8snorm => wgpu::TextureFormat::Rgba8Snorm,
    Rgba8uint => wgpu::TextureFormat::Rgba8Uint, Rgba8sint => wgpu::TextureFormat::Rgba8Sint,
    Bgra8unorm => wgpu::TextureFormat::Bgra8Unorm, Bgra8unormSrgb => wgpu::TextureFormat::Bgra8UnormSrgb,
    Rgb9e5ufloat => wgpu::TextureFormat::Rgb9e5Ufloat, Rgb10a2uint => wgpu::TextureFormat::Rgb10a2Uint,
    Rgb10a2unorm => wgpu::TextureFormat::Rgb10a2Unorm, Rg11b10ufloat => wgpu::TextureFormat::Rg11b10Ufloat,
    Rg32uint => wgpu::TextureFormat::Rg32Uint, Rg32sint => wgpu::TextureFormat::Rg32Sint,
    Rg32float => wgpu::TextureFormat::Rg32Float, Rgba16unorm => wgpu::TextureFormat::Rgba16Unorm,
    Rgba16snorm => wgpu::TextureFormat::Rgba16Snorm, Rgba16uint => wgpu::TextureFormat::Rgba16Uint,
    Rgba16sint => wgpu::TextureFormat::Rgba16Sint, Rgba16float => wgpu::TextureFormat::Rgba16Float,
    Rgba32uint => wgpu::TextureFormat::Rgba32Uint, Rgba32sint => wgpu::TextureFormat::Rgba32Sint,
    Rgba32float => wgpu::TextureFormat::Rgba32Float, Stencil8 => wgpu::TextureFormat::Stencil8,
    Depth16unorm => wgpu::TextureFormat::Depth16Unorm, Depth24plus => wgpu::TextureFormat::Depth24Plus,
    Depth24plusStencil8 => wgpu::TextureFormat::Depth24PlusStencil8,
    Depth32float => wgpu::TextureFormat::Depth32Float,
    Depth32floatStencil8 => wgpu::TextureFormat::Depth32FloatStencil8,
    Bc1RgbaUnorm => wgpu::TextureFormat::Bc1RgbaUnorm, Bc1RgbaUnormSrgb => wgpu::TextureFormat::Bc1RgbaUnormSrgb,
    Bc2RgbaUnorm => wgpu::TextureFormat::Bc2RgbaUnorm, Bc2RgbaUnormSrgb => wgpu::TextureFormat::Bc2RgbaUnormSrgb,
    Bc3RgbaUnorm => wgpu::TextureFormat::Bc3RgbaUnorm, Bc3RgbaUnormSrgb => wgpu::TextureFormat::Bc3RgbaUnormSrgb,
    Bc4RUnorm => wgpu::TextureFormat::Bc4RUnorm, Bc4RSnorm => wgpu::TextureFormat::Bc4RSnorm,
    Bc5RgUnorm => wgpu::TextureFormat::Bc5RgUnorm, Bc5RgSnorm => wgpu::TextureFormat::Bc5RgSnorm,
    Bc6hRgbUfloat => wgpu::TextureFormat::Bc6hRgbUfloat, Bc6hRgbFloat => wgpu::TextureFormat::Bc6hRgbFloat,
    Bc7RgbaUnorm => wgpu::TextureFormat::Bc7RgbaUnorm, Bc7RgbaUnormSrgb => wgpu::TextureFormat::Bc7RgbaUnormSrgb,
    Etc2Rgb8unorm => wgpu::TextureFormat::Etc2Rgb8Unorm, Etc2Rgb8unormSrgb => wgpu::TextureFormat::Etc2Rgb8UnormSrgb,
    Etc2Rgb8a1unorm => wgpu::TextureFormat::Etc2Rgb8A1Unorm, Etc2Rgb8a1unormSrgb => wgpu::TextureFormat::Etc2Rgb8A1UnormSrgb,
    Etc2Rgba8unorm => wgpu::TextureFormat::Etc2Rgba8Unorm, Etc2Rgba8unormSrgb => wgpu::TextureFormat::Etc2Rgba8UnormSrgb,
    EacR11unorm => wgpu::TextureFormat::EacR11Unorm, EacR11snorm => wgpu::TextureFormat::EacR11Snorm,
    EacRg11unorm => wgpu::TextureFormat::EacRg11Unorm, EacRg11snorm => wgpu::TextureFormat::EacRg11Snorm,
    Astc4x4Unorm => astc!(B4x4, Unorm), Astc4x4UnormSrgb => astc!(B4x4, UnormSrgb),
    Astc5x4Unorm => astc!(B5x4, Unorm), Astc5x4UnormSrgb => astc!(B5x4, UnormSrgb),
    Astc5x5Unorm => astc!(B5x5, Unorm), Astc5x5UnormSrgb => astc!(B5x5, UnormSrgb),
    Astc6x5Unorm => astc!(B6x5, Unorm), Astc6x5UnormSrgb => astc!(B6x5, UnormSrgb),
    Astc6x6Unorm => astc!(B6x6, Unorm), Astc6x6UnormSrgb => astc!(B6x6, UnormSrgb),
    Astc8x5Unorm => astc!(B8x5, Unorm), Astc8x5UnormSrgb => astc!(B8x5, UnormSrgb),
    Astc8x6Unorm => astc!(B8x6, Unorm), Astc8x6UnormSrgb => astc!(B8x6, UnormSrgb),
    Astc8x8Unorm => astc!(B8x8, Unorm), Astc8x8UnormSrgb => astc!(B8x8, UnormSrgb),
    Astc10x5Unorm => astc!(B10x5, Unorm), Astc10x5UnormSrgb => astc!(B10x5, UnormSrgb),
    Astc10x6Unorm => astc!(B10x6, Unorm), Astc10x6UnormSrgb => astc!(B10x6, UnormSrgb),
    Astc10x8Unorm => astc!(B10x8, Unorm), Astc10x8UnormSrgb => astc!(B10x8, UnormSrgb),
    Astc10x10Unorm => astc!(B10x10, Unorm), Astc10x10UnormSrgb => astc!(B10x10, UnormSrgb),
    Astc12x10Unorm => astc!(B12x10, Unorm), Astc12x10UnormSrgb => astc!(B12x10, UnormSrgb),
    Astc12x12Unorm => astc!(B12x12, Unorm), Astc12x12UnormSrgb => astc!(B12x12, UnormSrgb),
});

/// WebGPU feature names (as `gpu-supported-features.has` receives them) and their wgpu flags.
pub const FEATURES: &[(&str, wgpu::Features)] = &[
    ("depth-clip-control", wgpu::Features::DEPTH_CLIP_CONTROL),
    ("depth32float-stencil8", wgpu::Features::DEPTH32FLOAT_STENCIL8),
    ("texture-compression-bc", wgpu::Features::TEXTURE_COMPRESSION_BC),
    ("texture-compression-bc-sliced-3d", wgpu::Features::TEXTURE_COMPRESSION_BC_SLICED_3D),
    ("texture-compression-etc2", wgpu::Features::TEXTURE_COMPRESSION_ETC2),
    ("texture-compression-astc", wgpu::Features::TEXTURE_COMPRESSION_ASTC),
    ("texture-compression-astc-sliced-3d", wgpu::Features::TEXTURE_COMPRESSION_ASTC_SLICED_3D),
    ("timestamp-query", wgpu::Features::TIMESTAMP_QUERY),
    ("indirect-first-instance", wgpu::Features::INDIRECT_FIRST_INSTANCE),
    ("shader-f16", wgpu::Features::SHADER_F16),
    ("rg11b10ufloat-renderable", wgpu::Features::RG11B10UFLOAT_RENDERABLE),
    ("bgra8unorm-storage", wgpu::Features::BGRA8UNORM_STORAGE),
    ("float32-filterable", wgpu::Features::FLOAT32_FILTERABLE),
    ("float32-blendable", wgpu::Features::FLOAT32_BLENDABLE),
    ("clip-distances", wgpu::Features::CLIP_DISTANCES),
    ("dual-source-blending", wgpu::Features::DUAL_SOURCE_BLENDING),
    ("subgroups", wgpu::Features::SUBGROUP),
    ("primitive-index", wgpu::Features::PRIMITIVE_INDEX),
];

/// The wgpu flag behind a `gpu-feature-name`, or `None` for a feature wgpu 30 has no flag for
/// (`core-features-and-limits` is answered from the adapter's WebGPU compliance instead; the
/// texture-format tiers and component swizzle are never offered).
pub fn feature(name: w::GpuFeatureName) -> Option<wgpu::Features> {
    use w::GpuFeatureName as F;
    let wire = match name {
        F::CoreFeaturesAndLimits => return None,
        F::DepthClipControl => "depth-clip-control",
        F::Depth32floatStencil8 => "depth32float-stencil8",
        F::TextureCompressionBc => "texture-compression-bc",
        F::TextureCompressionBcSliced3d => "texture-compression-bc-sliced-3d",
        F::TextureCompressionEtc2 => "texture-compression-etc2",
        F::TextureCompressionAstc => "texture-compression-astc",
        F::TextureCompressionAstcSliced3d => "texture-compression-astc-sliced-3d",
        F::TimestampQuery => "timestamp-query",
        F::IndirectFirstInstance => "indirect-first-instance",
        F::ShaderF16 => "shader-f16",
        F::Rg11b10ufloatRenderable => "rg11b10ufloat-renderable",
        F::Bgra8unormStorage => "bgra8unorm-storage",
        F::Float32Filterable => "float32-filterable",
        F::Float32Blendable => "float32-blendable",
        F::ClipDistances => "clip-distances",
        F::DualSourceBlending => "dual-source-blending",
        F::Subgroups => "subgroups",
        F::PrimitiveIndex => "primitive-index",
        F::TextureFormatsTier1 | F::TextureFormatsTier2 | F::TextureComponentSwizzle => return None,
    };
    FEATURES.iter().find(|(n, _)| *n == wire).map(|(_, f)| *f)
}

pub fn buffer_usage(u: w::GpuBufferUsage) -> wgpu::BufferUsages {
    let mut out = wgpu::BufferUsages::empty();
    let pairs = [
        (w::GpuBufferUsage::MAP_READ, wgpu::BufferUsages::MAP_READ),
        (w::GpuBufferUsage::MAP_WRITE, wgpu::BufferUsages::MAP_WRITE),
        (w::GpuBufferUsage::COPY_SRC, wgpu::BufferUsages::COPY_SRC),
        (w::GpuBufferUsage::COPY_DST, wgpu::BufferUsages::COPY_DST),
        (w::GpuBufferUsage::INDEX, wgpu::BufferUsages::INDEX),
        (w::GpuBufferUsage::VERTEX, wgpu::BufferUsages::VERTEX),
        (w::GpuBufferUsage::UNIFORM, wgpu::BufferUsages::UNIFORM),
        (w::GpuBufferUsage::STORAGE, wgpu::BufferUsages::STORAGE),
        (w::GpuBufferUsage::INDIRECT, wgpu::BufferUsages::INDIRECT),
        (w::GpuBufferUsage::QUERY_RESOLVE, wgpu::BufferUsages::QUERY_RESOLVE),
    ];
    for (a, b) in pairs {
        if u.contains(a) {
            out |= b;
        }
    }
    out
}

pub fn texture_usage(u: w::GpuTextureUsage) -> wgpu::TextureUsages {
    let mut out = wgpu::TextureUsages::empty();
    let pairs = [
        (w::GpuTextureUsage::COPY_SRC, wgpu::TextureUsages::COPY_SRC),
        (w::GpuTextureUsage::COPY_DST, wgpu::TextureUsages::COPY_DST),
        (w::GpuTextureUsage::TEXTURE_BINDING, wgpu::TextureUsages::TEXTURE_BINDING),
        (w::GpuTextureUsage::STORAGE_BINDING, wgpu::TextureUsages::STORAGE_BINDING),
        (w::GpuTextureUsage::RENDER_ATTACHMENT, wgpu::TextureUsages::RENDER_ATTACHMENT),
        (w::GpuTextureUsage::TRANSIENT_ATTACHMENT, wgpu::TextureUsages::TRANSIENT_ATTACHMENT),
    ];
    for (a, b) in pairs {
        if u.contains(a) {
            out |= b;
        }
    }
    out
}

pub fn shader_stage(s: w::GpuShaderStage) -> wgpu::ShaderStages {
    let mut out = wgpu::ShaderStages::empty();
    if s.contains(w::GpuShaderStage::VERTEX) {
        out |= wgpu::ShaderStages::VERTEX;
    }
    if s.contains(w::GpuShaderStage::FRAGMENT) {
        out |= wgpu::ShaderStages::FRAGMENT;
    }
    if s.contains(w::GpuShaderStage::COMPUTE) {
        out |= wgpu::ShaderStages::COMPUTE;
    }
    out
}

pub fn color_write(c: w::GpuColorWrite) -> wgpu::ColorWrites {
    if c.contains(w::GpuColorWrite::ALL) {
        return wgpu::ColorWrites::ALL;
    }
    let mut out = wgpu::ColorWrites::empty();
    let pairs = [
        (w::GpuColorWrite::RED, wgpu::ColorWrites::RED),
        (w::GpuColorWrite::GREEN, wgpu::ColorWrites::GREEN),
        (w::GpuColorWrite::BLUE, wgpu::ColorWrites::BLUE),
        (w::GpuColorWrite::ALPHA, wgpu::ColorWrites::ALPHA),
    ];
    for (a, b) in pairs {
        if c.contains(a) {
            out |= b;
        }
    }
    out
}

pub fn color(c: w::GpuColor) -> wgpu::Color {
    wgpu::Color { r: c.r, g: c.g, b: c.b, a: c.a }
}

/// `gpu-extent3-d` with WebGPU's defaults (height and depth 1).
pub fn extent(e: w::GpuExtent3D) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width: e.width,
        height: e.height.unwrap_or(1),
        depth_or_array_layers: e.depth_or_array_layers.unwrap_or(1),
    }
}

pub fn origin(o: Option<w::GpuOrigin3D>) -> wgpu::Origin3d {
    let o = o.unwrap_or(w::GpuOrigin3D { x: None, y: None, z: None });
    wgpu::Origin3d { x: o.x.unwrap_or(0), y: o.y.unwrap_or(0), z: o.z.unwrap_or(0) }
}

pub fn buffer_layout(l: w::GpuTexelCopyBufferLayout) -> wgpu::TexelCopyBufferLayout {
    wgpu::TexelCopyBufferLayout {
        offset: l.offset.unwrap_or(0),
        bytes_per_row: l.bytes_per_row,
        rows_per_image: l.rows_per_image,
    }
}

pub fn blend_component(c: w::GpuBlendComponent) -> wgpu::BlendComponent {
    wgpu::BlendComponent {
        operation: c.operation.map(blend_operation).unwrap_or(wgpu::BlendOperation::Add),
        src_factor: c.src_factor.map(blend_factor).unwrap_or(wgpu::BlendFactor::One),
        dst_factor: c.dst_factor.map(blend_factor).unwrap_or(wgpu::BlendFactor::Zero),
    }
}

pub fn color_target(t: w::GpuColorTargetState) -> wgpu::ColorTargetState {
    wgpu::ColorTargetState {
        format: texture_format(t.format),
        blend: t.blend.map(|b| wgpu::BlendState {
            color: blend_component(b.color),
            alpha: blend_component(b.alpha),
        }),
        write_mask: t.write_mask.map(color_write).unwrap_or(wgpu::ColorWrites::ALL),
    }
}

pub fn stencil_face(s: Option<w::GpuStencilFaceState>) -> wgpu::StencilFaceState {
    let Some(s) = s else { return wgpu::StencilFaceState::IGNORE };
    wgpu::StencilFaceState {
        compare: s.compare.map(compare_function).unwrap_or(wgpu::CompareFunction::Always),
        fail_op: s.fail_op.map(stencil_operation).unwrap_or(wgpu::StencilOperation::Keep),
        depth_fail_op: s.depth_fail_op.map(stencil_operation).unwrap_or(wgpu::StencilOperation::Keep),
        pass_op: s.pass_op.map(stencil_operation).unwrap_or(wgpu::StencilOperation::Keep),
    }
}

pub fn depth_stencil(d: w::GpuDepthStencilState) -> wgpu::DepthStencilState {
    wgpu::DepthStencilState {
        format: texture_format(d.format),
        depth_write_enabled: d.depth_write_enabled,
        depth_compare: d.depth_compare.map(compare_function),
        stencil: wgpu::StencilState {
            front: stencil_face(d.stencil_front),
            back: stencil_face(d.stencil_back),
            read_mask: d.stencil_read_mask.unwrap_or(0xFFFF_FFFF),
            write_mask: d.stencil_write_mask.unwrap_or(0xFFFF_FFFF),
        },
        bias: wgpu::DepthBiasState {
            constant: d.depth_bias.unwrap_or(0),
            slope_scale: d.depth_bias_slope_scale.unwrap_or(0.0),
            clamp: d.depth_bias_clamp.unwrap_or(0.0),
        },
    }
}

pub fn primitive(p: Option<w::GpuPrimitiveState>) -> wgpu::PrimitiveState {
    let Some(p) = p else { return wgpu::PrimitiveState::default() };
    wgpu::PrimitiveState {
        topology: p.topology.map(primitive_topology).unwrap_or(wgpu::PrimitiveTopology::TriangleList),
        strip_index_format: p.strip_index_format.map(index_format),
        front_face: p.front_face.map(front_face).unwrap_or(wgpu::FrontFace::Ccw),
        cull_mode: p.cull_mode.and_then(cull_mode),
        unclipped_depth: p.unclipped_depth.unwrap_or(false),
        polygon_mode: wgpu::PolygonMode::Fill,
        conservative: false,
    }
}

pub fn multisample(m: Option<w::GpuMultisampleState>) -> wgpu::MultisampleState {
    let Some(m) = m else { return wgpu::MultisampleState::default() };
    wgpu::MultisampleState {
        count: m.count.unwrap_or(1),
        mask: m.mask.map(u64::from).unwrap_or(u64::MAX),
        alpha_to_coverage_enabled: m.alpha_to_coverage_enabled.unwrap_or(false),
    }
}

pub fn sampler_descriptor(d: Option<w::GpuSamplerDescriptor>) -> (wgpu::SamplerDescriptor<'static>, Option<String>) {
    let d = d.unwrap_or(w::GpuSamplerDescriptor {
        address_mode_u: None, address_mode_v: None, address_mode_w: None,
        mag_filter: None, min_filter: None, mipmap_filter: None,
        lod_min_clamp: None, lod_max_clamp: None, compare: None,
        max_anisotropy: None, label: None,
    });
    let desc = wgpu::SamplerDescriptor {
        label: None,
        address_mode_u: d.address_mode_u.map(address_mode).unwrap_or_default(),
        address_mode_v: d.address_mode_v.map(address_mode).unwrap_or_default(),
        address_mode_w: d.address_mode_w.map(address_mode).unwrap_or_default(),
        mag_filter: d.mag_filter.map(filter_mode).unwrap_or_default(),
        min_filter: d.min_filter.map(filter_mode).unwrap_or_default(),
        mipmap_filter: d.mipmap_filter.map(mipmap_filter_mode).unwrap_or_default(),
        lod_min_clamp: d.lod_min_clamp.unwrap_or(0.0),
        lod_max_clamp: d.lod_max_clamp.unwrap_or(32.0),
        compare: d.compare.map(compare_function),
        anisotropy_clamp: d.max_anisotropy.unwrap_or(1),
        border_color: None,
    };
    (desc, d.label)
}

pub fn bind_group_layout_entry(e: &w::GpuBindGroupLayoutEntry) -> Result<wgpu::BindGroupLayoutEntry, String> {
    let kinds = e.buffer.is_some() as u8 + e.sampler.is_some() as u8 + e.texture.is_some() as u8
        + e.storage_texture.is_some() as u8;
    if kinds != 1 {
        return Err(format!(
            "bind group layout entry {} must set exactly one of buffer, sampler, texture, storage-texture (it sets {kinds})",
            e.binding
        ));
    }
    let ty = if let Some(b) = &e.buffer {
        wgpu::BindingType::Buffer {
            ty: match b.type_.unwrap_or(w::GpuBufferBindingType::Uniform) {
                w::GpuBufferBindingType::Uniform => wgpu::BufferBindingType::Uniform,
                w::GpuBufferBindingType::Storage => wgpu::BufferBindingType::Storage { read_only: false },
                w::GpuBufferBindingType::ReadOnlyStorage => wgpu::BufferBindingType::Storage { read_only: true },
            },
            has_dynamic_offset: b.has_dynamic_offset.unwrap_or(false),
            min_binding_size: b.min_binding_size.and_then(wgpu::BufferSize::new),
        }
    } else if let Some(s) = &e.sampler {
        wgpu::BindingType::Sampler(sampler_binding_type(s.type_.unwrap_or(w::GpuSamplerBindingType::Filtering)))
    } else if let Some(t) = &e.texture {
        wgpu::BindingType::Texture {
            sample_type: texture_sample_type(t.sample_type.unwrap_or(w::GpuTextureSampleType::Float)),
            view_dimension: texture_view_dimension(t.view_dimension.unwrap_or(w::GpuTextureViewDimension::D2)),
            multisampled: t.multisampled.unwrap_or(false),
        }
    } else if let Some(s) = &e.storage_texture {
        wgpu::BindingType::StorageTexture {
            access: storage_texture_access(s.access.unwrap_or(w::GpuStorageTextureAccess::WriteOnly)),
            format: texture_format(s.format),
            view_dimension: texture_view_dimension(s.view_dimension.unwrap_or(w::GpuTextureViewDimension::D2)),
        }
    } else {
        unreachable!("exactly one binding kind was checked above")
    };
    Ok(wgpu::BindGroupLayoutEntry { binding: e.binding, visibility: shader_stage(e.visibility), ty, count: None })
}

/// `gpu-texture-descriptor` → wgpu, with WebGPU's defaults.
pub fn texture_descriptor(d: &w::GpuTextureDescriptor) -> wgpu::TextureDescriptor<'static> {
    wgpu::TextureDescriptor {
        label: None,
        size: extent(d.size),
        mip_level_count: d.mip_level_count.unwrap_or(1),
        sample_count: d.sample_count.unwrap_or(1),
        dimension: d.dimension.map(texture_dimension).unwrap_or(wgpu::TextureDimension::D2),
        format: texture_format(d.format),
        usage: texture_usage(d.usage),
        view_formats: &[],
    }
}
