//! Buffers (mapping included), textures and views, samplers, layouts, bind groups, shader
//! modules, pipelines, query sets, compilation info, the record resources, and the canvas
//! context.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::convert;
use crate::objects::*;
use crate::state::{DeviceState, ErrorValue, lock};
use crate::wait::wait_on_gpu;
use crate::{WebGpu, WebGpuCtxView, WebGpuView, shield};
use wasmtime::component::{Accessor, Resource};

/// `label`, `set-label` and `drop` for resources whose value is a [`Labeled`].
macro_rules! labeled {
    ($($trait:ident for $ty:ty;)*) => {$(
        impl w::$trait for WebGpuCtxView<'_> {
            fn label(&mut self, this: Resource<$ty>) -> wasmtime::Result<String> {
                Ok(self.table.get(&this)?.label.clone())
            }
            fn set_label(&mut self, this: Resource<$ty>, label: String) -> wasmtime::Result<()> {
                self.table.get_mut(&this)?.label = label;
                Ok(())
            }
            fn drop(&mut self, this: Resource<$ty>) -> wasmtime::Result<()> {
                self.table.delete(this)?;
                Ok(())
            }
        }
    )*};
}

labeled! {
    HostGpuBindGroup for BindGroup;
    HostGpuBindGroupLayout for BindGroupLayout;
    HostGpuPipelineLayout for PipelineLayout;
    HostGpuSampler for Sampler;
    HostGpuTextureView for TextureView;
    HostGpuRenderBundle for RenderBundle;
}

/// The same for a resource with more methods: `label` and `set-label` inside its own impl.
macro_rules! label_methods {
    ($ty:ty) => {
        fn label(&mut self, this: Resource<$ty>) -> wasmtime::Result<String> {
            Ok(self.table.get(&this)?.label.clone())
        }
        fn set_label(&mut self, this: Resource<$ty>, label: String) -> wasmtime::Result<()> {
            self.table.get_mut(&this)?.label = label;
            Ok(())
        }
    };
}
pub(crate) use label_methods;

fn range_error(kind: w::GetMappedRangeErrorKind, message: String) -> w::GetMappedRangeError {
    w::GetMappedRangeError { kind, message }
}

/// Checks a mapped-range request against the buffer's mapping; the byte range on success.
fn mapped_range(
    b: &Buffer,
    offset: Option<u64>,
    size: Option<u64>,
    write: bool,
) -> Result<std::ops::Range<u64>, w::GetMappedRangeError> {
    use w::GetMappedRangeErrorKind as K;
    let phase = b.phase();
    let MapPhase::Mapped { write: mapped_for_write, offset: mo, size: ms } = phase else {
        return Err(range_error(K::OperationError, "the buffer is not mapped".into()));
    };
    if write && !mapped_for_write {
        return Err(range_error(K::OperationError, "the buffer is mapped for reading, not writing".into()));
    }
    let offset = offset.unwrap_or(0);
    let size = size.unwrap_or_else(|| b.size.saturating_sub(offset));
    let end = offset.checked_add(size);
    if !offset.is_multiple_of(8) || !size.is_multiple_of(4) {
        return Err(range_error(K::OperationError, format!("offset {offset} must be a multiple of 8 and size {size} of 4")));
    }
    match end {
        Some(end) if offset >= mo && end <= mo + ms => Ok(offset..end),
        _ => Err(range_error(
            K::OperationError,
            format!("range {offset}+{size} is outside the mapped range {mo}+{ms}"),
        )),
    }
}

impl w::HostGpuBuffer for WebGpuCtxView<'_> {
    fn size(&mut self, this: Resource<Buffer>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.size)
    }

    fn usage(&mut self, this: Resource<Buffer>) -> wasmtime::Result<w::GpuBufferUsage> {
        Ok(self.table.get(&this)?.usage)
    }

    fn map_state(&mut self, this: Resource<Buffer>) -> wasmtime::Result<w::GpuBufferMapState> {
        Ok(match self.table.get(&this)?.phase() {
            MapPhase::Unmapped => w::GpuBufferMapState::Unmapped,
            MapPhase::Pending(_) => w::GpuBufferMapState::Pending,
            MapPhase::Mapped { .. } => w::GpuBufferMapState::Mapped,
        })
    }

    fn get_mapped_range_get_with_copy(
        &mut self,
        this: Resource<Buffer>,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> wasmtime::Result<Result<Vec<u8>, w::GetMappedRangeError>> {
        let b = self.table.get(&this)?;
        let range = match mapped_range(b, offset, size, false) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        if range.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        Ok(match b.buffer.get_mapped_range(range) {
            Ok(view) => Ok(view.to_vec()),
            Err(e) => Err(range_error(w::GetMappedRangeErrorKind::OperationError, e.to_string())),
        })
    }

    fn get_mapped_range_set_with_copy(
        &mut self,
        this: Resource<Buffer>,
        data: Vec<u8>,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> wasmtime::Result<Result<(), w::GetMappedRangeError>> {
        let b = self.table.get(&this)?;
        let range = match mapped_range(b, offset, size, true) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let len = (range.end - range.start) as usize;
        if data.len() > len {
            return Ok(Err(range_error(
                w::GetMappedRangeErrorKind::RangeError,
                format!("{} bytes do not fit the {len}-byte range", data.len()),
            )));
        }
        if data.is_empty() {
            return Ok(Ok(()));
        }
        Ok(match b.buffer.get_mapped_range_mut(range) {
            Ok(mut view) => {
                view.slice(..data.len()).copy_from_slice(&data);
                Ok(())
            }
            Err(e) => Err(range_error(w::GetMappedRangeErrorKind::OperationError, e.to_string())),
        })
    }

    fn unmap(&mut self, this: Resource<Buffer>) -> wasmtime::Result<Result<(), w::UnmapError>> {
        let b = self.table.get(&this)?;
        let was = std::mem::replace(&mut lock(&b.map).phase, MapPhase::Unmapped);
        if was != MapPhase::Unmapped {
            // A pending map is aborted by this: its callback sees an error and `map-async`
            // reports `abort-error` (the phase no longer matches its attempt).
            shield(&b.state, "unmap", || b.buffer.unmap());
        }
        Ok(Ok(()))
    }

    fn destroy(&mut self, this: Resource<Buffer>) -> wasmtime::Result<()> {
        let b = self.table.get(&this)?;
        let was = {
            let mut map = lock(&b.map);
            map.destroyed = true;
            std::mem::replace(&mut map.phase, MapPhase::Unmapped)
        };
        if was != MapPhase::Unmapped {
            // WebGPU's destroy reports nothing, even of an invalid buffer.
            let _ = b.state.capture(|| shield(&b.state, "unmap", || b.buffer.unmap()));
        }
        b.buffer.destroy();
        Ok(())
    }

    label_methods!(Buffer);

    fn drop(&mut self, this: Resource<Buffer>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

fn map_error(kind: w::MapAsyncErrorKind, message: impl Into<String>) -> w::MapAsyncError {
    w::MapAsyncError { kind, message: message.into() }
}

impl<T: WebGpuView + 'static> w::HostGpuBufferWithStore<T> for WebGpu {
    async fn map_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Buffer>,
        mode: w::GpuMapMode,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> wasmtime::Result<Result<(), w::MapAsyncError>> {
        let _traced = crate::trace::span(format_args!("map-async asked"), "map-async resolved");
        let started = accessor.with(|mut a| {
            let b = a.get().table.get(&this)?;
            match b.state.capture(|| start_map(b, mode, offset, size)) {
                (started, None) => wasmtime::Result::<_>::Ok(started),
                (started, Some(error)) => crate::invalid_work(&b.state, error).map(|()| started),
            }
        })?;
        let (buffer, state, map, attempt, offset, size, write, rx) = match started {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let result = match rx {
            // The buffer's work was submitted by now (or is queued for wgpu's next submission).
            Some(rx) => wait_on_gpu(&state, rx, state.last_submission()).await,
            None => {
                // A zero-size map has nothing to wait for, but resolves later all the same.
                tokio::task::yield_now().await;
                Some(Ok(()))
            }
        };
        let mut state = lock(&map);
        if state.phase != MapPhase::Pending(attempt) {
            return Ok(Err(map_error(w::MapAsyncErrorKind::AbortError, "the buffer was unmapped or destroyed before the map completed")));
        }
        Ok(match result {
            Some(Ok(())) => {
                state.phase = MapPhase::Mapped { write, offset, size };
                Ok(())
            }
            Some(Err(e)) => {
                state.phase = MapPhase::Unmapped;
                Err(map_error(w::MapAsyncErrorKind::OperationError, e.to_string()))
            }
            None => {
                state.phase = MapPhase::Unmapped;
                drop(buffer);
                Err(map_error(w::MapAsyncErrorKind::OperationError, "the device was lost"))
            }
        })
    }
}

type Started = (
    wgpu::Buffer,
    std::sync::Arc<DeviceState>,
    std::sync::Arc<std::sync::Mutex<MapState>>,
    u64,
    u64,
    u64,
    bool,
    Option<futures::channel::oneshot::Receiver<Result<(), wgpu::BufferAsyncError>>>,
);

/// Validates a `map-async` as WebGPU does and starts it: a map while another is pending is an
/// `operation-error` alone (WebGPU's content-timeline check of `[[pending_map]]`); a failed
/// device-timeline check (a destroyed buffer, a mapped one, the mode, usage or range) is a
/// validation error on the device and an `operation-error` result, each time.
fn start_map(b: &Buffer, mode: w::GpuMapMode, offset: Option<u64>, size: Option<u64>) -> Result<Started, w::MapAsyncError> {
    let fail = |msg: String| {
        b.state.report(ErrorValue::validation(format!("map-async: {msg}")));
        map_error(w::MapAsyncErrorKind::OperationError, msg)
    };
    if b.state.is_lost() {
        return Err(map_error(w::MapAsyncErrorKind::OperationError, "the device was lost"));
    }
    b.phase();
    let (pending, destroyed) = {
        let map = lock(&b.map);
        (matches!(map.phase, MapPhase::Pending(_)), map.destroyed)
    };
    if pending {
        return Err(map_error(w::MapAsyncErrorKind::OperationError, "a map of the buffer is already pending"));
    }
    if destroyed {
        return Err(fail("the buffer is destroyed".into()));
    }
    let write = match (mode.contains(w::GpuMapMode::READ), mode.contains(w::GpuMapMode::WRITE)) {
        (true, false) => false,
        (false, true) => true,
        _ => return Err(fail("the mode must be exactly one of read and write".into())),
    };
    let needed = if write { w::GpuBufferUsage::MAP_WRITE } else { w::GpuBufferUsage::MAP_READ };
    if !b.usage.contains(needed) {
        return Err(fail(format!("the buffer's usage lacks {needed:?}")));
    }
    let offset = offset.unwrap_or(0);
    let size = size.unwrap_or_else(|| b.size.saturating_sub(offset));
    if !offset.is_multiple_of(8) || !size.is_multiple_of(4) {
        return Err(fail(format!("offset {offset} must be a multiple of 8 and size {size} of 4")));
    }
    if offset.checked_add(size).is_none_or(|end| end > b.size) {
        return Err(fail(format!("range {offset}+{size} is outside the {}-byte buffer", b.size)));
    }
    let mut state = lock(&b.map);
    if state.phase != MapPhase::Unmapped {
        drop(state);
        return Err(fail("the buffer is already mapped".into()));
    }
    state.attempts += 1;
    let attempt = state.attempts;
    state.phase = MapPhase::Pending(attempt);
    drop(state);
    let rx = if size == 0 {
        None
    } else {
        let (tx, rx) = futures::channel::oneshot::channel();
        let wmode = if write { wgpu::MapMode::Write } else { wgpu::MapMode::Read };
        let started = shield(&b.state, "map-async", || {
            b.buffer.slice(offset..offset + size).map_async(wmode, move |r| {
                let _ = tx.send(r);
            })
        });
        if started.is_none() {
            lock(&b.map).phase = MapPhase::Unmapped;
            return Err(map_error(w::MapAsyncErrorKind::OperationError, "map-async was rejected"));
        }
        Some(rx)
    };
    Ok((b.buffer.clone(), b.state.clone(), b.map.clone(), attempt, offset, size, write, rx))
}

impl w::HostGpuTexture for WebGpuCtxView<'_> {
    fn create_view(
        &mut self,
        this: Resource<Texture>,
        desc: Option<w::GpuTextureViewDescriptor>,
    ) -> wasmtime::Result<Resource<TextureView>> {
        let t = self.table.get(&this)?;
        let desc = desc.unwrap_or(w::GpuTextureViewDescriptor {
            format: None,
            dimension: None,
            usage: None,
            aspect: None,
            base_mip_level: None,
            mip_level_count: None,
            base_array_layer: None,
            array_layer_count: None,
            swizzle: None,
            label: None,
        });
        if let Some(swizzle) = desc.swizzle.as_deref().filter(|s| *s != "rgba") {
            t.state.report(ErrorValue::validation(format!(
                "create-view: swizzle {swizzle:?} needs the `texture-component-swizzle` feature, which this host does not offer"
            )));
        }
        let wdesc = wgpu::TextureViewDescriptor {
            label: desc.label.as_deref(),
            format: desc.format.map(convert::texture_format),
            dimension: desc.dimension.map(convert::texture_view_dimension),
            usage: desc.usage.map(convert::texture_usage),
            aspect: desc.aspect.map(convert::texture_aspect).unwrap_or_default(),
            base_mip_level: desc.base_mip_level.unwrap_or(0),
            mip_level_count: desc.mip_level_count,
            base_array_layer: desc.base_array_layer.unwrap_or(0),
            array_layer_count: desc.array_layer_count,
        };
        let inner = t.texture.create_view(&wdesc);
        Ok(self.table.push(Labeled { inner, label: desc.label.unwrap_or_default() })?)
    }

    fn destroy(&mut self, this: Resource<Texture>) -> wasmtime::Result<()> {
        self.table.get(&this)?.texture.destroy();
        Ok(())
    }

    fn width(&mut self, this: Resource<Texture>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.width)
    }

    fn height(&mut self, this: Resource<Texture>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.height)
    }

    fn depth_or_array_layers(&mut self, this: Resource<Texture>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.depth_or_array_layers)
    }

    fn mip_level_count(&mut self, this: Resource<Texture>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.mip_level_count)
    }

    fn sample_count(&mut self, this: Resource<Texture>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.sample_count)
    }

    fn dimension(&mut self, this: Resource<Texture>) -> wasmtime::Result<w::GpuTextureDimension> {
        Ok(self.table.get(&this)?.dimension)
    }

    fn format(&mut self, this: Resource<Texture>) -> wasmtime::Result<w::GpuTextureFormat> {
        Ok(self.table.get(&this)?.format)
    }

    fn usage(&mut self, this: Resource<Texture>) -> wasmtime::Result<w::GpuTextureUsage> {
        Ok(self.table.get(&this)?.usage)
    }

    fn texture_binding_view_dimension(&mut self, this: Resource<Texture>) -> wasmtime::Result<Option<w::GpuTextureViewDimension>> {
        Ok(self.table.get(&this)?.binding_view_dimension)
    }

    label_methods!(Texture);

    fn drop(&mut self, this: Resource<Texture>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuShaderModule for WebGpuCtxView<'_> {
    label_methods!(ShaderModule);

    fn drop(&mut self, this: Resource<ShaderModule>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl<T: WebGpuView + 'static> w::HostGpuShaderModuleWithStore<T> for WebGpu {
    async fn get_compilation_info(accessor: &Accessor<T, Self>, this: Resource<ShaderModule>) -> wasmtime::Result<Resource<CompilationInfo>> {
        let module = accessor.with(|mut a| wasmtime::Result::<_>::Ok(a.get().table.get(&this)?.inner.clone()))?;
        let info = module.get_compilation_info().await;
        let messages = info
            .messages
            .into_iter()
            .map(|m| {
                let loc = m.location.unwrap_or(wgpu::SourceLocation { line_number: 0, line_position: 0, offset: 0, length: 0 });
                CompilationMessage {
                    message: m.message,
                    ty: match m.message_type {
                        wgpu::CompilationMessageType::Error => w::GpuCompilationMessageType::Error,
                        wgpu::CompilationMessageType::Warning => w::GpuCompilationMessageType::Warning,
                        wgpu::CompilationMessageType::Info => w::GpuCompilationMessageType::Info,
                    },
                    line_num: loc.line_number.into(),
                    line_pos: loc.line_position.into(),
                    offset: loc.offset.into(),
                    length: loc.length.into(),
                }
            })
            .collect();
        accessor.with(|mut a| Ok(a.get().table.push(CompilationInfo { messages })?))
    }
}

impl w::HostGpuCompilationInfo for WebGpuCtxView<'_> {
    fn messages(&mut self, this: Resource<CompilationInfo>) -> wasmtime::Result<Vec<Resource<CompilationMessage>>> {
        let messages = self.table.get(&this)?.messages.clone();
        messages.into_iter().map(|m| Ok(self.table.push(m)?)).collect()
    }

    fn drop(&mut self, this: Resource<CompilationInfo>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuCompilationMessage for WebGpuCtxView<'_> {
    fn message(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.message.clone())
    }

    fn type_(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<w::GpuCompilationMessageType> {
        Ok(self.table.get(&this)?.ty)
    }

    fn line_num(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.line_num)
    }

    fn line_pos(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.line_pos)
    }

    fn offset(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.offset)
    }

    fn length(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.length)
    }

    fn drop(&mut self, this: Resource<CompilationMessage>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuComputePipeline for WebGpuCtxView<'_> {
    label_methods!(ComputePipeline);

    fn get_bind_group_layout(&mut self, this: Resource<ComputePipeline>, index: u32) -> wasmtime::Result<Resource<BindGroupLayout>> {
        let inner = self.table.get(&this)?.inner.get_bind_group_layout(index);
        Ok(self.table.push(Labeled { inner, label: String::new() })?)
    }

    fn drop(&mut self, this: Resource<ComputePipeline>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuRenderPipeline for WebGpuCtxView<'_> {
    label_methods!(RenderPipeline);

    fn get_bind_group_layout(&mut self, this: Resource<RenderPipeline>, index: u32) -> wasmtime::Result<Resource<BindGroupLayout>> {
        let inner = self.table.get(&this)?.inner.get_bind_group_layout(index);
        Ok(self.table.push(Labeled { inner, label: String::new() })?)
    }

    fn drop(&mut self, this: Resource<RenderPipeline>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuQuerySet for WebGpuCtxView<'_> {
    fn destroy(&mut self, this: Resource<QuerySet>) -> wasmtime::Result<()> {
        self.table.get(&this)?.set.destroy();
        Ok(())
    }

    fn type_(&mut self, this: Resource<QuerySet>) -> wasmtime::Result<w::GpuQueryType> {
        Ok(self.table.get(&this)?.ty)
    }

    fn count(&mut self, this: Resource<QuerySet>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&this)?.count)
    }

    label_methods!(QuerySet);

    fn drop(&mut self, this: Resource<QuerySet>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// The record resources: insertion-ordered maps with the methods WebGPU's records have.
macro_rules! record {
    ($trait:ident, $ty:ty, $v:ty) => {
        impl w::$trait for WebGpuCtxView<'_> {
            fn new(&mut self) -> wasmtime::Result<Resource<$ty>> {
                Ok(self.table.push(<$ty>::new())?)
            }
            fn add(&mut self, this: Resource<$ty>, key: String, value: $v) -> wasmtime::Result<()> {
                self.table.get_mut(&this)?.add(key, value);
                Ok(())
            }
            fn get(&mut self, this: Resource<$ty>, key: String) -> wasmtime::Result<Option<$v>> {
                Ok(self.table.get(&this)?.get(&key))
            }
            fn has(&mut self, this: Resource<$ty>, key: String) -> wasmtime::Result<bool> {
                Ok(self.table.get(&this)?.get(&key).is_some())
            }
            fn remove(&mut self, this: Resource<$ty>, key: String) -> wasmtime::Result<()> {
                self.table.get_mut(&this)?.remove(&key);
                Ok(())
            }
            fn keys(&mut self, this: Resource<$ty>) -> wasmtime::Result<Vec<String>> {
                Ok(self.table.get(&this)?.entries.iter().map(|(k, _)| k.clone()).collect())
            }
            fn values(&mut self, this: Resource<$ty>) -> wasmtime::Result<Vec<$v>> {
                Ok(self.table.get(&this)?.entries.iter().map(|(_, v)| v.clone()).collect())
            }
            fn entries(&mut self, this: Resource<$ty>) -> wasmtime::Result<Vec<(String, $v)>> {
                Ok(self.table.get(&this)?.entries.clone())
            }
            fn drop(&mut self, this: Resource<$ty>) -> wasmtime::Result<()> {
                self.table.delete(this)?;
                Ok(())
            }
        }
    };
}

record!(HostRecordGpuPipelineConstantValue, RecordGpuPipelineConstantValue, f64);
record!(HostRecordOptionGpuSize64, RecordOptionGpuSize64, Option<u64>);

impl w::HostGpuCanvasContext for WebGpuCtxView<'_> {
    fn configure(&mut self, this: Resource<CanvasContext>, _configuration: w::GpuCanvasConfiguration) -> wasmtime::Result<()> {
        match *self.table.get(&this)? {}
    }

    fn unconfigure(&mut self, this: Resource<CanvasContext>) -> wasmtime::Result<()> {
        match *self.table.get(&this)? {}
    }

    fn get_configuration(&mut self, this: Resource<CanvasContext>) -> wasmtime::Result<Option<w::GpuCanvasConfigurationOwned>> {
        match *self.table.get(&this)? {}
    }

    fn get_current_texture(&mut self, this: Resource<CanvasContext>) -> wasmtime::Result<Resource<Texture>> {
        match *self.table.get(&this)? {}
    }

    fn drop(&mut self, this: Resource<CanvasContext>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
