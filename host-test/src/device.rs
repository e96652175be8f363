//! `gpu-device` (object creation, error scopes, loss), `gpu-queue`, and the error and loss
//! resources.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::convert;
use crate::objects::*;
use crate::state::{DeviceState, ErrorValue, Listener};
use crate::wait::wait_on_gpu;
use crate::{WebGpu, WebGpuCtxView, WebGpuView, shield};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime::StoreContextMut;
use wasmtime::component::{
    Access, Accessor, Destination, FutureProducer, FutureReader, Resource, ResourceTable, StreamProducer,
    StreamReader, StreamResult,
};

/// Reads the pipeline constants record a descriptor owns (and removes it from the table).
fn take_constants(
    table: &mut ResourceTable,
    record: Option<Resource<RecordGpuPipelineConstantValue>>,
) -> wasmtime::Result<Vec<(String, f64)>> {
    Ok(match record {
        Some(r) => table.delete(r)?.entries,
        None => Vec::new(),
    })
}

fn compilation_options<'a>(constants: &'a [(&'a str, f64)]) -> wgpu::PipelineCompilationOptions<'a> {
    wgpu::PipelineCompilationOptions { constants, zero_initialize_workgroup_memory: true }
}

fn layout<'t>(table: &'t ResourceTable, mode: &w::GpuLayoutMode) -> wasmtime::Result<Option<&'t wgpu::PipelineLayout>> {
    Ok(match mode {
        w::GpuLayoutMode::Specific(l) => Some(&table.get(l)?.inner),
        w::GpuLayoutMode::Auto => None,
    })
}

fn compute_pipeline(
    table: &mut ResourceTable,
    device: &Resource<Device>,
    desc: w::GpuComputePipelineDescriptor,
) -> wasmtime::Result<(ComputePipeline, Option<ErrorValue>)> {
    let constants = take_constants(table, desc.compute.constants)?;
    let constants: Vec<(&str, f64)> = constants.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let dev = table.get(device)?;
    let shader = table.get(&desc.compute.module)?;
    if let Some(error) = crate::shader::check_workgroup_storage(shader, desc.compute.entry_point.as_deref(), &dev.device.limits()) {
        let pipeline = crate::shader::invalid_compute_pipeline(&dev.device, &dev.state);
        return Ok((Labeled { inner: pipeline, label: desc.label.unwrap_or_default() }, Some(error)));
    }
    let module = &shader.inner;
    let wdesc = wgpu::ComputePipelineDescriptor {
        label: desc.label.as_deref(),
        layout: layout(table, &desc.layout)?,
        module,
        entry_point: desc.compute.entry_point.as_deref(),
        compilation_options: compilation_options(&constants),
        cache: None,
    };
    let (pipeline, error) = dev.state.capture(|| dev.device.create_compute_pipeline(&wdesc));
    Ok((Labeled { inner: pipeline, label: desc.label.unwrap_or_default() }, error))
}

fn render_pipeline(
    table: &mut ResourceTable,
    device: &Resource<Device>,
    desc: w::GpuRenderPipelineDescriptor,
) -> wasmtime::Result<(RenderPipeline, Option<ErrorValue>)> {
    let vconstants = take_constants(table, desc.vertex.constants)?;
    let vconstants: Vec<(&str, f64)> = vconstants.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (fragment, fconstants) = match desc.fragment {
        Some(mut f) => {
            let c = take_constants(table, f.constants.take())?;
            (Some(f), c)
        }
        None => (None, Vec::new()),
    };
    let fconstants: Vec<(&str, f64)> = fconstants.iter().map(|(k, v)| (k.as_str(), *v)).collect();

    let buffers_attrs: Vec<Option<(u64, wgpu::VertexStepMode, Vec<wgpu::VertexAttribute>)>> = desc
        .vertex
        .buffers
        .unwrap_or_default()
        .into_iter()
        .map(|b| {
            b.map(|b| {
                let attrs = b
                    .attributes
                    .iter()
                    .map(|a| wgpu::VertexAttribute {
                        format: convert::vertex_format(a.format),
                        offset: a.offset,
                        shader_location: a.shader_location,
                    })
                    .collect();
                (b.array_stride, b.step_mode.map(convert::vertex_step_mode).unwrap_or_default(), attrs)
            })
        })
        .collect();
    let buffers: Vec<Option<wgpu::VertexBufferLayout>> = buffers_attrs
        .iter()
        .map(|b| {
            b.as_ref().map(|(stride, step, attrs)| wgpu::VertexBufferLayout {
                array_stride: *stride,
                step_mode: *step,
                attributes: attrs,
            })
        })
        .collect();
    let targets: Vec<Option<wgpu::ColorTargetState>> = fragment
        .as_ref()
        .map(|f| f.targets.iter().map(|t| t.map(convert::color_target)).collect())
        .unwrap_or_default();

    let dev = table.get(device)?;
    let fragment_state = match &fragment {
        Some(f) => Some(wgpu::FragmentState {
            module: &table.get(&f.module)?.inner,
            entry_point: f.entry_point.as_deref(),
            compilation_options: compilation_options(&fconstants),
            targets: &targets,
        }),
        None => None,
    };
    let wdesc = wgpu::RenderPipelineDescriptor {
        label: desc.label.as_deref(),
        layout: layout(table, &desc.layout)?,
        vertex: wgpu::VertexState {
            module: &table.get(&desc.vertex.module)?.inner,
            entry_point: desc.vertex.entry_point.as_deref(),
            compilation_options: compilation_options(&vconstants),
            buffers: &buffers,
        },
        primitive: convert::primitive(desc.primitive),
        depth_stencil: desc.depth_stencil.map(convert::depth_stencil),
        multisample: convert::multisample(desc.multisample),
        fragment: fragment_state,
        multiview_mask: None,
        cache: None,
    };
    let (pipeline, error) = dev.state.capture(|| {
        shield(&dev.state, "create-render-pipeline", || dev.device.create_render_pipeline(&wdesc))
    });
    // If wgpu panicked on the descriptor, the invalid pipeline WebGPU would give, label kept.
    let inner = pipeline.unwrap_or_else(|| invalid_render_pipeline(dev));
    Ok((Labeled { inner, label: desc.label.unwrap_or_default() }, error))
}

/// An invalid render pipeline: what a failed creation returns. Made by asking wgpu for a
/// pipeline from a shader module that failed to compile, with its errors captured.
fn invalid_render_pipeline(dev: &Device) -> wgpu::RenderPipeline {
    dev.state.capture(|| {
        let module = dev.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl("invalid".into()),
        });
        dev.device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: None,
            layout: None,
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: None,
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            fragment: None,
            multiview_mask: None,
            cache: None,
        })
    })
    .0
}

/// The most bind group layouts any pipeline layout can have (wgpu's hard maximum).
const MAX_BIND_GROUPS: usize = 8;

/// An invalid bind group layout, as a failed creation returns (its own error is captured).
fn invalid_bind_group_layout(dev: &Device) -> wgpu::BindGroupLayout {
    let dup = wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
        count: None,
    };
    let desc = wgpu::BindGroupLayoutDescriptor { label: None, entries: &[dup, dup] };
    dev.state.capture(|| dev.device.create_bind_group_layout(&desc)).0
}

/// An invalid pipeline layout, as a failed creation returns (its own error is captured).
fn invalid_pipeline_layout(dev: &Device) -> wgpu::PipelineLayout {
    let desc = wgpu::PipelineLayoutDescriptor { label: None, bind_group_layouts: &[], immediate_size: u32::MAX };
    dev.state.capture(|| dev.device.create_pipeline_layout(&desc)).0
}

fn pipeline_error(e: ErrorValue) -> w::CreatePipelineError {
    let reason = match e.kind {
        w::GpuErrorKind::InternalError | w::GpuErrorKind::OutOfMemoryError => w::GpuPipelineErrorReason::Internal,
        w::GpuErrorKind::ValidationError => w::GpuPipelineErrorReason::Validation,
    };
    w::CreatePipelineError { kind: w::CreatePipelineErrorKind::GpuPipelineError(reason), message: e.message }
}

impl w::HostGpuDevice for WebGpuCtxView<'_> {
    fn features(&mut self, this: Resource<Device>) -> wasmtime::Result<Resource<SupportedFeatures>> {
        let names = self.table.get(&this)?.features.clone();
        Ok(self.table.push(SupportedFeatures { names })?)
    }

    fn limits(&mut self, this: Resource<Device>) -> wasmtime::Result<Resource<SupportedLimits>> {
        let limits = self.table.get(&this)?.device.limits();
        Ok(self.table.push(SupportedLimits { limits })?)
    }

    fn adapter_info(&mut self, this: Resource<Device>) -> wasmtime::Result<Resource<AdapterInfo>> {
        let info = self.table.get(&this)?.adapter_info.clone();
        Ok(self.table.push(AdapterInfo { info })?)
    }

    fn queue(&mut self, this: Resource<Device>) -> wasmtime::Result<Resource<Queue>> {
        let dev = self.table.get(&this)?;
        let queue = Queue { device: dev.device.clone(), queue: dev.queue.clone(), state: dev.state.clone() };
        Ok(self.table.push(queue)?)
    }

    fn destroy(&mut self, this: Resource<Device>) -> wasmtime::Result<()> {
        let dev = self.table.get(&this)?;
        dev.state.lose(w::GpuDeviceLostReason::Destroyed, "the device was destroyed".into());
        dev.device.destroy();
        Ok(())
    }

    fn create_buffer(&mut self, this: Resource<Device>, desc: w::GpuBufferDescriptor) -> wasmtime::Result<Resource<Buffer>> {
        crate::trace::note(format_args!("create-buffer {}", desc.size));
        self.ctx.stats.buffers += 1;
        self.ctx.stats.largest_buffer = self.ctx.stats.largest_buffer.max(desc.size);
        let dev = self.table.get(&this)?;
        let mapped = desc.mapped_at_creation.unwrap_or(false);
        let wdesc = wgpu::BufferDescriptor {
            label: desc.label.as_deref(),
            size: desc.size,
            usage: convert::buffer_usage(desc.usage),
            mapped_at_creation: mapped,
        };
        let buffer = dev.device.create_buffer(&wdesc);
        let phase = if mapped {
            MapPhase::Mapped { write: true, offset: 0, size: desc.size }
        } else {
            MapPhase::Unmapped
        };
        let buffer = Buffer {
            buffer,
            device: dev.device.clone(),
            state: dev.state.clone(),
            usage: desc.usage,
            size: desc.size,
            map: Arc::new(Mutex::new(MapState { phase, attempts: 0, destroyed: false })),
            label: desc.label.unwrap_or_default(),
        };
        Ok(self.table.push(buffer)?)
    }

    fn create_texture(&mut self, this: Resource<Device>, desc: w::GpuTextureDescriptor) -> wasmtime::Result<Resource<Texture>> {
        self.ctx.stats.textures += 1;
        let dev = self.table.get(&this)?;
        let view_formats: Vec<wgpu::TextureFormat> =
            desc.view_formats.iter().flatten().map(|f| convert::texture_format(*f)).collect();
        let mut wdesc = convert::texture_descriptor(&desc);
        wdesc.label = desc.label.as_deref();
        wdesc.view_formats = &view_formats;
        let texture = dev.device.create_texture(&wdesc);
        let size = convert::extent(desc.size);
        let texture = Texture {
            texture,
            state: dev.state.clone(),
            width: size.width,
            height: size.height,
            depth_or_array_layers: size.depth_or_array_layers,
            mip_level_count: wdesc.mip_level_count,
            sample_count: wdesc.sample_count,
            dimension: desc.dimension.unwrap_or(w::GpuTextureDimension::D2),
            format: desc.format,
            usage: desc.usage,
            binding_view_dimension: desc.texture_binding_view_dimension,
            label: desc.label.unwrap_or_default(),
        };
        Ok(self.table.push(texture)?)
    }

    fn create_sampler(&mut self, this: Resource<Device>, desc: Option<w::GpuSamplerDescriptor>) -> wasmtime::Result<Resource<Sampler>> {
        let dev = self.table.get(&this)?;
        let (mut wdesc, label) = convert::sampler_descriptor(desc);
        wdesc.label = label.as_deref();
        let inner = dev.device.create_sampler(&wdesc);
        Ok(self.table.push(Labeled { inner, label: label.unwrap_or_default() })?)
    }

    fn create_bind_group_layout(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuBindGroupLayoutDescriptor,
    ) -> wasmtime::Result<Resource<BindGroupLayout>> {
        let dev = self.table.get(&this)?;
        let mut entries = Vec::with_capacity(desc.entries.len());
        let mut bad = None;
        for e in &desc.entries {
            match convert::bind_group_layout_entry(e) {
                Ok(e) => entries.push(e),
                Err(msg) => bad = bad.or(Some(msg)),
            }
        }
        let wdesc = wgpu::BindGroupLayoutDescriptor { label: desc.label.as_deref(), entries: &entries };
        let inner = match bad {
            None => dev.device.create_bind_group_layout(&wdesc),
            Some(msg) => {
                dev.state.report(ErrorValue::validation(format!("create-bind-group-layout: {msg}")));
                invalid_bind_group_layout(dev)
            }
        };
        Ok(self.table.push(Labeled { inner, label: desc.label.unwrap_or_default() })?)
    }

    fn create_pipeline_layout(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuPipelineLayoutDescriptor,
    ) -> wasmtime::Result<Resource<PipelineLayout>> {
        let dev = self.table.get(&this)?;
        let mut layouts = Vec::with_capacity(desc.bind_group_layouts.len());
        for l in &desc.bind_group_layouts {
            layouts.push(match l {
                Some(l) => Some(&self.table.get(l)?.inner),
                None => None,
            });
        }
        let wdesc = wgpu::PipelineLayoutDescriptor {
            label: desc.label.as_deref(),
            bind_group_layouts: &layouts,
            immediate_size: desc.immediate_size.unwrap_or(0),
        };
        // wgpu cannot even record more layouts than its hard maximum: that is a validation
        // error here, with the invalid layout WebGPU gives.
        let inner = if layouts.len() > MAX_BIND_GROUPS {
            dev.state.report(ErrorValue::validation(format!(
                "create-pipeline-layout: {} bind group layouts exceed the maximum of {MAX_BIND_GROUPS}",
                layouts.len()
            )));
            invalid_pipeline_layout(dev)
        } else {
            dev.device.create_pipeline_layout(&wdesc)
        };
        Ok(self.table.push(Labeled { inner, label: desc.label.unwrap_or_default() })?)
    }

    fn create_bind_group(&mut self, this: Resource<Device>, desc: w::GpuBindGroupDescriptor) -> wasmtime::Result<Resource<BindGroup>> {
        crate::trace::note(format_args!("create-bind-group"));
        let dev = self.table.get(&this)?;
        // Textures bound directly use their default view: make those first so the entries can
        // borrow them.
        let mut default_views = Vec::new();
        for e in &desc.entries {
            if let w::GpuBindingResource::GpuTexture(t) = &e.resource {
                default_views.push(self.table.get(t)?.texture.create_view(&Default::default()));
            }
        }
        let mut default_views = default_views.iter();
        // wgpu reads a zero size as "the rest of the buffer"; WebGPU rejects it.
        let mut zero_sized = None;
        let mut entries = Vec::with_capacity(desc.entries.len());
        for e in &desc.entries {
            let resource = match &e.resource {
                w::GpuBindingResource::GpuBuffer(b) => self.table.get(b)?.buffer.as_entire_binding(),
                w::GpuBindingResource::GpuBufferBinding(b) => {
                    let buffer = &self.table.get(&b.buffer)?.buffer;
                    if b.size == Some(0) {
                        zero_sized = Some(e.binding);
                    }
                    let size = b.size.and_then(wgpu::BufferSize::new);
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer, offset: b.offset.unwrap_or(0), size })
                }
                w::GpuBindingResource::GpuSampler(s) => wgpu::BindingResource::Sampler(&self.table.get(s)?.inner),
                w::GpuBindingResource::GpuTexture(_) => match default_views.next() {
                    Some(v) => wgpu::BindingResource::TextureView(v),
                    None => unreachable!("one default view was made per texture entry"),
                },
                w::GpuBindingResource::GpuTextureView(v) => wgpu::BindingResource::TextureView(&self.table.get(v)?.inner),
            };
            entries.push(wgpu::BindGroupEntry { binding: e.binding, resource });
        }
        let layout = &self.table.get(&desc.layout)?.inner;
        let inner = match zero_sized {
            None => dev.device.create_bind_group(&wgpu::BindGroupDescriptor { label: desc.label.as_deref(), layout, entries: &entries }),
            Some(binding) => {
                dev.state.report(ErrorValue::validation(format!("create-bind-group: binding {binding} has size 0")));
                // The invalid group WebGPU returns: one wgpu rejects (quietly) for naming a
                // binding no layout can have.
                let bad = [wgpu::BindGroupEntry { binding: u32::MAX, resource: entries[0].resource.clone() }];
                let desc = wgpu::BindGroupDescriptor { label: None, layout, entries: &bad };
                dev.state.capture(|| dev.device.create_bind_group(&desc)).0
            }
        };
        Ok(self.table.push(Labeled { inner, label: desc.label.unwrap_or_default() })?)
    }

    fn create_shader_module(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuShaderModuleDescriptor,
    ) -> wasmtime::Result<Resource<ShaderModule>> {
        let dev = self.table.get(&this)?;
        let workgroup_storage = crate::shader::workgroup_storage(&desc.code);
        let inner = dev.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: desc.label.as_deref(),
            source: wgpu::ShaderSource::Wgsl(desc.code.into()),
        });
        Ok(self.table.push(ShaderModule { inner, label: desc.label.unwrap_or_default(), workgroup_storage })?)
    }

    fn create_compute_pipeline(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuComputePipelineDescriptor,
    ) -> wasmtime::Result<Resource<ComputePipeline>> {
        let (pipeline, error) = compute_pipeline(self.table, &this, desc)?;
        if let Some(e) = error {
            self.table.get(&this)?.state.report(e);
        }
        Ok(self.table.push(pipeline)?)
    }

    fn create_render_pipeline(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuRenderPipelineDescriptor,
    ) -> wasmtime::Result<Resource<RenderPipeline>> {
        let (pipeline, error) = render_pipeline(self.table, &this, desc)?;
        if let Some(e) = error {
            self.table.get(&this)?.state.report(e);
        }
        Ok(self.table.push(pipeline)?)
    }

    fn create_command_encoder(
        &mut self,
        this: Resource<Device>,
        desc: Option<w::GpuCommandEncoderDescriptor>,
    ) -> wasmtime::Result<Resource<CommandEncoder>> {
        let dev = self.table.get(&this)?;
        let label = desc.and_then(|d| d.label);
        crate::trace::note(format_args!("create-command-encoder"));
        let encoder = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: label.as_deref() });
        let encoder = CommandEncoder { encoder: Some(encoder), state: dev.state.clone(), label: label.unwrap_or_default() };
        Ok(self.table.push(encoder)?)
    }

    fn create_render_bundle_encoder(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuRenderBundleEncoderDescriptor,
    ) -> wasmtime::Result<Resource<RenderBundleEncoder>> {
        let dev = self.table.get(&this)?;
        let encoder = RenderBundleEncoder {
            commands: Some(Vec::new()),
            color_formats: desc.color_formats.iter().map(|f| f.map(convert::texture_format)).collect(),
            depth_stencil: desc.depth_stencil_format.map(|f| wgpu::RenderBundleDepthStencil {
                format: convert::texture_format(f),
                depth_read_only: desc.depth_read_only.unwrap_or(false),
                stencil_read_only: desc.stencil_read_only.unwrap_or(false),
            }),
            sample_count: desc.sample_count.unwrap_or(1),
            device: dev.device.clone(),
            state: dev.state.clone(),
            label: desc.label.unwrap_or_default(),
        };
        Ok(self.table.push(encoder)?)
    }

    fn create_query_set(
        &mut self,
        this: Resource<Device>,
        desc: w::GpuQuerySetDescriptor,
    ) -> wasmtime::Result<Result<Resource<QuerySet>, w::CreateQuerySetError>> {
        self.ctx.stats.query_sets += 1;
        let dev = self.table.get(&this)?;
        if desc.type_ == w::GpuQueryType::Timestamp && !dev.device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Ok(Err(w::CreateQuerySetError {
                kind: w::CreateQuerySetErrorKind::TypeError,
                message: "timestamp queries need the `timestamp-query` feature".into(),
            }));
        }
        let set = dev.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: desc.label.as_deref(),
            ty: convert::query_type(desc.type_),
            count: desc.count,
        });
        let set = QuerySet { set, ty: desc.type_, count: desc.count, label: desc.label.unwrap_or_default() };
        Ok(Ok(self.table.push(set)?))
    }

    fn label(&mut self, this: Resource<Device>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn set_label(&mut self, this: Resource<Device>, label: String) -> wasmtime::Result<()> {
        self.table.get_mut(&this)?.label = label;
        Ok(())
    }

    fn push_error_scope(&mut self, this: Resource<Device>, filter: w::GpuErrorFilter) -> wasmtime::Result<()> {
        self.table.get(&this)?.state.push_scope(filter);
        Ok(())
    }

    fn drop(&mut self, this: Resource<Device>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        self.ctx.stats.devices_held -= 1;
        Ok(())
    }
}

/// Resolves a `lost` future when its device is lost.
struct LostProducer(Arc<DeviceState>);

impl<T: WebGpuView> FutureProducer<T> for LostProducer {
    type Item = Resource<DeviceLostInfo>;

    fn poll_produce(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<T>,
        finish: bool,
    ) -> Poll<wasmtime::Result<Option<Self::Item>>> {
        match self.0.lost(Some(cx.waker())) {
            Some(lost) => Poll::Ready(Ok(Some(store.data_mut().webgpu().table.push(lost)?))),
            None if finish => Poll::Ready(Ok(None)),
            None => Poll::Pending,
        }
    }
}

/// Feeds one `on-uncaptured-error` stream.
struct UncapturedProducer {
    listener: Arc<Listener>,
    state: Arc<DeviceState>,
}

impl<T: WebGpuView> StreamProducer<T> for UncapturedProducer {
    type Item = Resource<GpuError>;
    type Buffer = Option<Resource<GpuError>>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, T>,
        mut destination: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        if destination.remaining(&mut store) == Some(0) {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        match self.listener.next(cx.waker()) {
            Some(error) => {
                destination.set_buffer(Some(store.data_mut().webgpu().table.push(error)?));
                Poll::Ready(Ok(StreamResult::Completed))
            }
            // A lost device reports no more errors: the stream ends.
            None if self.state.is_lost() => Poll::Ready(Ok(StreamResult::Dropped)),
            None if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            None => Poll::Pending,
        }
    }
}

impl<T: WebGpuView + 'static> w::HostGpuDeviceWithStore<T> for WebGpu {
    async fn create_compute_pipeline_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Device>,
        desc: w::GpuComputePipelineDescriptor,
    ) -> wasmtime::Result<Result<Resource<ComputePipeline>, w::CreatePipelineError>> {
        accessor.with(|mut a| {
            let view = a.get();
            let (pipeline, error) = compute_pipeline(view.table, &this, desc)?;
            // A lost device's pipeline creation resolves (with an invalid pipeline), never rejects.
            Ok(match error {
                Some(e) if !view.table.get(&this)?.state.is_lost() => Err(pipeline_error(e)),
                _ => Ok(view.table.push(pipeline)?),
            })
        })
    }

    async fn create_render_pipeline_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Device>,
        desc: w::GpuRenderPipelineDescriptor,
    ) -> wasmtime::Result<Result<Resource<RenderPipeline>, w::CreatePipelineError>> {
        accessor.with(|mut a| {
            let view = a.get();
            let (pipeline, error) = render_pipeline(view.table, &this, desc)?;
            // A lost device's pipeline creation resolves (with an invalid pipeline), never rejects.
            Ok(match error {
                Some(e) if !view.table.get(&this)?.state.is_lost() => Err(pipeline_error(e)),
                _ => Ok(view.table.push(pipeline)?),
            })
        })
    }

    fn lost(mut host: Access<T, Self>, this: Resource<Device>) -> wasmtime::Result<FutureReader<Resource<DeviceLostInfo>>> {
        // Fault injection, for testing that nothing asks for a device's loss but the application:
        // with `WEBGPU_HOST_WITHOUT_LOST` set, this host acts like one that lacks `lost` (the
        // published wasi-webgpu-wasmtime 0.5.0 panics there) and traps.
        if std::env::var_os("WEBGPU_HOST_WITHOUT_LOST").is_some() {
            wasmtime::bail!("gpu-device.lost is not implemented by this host (WEBGPU_HOST_WITHOUT_LOST is set)");
        }
        let state = host.get().table.get(&this)?.state.clone();
        FutureReader::new(host, LostProducer(state))
    }

    async fn pop_error_scope(
        accessor: &Accessor<T, Self>,
        this: Resource<Device>,
    ) -> wasmtime::Result<Result<Option<Resource<GpuError>>, w::PopErrorScopeError>> {
        accessor.with(|mut a| {
            let view = a.get();
            let popped = view.table.get(&this)?.state.pop_scope();
            Ok(match popped {
                Ok(Some(e)) => Ok(Some(view.table.push(e)?)),
                Ok(None) => Ok(None),
                Err(()) => Err(w::PopErrorScopeError {
                    kind: w::PopErrorScopeErrorKind::OperationError,
                    message: "pop-error-scope: the error scope stack is empty".into(),
                }),
            })
        })
    }

    fn on_uncaptured_error(mut host: Access<T, Self>, this: Resource<Device>) -> wasmtime::Result<StreamReader<Resource<GpuError>>> {
        let state = host.get().table.get(&this)?.state.clone();
        let listener = state.subscribe();
        StreamReader::new(host, UncapturedProducer { listener, state })
    }
}

impl w::HostGpuQueue for WebGpuCtxView<'_> {
    fn submit(&mut self, this: Resource<Queue>, command_buffers: Vec<Resource<CommandBuffer>>) -> wasmtime::Result<()> {
        let _traced = crate::trace::span(format_args!("submit {}", command_buffers.len()), "submitted");
        let queue = self.table.get(&this)?;
        let (queue, state) = (queue.queue.clone(), queue.state.clone());
        for (i, cb) in command_buffers.iter().enumerate() {
            let cb = self.table.get(cb)?;
            let wrong = if !Arc::ptr_eq(&cb.state, &state) {
                "belongs to another device"
            } else if cb.buffer.is_none() {
                "was used up by an earlier submit"
            } else {
                continue;
            };
            // WebGPU invalidates every command buffer of a submission it refuses: none can be
            // submitted again (wgpu's own refusals use them all up too).
            for cb in &command_buffers {
                self.table.get_mut(cb)?.buffer.take();
            }
            return crate::invalid_work(&state, ErrorValue::validation(format!("submit: command buffer {i} {wrong}")));
        }
        let mut buffers = Vec::with_capacity(command_buffers.len());
        for cb in &command_buffers {
            buffers.extend(self.table.get_mut(cb)?.buffer.take());
        }
        // Only a submission wgpu took is one to wait for: wgpu refuses a wait for another.
        if let Some(index) = crate::queue_work(&state, "submit", || state.waits().submitting(|| queue.submit(buffers)))? {
            state.submitted(index);
        }
        Ok(())
    }

    fn write_buffer_with_copy(
        &mut self,
        this: Resource<Queue>,
        buffer: Resource<Buffer>,
        buffer_offset: u64,
        data: Vec<u8>,
        data_offset: Option<u64>,
        size: Option<u64>,
    ) -> wasmtime::Result<Result<(), w::WriteBufferError>> {
        let data_offset = data_offset.unwrap_or(0);
        let len = data.len() as u64;
        let end = match size {
            Some(size) => data_offset.checked_add(size),
            None => Some(len),
        };
        let range = match end {
            Some(end) if data_offset <= end && end <= len => data_offset as usize..end as usize,
            _ => {
                return Ok(Err(w::WriteBufferError {
                    kind: w::WriteBufferErrorKind::OperationError,
                    message: format!(
                        "write-buffer: data offset {data_offset} and size {size:?} are outside the {len} bytes given"
                    ),
                }));
            }
        };
        let queue = self.table.get(&this)?;
        let target = self.table.get(&buffer)?;
        crate::queue_work(&queue.state, "write-buffer", || queue.queue.write_buffer(&target.buffer, buffer_offset, &data[range]))?;
        Ok(Ok(()))
    }

    fn write_texture_with_copy(
        &mut self,
        this: Resource<Queue>,
        destination: w::GpuTexelCopyTextureInfo,
        data: Vec<u8>,
        data_layout: w::GpuTexelCopyBufferLayout,
        size: w::GpuExtent3D,
    ) -> wasmtime::Result<()> {
        let queue = self.table.get(&this)?;
        let texture = &self.table.get(&destination.texture)?.texture;
        let info = wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: destination.mip_level.unwrap_or(0),
            origin: convert::origin(destination.origin),
            aspect: destination.aspect.map(convert::texture_aspect).unwrap_or_default(),
        };
        let layout = convert::buffer_layout(data_layout);
        crate::queue_work(&queue.state, "write-texture", || queue.queue.write_texture(info, &data, layout, convert::extent(size)))?;
        Ok(())
    }

    fn label(&mut self, this: Resource<Queue>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.state.queue_label())
    }

    fn set_label(&mut self, this: Resource<Queue>, label: String) -> wasmtime::Result<()> {
        self.table.get(&this)?.state.set_queue_label(label);
        Ok(())
    }

    fn drop(&mut self, this: Resource<Queue>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl<T: WebGpuView + 'static> w::HostGpuQueueWithStore<T> for WebGpu {
    async fn on_submitted_work_done(accessor: &Accessor<T, Self>, this: Resource<Queue>) -> wasmtime::Result<()> {
        let _traced = crate::trace::span(format_args!("work-done asked"), "work-done resolved");
        let (queue, state) = accessor.with(|mut a| {
            let q = a.get().table.get(&this)?;
            wasmtime::Result::<_>::Ok((q.queue.clone(), q.state.clone()))
        })?;
        let (tx, rx) = futures::channel::oneshot::channel();
        queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        // The work submitted so far, not what others submit while this waits. A lost device has
        // no work left to wait for: resolve either way, as WebGPU does.
        wait_on_gpu(&state, rx, state.last_submission()).await;
        Ok(())
    }
}

impl w::HostGpuDeviceLostInfo for WebGpuCtxView<'_> {
    fn reason(&mut self, this: Resource<DeviceLostInfo>) -> wasmtime::Result<w::GpuDeviceLostReason> {
        Ok(self.table.get(&this)?.reason)
    }

    fn message(&mut self, this: Resource<DeviceLostInfo>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.message.clone())
    }

    fn drop(&mut self, this: Resource<DeviceLostInfo>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuError for WebGpuCtxView<'_> {
    fn message(&mut self, this: Resource<GpuError>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.message.clone())
    }

    fn kind(&mut self, this: Resource<GpuError>) -> wasmtime::Result<w::GpuErrorKind> {
        Ok(self.table.get(&this)?.kind)
    }

    fn drop(&mut self, this: Resource<GpuError>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl w::HostGpuUncapturedErrorEvent for WebGpuCtxView<'_> {
    fn error(&mut self, this: Resource<UncapturedErrorEvent>) -> wasmtime::Result<Resource<GpuError>> {
        let error = self.table.get(&this)?.error.clone();
        Ok(self.table.push(error)?)
    }

    fn drop(&mut self, this: Resource<UncapturedErrorEvent>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

