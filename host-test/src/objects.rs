//! The host-side value behind each `wasi:webgpu` resource.
//!
//! Each WIT resource maps to one type here (see the `with` table of `bindgen!` in `lib.rs`).
//! WebGPU objects keep their label and, where a later call can fail on them, the state of the
//! device they belong to, so that errors reach the right device's scopes.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::state::{DeviceState, ErrorValue, LostValue};
use std::sync::{Arc, Mutex};

/// `gpu`: the entry point; the instance lives in [`crate::WebGpuCtx`].
pub struct Gpu;

pub struct Adapter {
    pub adapter: wgpu::Adapter,
}

pub struct AdapterInfo {
    pub info: wgpu::AdapterInfo,
}

/// `gpu-supported-features`: the WebGPU names that `has` answers `true` for.
pub struct SupportedFeatures {
    pub names: Vec<&'static str>,
}

/// `gpu-supported-limits`.
pub struct SupportedLimits {
    pub limits: wgpu::Limits,
}

pub struct WgslLanguageFeatures {
    pub names: Vec<&'static str>,
}

pub struct Device {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub state: Arc<DeviceState>,
    pub adapter_info: wgpu::AdapterInfo,
    pub features: Vec<&'static str>,
    pub label: String,
}

/// `gpu-queue`: every handle of one device's queue shares its label (kept in the device state).
pub struct Queue {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub state: Arc<DeviceState>,
}

/// Where a buffer is in its mapping life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapPhase {
    Unmapped,
    /// A `map-async` is in flight; the number tells it apart from a later one.
    Pending(u64),
    Mapped { write: bool, offset: u64, size: u64 },
}

pub struct MapState {
    pub phase: MapPhase,
    /// Whether the buffer was destroyed: a `map-async` of it is a validation error, every time.
    pub destroyed: bool,
    pub attempts: u64,
}

pub struct Buffer {
    pub buffer: wgpu::Buffer,
    pub device: wgpu::Device,
    pub state: Arc<DeviceState>,
    pub usage: w::GpuBufferUsage,
    pub size: u64,
    pub map: Arc<Mutex<MapState>>,
    pub label: String,
}

impl Buffer {
    /// The buffer's map phase, after WebGPU's `destroy()` of its device, which unmaps every
    /// buffer of the device: a mapped buffer of a destroyed device is unmapped first.
    pub fn phase(&self) -> MapPhase {
        let mut map = crate::state::lock(&self.map);
        if matches!(map.phase, MapPhase::Mapped { .. }) && self.state.is_destroyed() {
            map.phase = MapPhase::Unmapped;
            drop(map);
            crate::shield(&self.state, "unmap", || self.buffer.unmap());
            return MapPhase::Unmapped;
        }
        map.phase
    }
}

pub struct Texture {
    pub texture: wgpu::Texture,
    pub state: Arc<DeviceState>,
    pub width: u32,
    pub height: u32,
    pub depth_or_array_layers: u32,
    pub mip_level_count: u32,
    pub sample_count: u32,
    pub dimension: w::GpuTextureDimension,
    pub format: w::GpuTextureFormat,
    pub usage: w::GpuTextureUsage,
    pub binding_view_dimension: Option<w::GpuTextureViewDimension>,
    pub label: String,
}

/// A WebGPU object whose only host-side state is itself and its label.
pub struct Labeled<T> {
    pub inner: T,
    pub label: String,
}

pub type TextureView = Labeled<wgpu::TextureView>;
pub type Sampler = Labeled<wgpu::Sampler>;
pub type BindGroupLayout = Labeled<wgpu::BindGroupLayout>;
pub type BindGroup = Labeled<wgpu::BindGroup>;
pub type PipelineLayout = Labeled<wgpu::PipelineLayout>;
pub struct ShaderModule {
    pub inner: wgpu::ShaderModule,
    pub label: String,
    /// The workgroup storage each compute entry point uses, in bytes as WebGPU counts it (see
    /// `crate::shader`), by entry point name.
    pub workgroup_storage: Vec<(String, u64)>,
}
pub type ComputePipeline = Labeled<wgpu::ComputePipeline>;
pub type RenderPipeline = Labeled<wgpu::RenderPipeline>;
/// `None` when the bundle is invalid (its encoder failed to finish).
pub type RenderBundle = Labeled<Option<wgpu::RenderBundle>>;

pub struct QuerySet {
    pub set: wgpu::QuerySet,
    pub ty: w::GpuQueryType,
    pub count: u32,
    pub label: String,
}

/// A command encoder; `None` once finished.
pub struct CommandEncoder {
    pub encoder: Option<wgpu::CommandEncoder>,
    pub state: Arc<DeviceState>,
    pub label: String,
}

/// A command buffer; `None` once submitted.
pub struct CommandBuffer {
    pub buffer: Option<wgpu::CommandBuffer>,
    pub label: String,
    /// The device of the encoder that made it.
    pub state: Arc<DeviceState>,
}

/// A pass encoder; `None` once ended.
pub struct PassEncoder<P> {
    pub pass: Option<P>,
    pub state: Arc<DeviceState>,
    pub label: String,
}

pub type ComputePassEncoder = PassEncoder<wgpu::ComputePass<'static>>;
pub type RenderPassEncoder = PassEncoder<wgpu::RenderPass<'static>>;

/// A command recorded by a render bundle encoder.
pub enum BundleCommand {
    SetPipeline(wgpu::RenderPipeline),
    SetBindGroup(u32, Option<wgpu::BindGroup>, Vec<u32>),
    SetIndexBuffer(wgpu::Buffer, std::ops::Range<u64>, wgpu::IndexFormat),
    SetVertexBuffer(u32, Option<(wgpu::Buffer, std::ops::Range<u64>)>),
    Draw(std::ops::Range<u32>, std::ops::Range<u32>),
    DrawIndexed(std::ops::Range<u32>, i32, std::ops::Range<u32>),
    DrawIndirect(wgpu::Buffer, u64),
    DrawIndexedIndirect(wgpu::Buffer, u64),
    SetImmediates(u32, Vec<u8>),
    PushDebugGroup,
    PopDebugGroup,
}

/// A render bundle encoder: its commands are recorded here and replayed into a wgpu bundle
/// encoder by `finish`, which is also where WebGPU reports a bundle's errors. `None` once
/// finished.
pub struct RenderBundleEncoder {
    pub commands: Option<Vec<BundleCommand>>,
    pub color_formats: Vec<Option<wgpu::TextureFormat>>,
    pub depth_stencil: Option<wgpu::RenderBundleDepthStencil>,
    pub sample_count: u32,
    pub device: wgpu::Device,
    pub state: Arc<DeviceState>,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct CompilationMessage {
    pub message: String,
    pub ty: w::GpuCompilationMessageType,
    pub line_num: u64,
    pub line_pos: u64,
    pub offset: u64,
    pub length: u64,
}

pub struct CompilationInfo {
    pub messages: Vec<CompilationMessage>,
}

pub type GpuError = ErrorValue;
pub type DeviceLostInfo = LostValue;

pub struct UncapturedErrorEvent {
    pub error: ErrorValue,
}

/// An insertion-ordered string-keyed record, as WebGPU's `record<K, V>`.
pub struct Record<V> {
    pub entries: Vec<(String, V)>,
}

impl<V: Clone> Record<V> {
    pub fn new() -> Self {
        Self { entries: Vec::new() }
    }
    pub fn add(&mut self, key: String, value: V) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.entries.push((key, value)),
        }
    }
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| k != key);
    }
}

impl<V: Clone> Default for Record<V> {
    fn default() -> Self {
        Self::new()
    }
}

pub type RecordGpuPipelineConstantValue = Record<f64>;
pub type RecordOptionGpuSize64 = Record<Option<u64>>;

/// `gpu-canvas-context`. This host is headless: no function of `wasi:webgpu` creates a canvas
/// context (a windowing interface would), so no value of this type can exist. The type is
/// uninhabited, and its methods are total matches the compiler proves unreachable.
pub enum CanvasContext {}
