//! Command encoders, compute and render passes, render bundle encoders, command buffers.
//!
//! An encoder or pass lives in the resource table while other resources it uses are looked up
//! there too, so each command takes it out of its slot, records, and puts it back.

use crate::bindings::wasi::webgpu::webgpu as w;
use crate::convert;
use crate::objects::*;
use crate::resources::label_methods;
use crate::state::{DeviceState, ErrorValue};
use crate::{WebGpuCtxView, shield};
use std::ops::Range;
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};

/// The dynamic offsets `set-bind-group` selects from its arguments.
fn dynamic_offsets(
    data: Option<Vec<u32>>,
    start: Option<u64>,
    length: Option<u32>,
) -> Result<Vec<u32>, w::SetBindGroupError> {
    let data = data.unwrap_or_default();
    let start = start.unwrap_or(0);
    let length = length.map(u64::from).unwrap_or_else(|| (data.len() as u64).saturating_sub(start));
    match start.checked_add(length) {
        Some(end) if end <= data.len() as u64 => Ok(data[start as usize..end as usize].to_vec()),
        _ => Err(w::SetBindGroupError {
            kind: w::SetBindGroupErrorKind::RangeError,
            message: format!("dynamic offsets {start}+{length} are outside the {} given", data.len()),
        }),
    }
}

/// The bytes `set-immediates` selects from its arguments, or why it cannot.
fn immediates(data: &[u8], offset: Option<u64>, size: Option<u64>) -> Result<&[u8], String> {
    let offset = offset.unwrap_or(0);
    let size = size.unwrap_or_else(|| (data.len() as u64).saturating_sub(offset));
    match offset.checked_add(size) {
        Some(end) if end <= data.len() as u64 && size.is_multiple_of(4) => Ok(&data[offset as usize..end as usize]),
        _ => Err(format!("set-immediates: {offset}+{size} is not a 4-byte multiple inside the {} bytes given", data.len())),
    }
}

/// The byte range a vertex or index buffer binding covers, checked against the buffer.
fn binding_range(b: &Buffer, offset: Option<u64>, size: Option<u64>) -> Result<std::ops::Range<u64>, String> {
    let offset = offset.unwrap_or(0);
    let size = size.unwrap_or_else(|| b.size.saturating_sub(offset));
    match offset.checked_add(size) {
        // wgpu 30 cannot bind an empty range (gfx-rs/wgpu#3170): refuse it rather than panic.
        Some(end) if end <= b.size && size > 0 => Ok(offset..end),
        Some(end) if end <= b.size => Err("a zero-size binding is not supported by this host (wgpu 30)".into()),
        _ => Err(format!("range {offset}+{size} is outside the {}-byte buffer", b.size)),
    }
}

fn copy_texture<'t>(table: &'t ResourceTable, info: &w::GpuTexelCopyTextureInfo) -> wasmtime::Result<wgpu::TexelCopyTextureInfo<'t>> {
    Ok(wgpu::TexelCopyTextureInfo {
        texture: &table.get(&info.texture)?.texture,
        mip_level: info.mip_level.unwrap_or(0),
        origin: convert::origin(info.origin),
        aspect: info.aspect.map(convert::texture_aspect).unwrap_or_default(),
    })
}

fn copy_buffer<'t>(table: &'t ResourceTable, info: &w::GpuTexelCopyBufferInfo) -> wasmtime::Result<wgpu::TexelCopyBufferInfo<'t>> {
    Ok(wgpu::TexelCopyBufferInfo {
        buffer: &table.get(&info.buffer)?.buffer,
        layout: wgpu::TexelCopyBufferLayout {
            offset: info.offset.unwrap_or(0),
            bytes_per_row: info.bytes_per_row,
            rows_per_image: info.rows_per_image,
        },
    })
}

impl WebGpuCtxView<'_> {
    /// Runs `f` on a command encoder that has not finished, with the table at hand; a finished
    /// one is a validation error.
    fn encode(
        &mut self,
        this: &Resource<CommandEncoder>,
        what: &str,
        f: impl FnOnce(&mut wgpu::CommandEncoder, &ResourceTable) -> wasmtime::Result<()>,
    ) -> wasmtime::Result<()> {
        let slot = self.table.get_mut(this)?;
        let state = slot.state.clone();
        let Some(mut encoder) = slot.encoder.take() else {
            state.report(ErrorValue::validation(format!("{what}: the command encoder has finished")));
            return Ok(());
        };
        let result = shield(&state, what, || f(&mut encoder, self.table));
        self.table.get_mut(this)?.encoder = Some(encoder);
        result.unwrap_or(Ok(()))
    }

    /// Runs `f` on a pass that has not ended; an ended one is a validation error.
    fn pass<P: 'static>(
        &mut self,
        this: &Resource<PassEncoder<P>>,
        what: &str,
        f: impl FnOnce(&mut P, &ResourceTable, &Arc<DeviceState>) -> wasmtime::Result<()>,
    ) -> wasmtime::Result<()> {
        let slot = self.table.get_mut(this)?;
        let state = slot.state.clone();
        let Some(mut pass) = slot.pass.take() else {
            state.report(ErrorValue::validation(format!("{what}: the pass has ended")));
            return Ok(());
        };
        let result = shield(&state, what, || f(&mut pass, self.table, &state));
        self.table.get_mut(this)?.pass = Some(pass);
        result.unwrap_or(Ok(()))
    }
}

impl w::HostGpuCommandEncoder for WebGpuCtxView<'_> {
    fn begin_render_pass(
        &mut self,
        this: Resource<CommandEncoder>,
        desc: w::GpuRenderPassDescriptor,
    ) -> wasmtime::Result<Resource<RenderPassEncoder>> {
        let state = self.table.get(&this)?.state.clone();
        let label = desc.label.clone().unwrap_or_default();
        let mut pass = None;
        self.encode(&this, "begin-render-pass", |encoder, table| {
            let mut colors = Vec::with_capacity(desc.color_attachments.len());
            for a in &desc.color_attachments {
                colors.push(match a {
                    None => None,
                    Some(a) => Some(wgpu::RenderPassColorAttachment {
                        view: &table.get(&a.view)?.inner,
                        depth_slice: a.depth_slice,
                        resolve_target: match &a.resolve_target {
                            Some(r) => Some(&table.get(r)?.inner),
                            None => None,
                        },
                        ops: wgpu::Operations {
                            load: match a.load_op {
                                w::GpuLoadOp::Load => wgpu::LoadOp::Load,
                                w::GpuLoadOp::Clear => wgpu::LoadOp::Clear(
                                    a.clear_value.map(convert::color).unwrap_or(wgpu::Color::TRANSPARENT),
                                ),
                            },
                            store: store_op(a.store_op),
                        },
                    }),
                });
            }
            let depth_stencil = match &desc.depth_stencil_attachment {
                None => None,
                Some(d) => Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &table.get(&d.view)?.inner,
                    depth_ops: attachment_ops(
                        d.depth_read_only,
                        d.depth_load_op,
                        d.depth_store_op,
                        d.depth_clear_value.unwrap_or(0.0),
                    ),
                    stencil_ops: attachment_ops(
                        d.stencil_read_only,
                        d.stencil_load_op,
                        d.stencil_store_op,
                        d.stencil_clear_value.unwrap_or(0),
                    ),
                }),
            };
            let timestamp_writes = match &desc.timestamp_writes {
                Some(t) => Some(wgpu::RenderPassTimestampWrites {
                    query_set: &table.get(&t.query_set)?.set,
                    beginning_of_pass_write_index: t.beginning_of_pass_write_index,
                    end_of_pass_write_index: t.end_of_pass_write_index,
                }),
                None => None,
            };
            let occlusion_query_set = match &desc.occlusion_query_set {
                Some(q) => Some(&table.get(q)?.set),
                None => None,
            };
            let wdesc = wgpu::RenderPassDescriptor {
                label: desc.label.as_deref(),
                color_attachments: &colors,
                depth_stencil_attachment: depth_stencil,
                timestamp_writes,
                occlusion_query_set,
                multiview_mask: None,
            };
            pass = Some(encoder.begin_render_pass(&wdesc).forget_lifetime());
            Ok(())
        })?;
        Ok(self.table.push(PassEncoder { pass, state, label })?)
    }

    fn begin_compute_pass(
        &mut self,
        this: Resource<CommandEncoder>,
        desc: Option<w::GpuComputePassDescriptor>,
    ) -> wasmtime::Result<Resource<ComputePassEncoder>> {
        crate::trace::note(format_args!("begin-compute-pass"));
        let state = self.table.get(&this)?.state.clone();
        let (label, timestamps) = desc.map(|d| (d.label, d.timestamp_writes)).unwrap_or_default();
        let mut pass = None;
        self.encode(&this, "begin-compute-pass", |encoder, table| {
            let timestamp_writes = match &timestamps {
                Some(t) => Some(wgpu::ComputePassTimestampWrites {
                    query_set: &table.get(&t.query_set)?.set,
                    beginning_of_pass_write_index: t.beginning_of_pass_write_index,
                    end_of_pass_write_index: t.end_of_pass_write_index,
                }),
                None => None,
            };
            let wdesc = wgpu::ComputePassDescriptor { label: label.as_deref(), timestamp_writes };
            pass = Some(encoder.begin_compute_pass(&wdesc).forget_lifetime());
            Ok(())
        })?;
        Ok(self.table.push(PassEncoder { pass, state, label: label.unwrap_or_default() })?)
    }

    fn copy_buffer_to_buffer(
        &mut self,
        this: Resource<CommandEncoder>,
        source: Resource<Buffer>,
        source_offset: Option<u64>,
        destination: Resource<Buffer>,
        destination_offset: Option<u64>,
        size: Option<u64>,
    ) -> wasmtime::Result<()> {
        self.encode(&this, "copy-buffer-to-buffer", |encoder, table| {
            let src = table.get(&source)?;
            let dst = &table.get(&destination)?.buffer;
            let source_offset = source_offset.unwrap_or(0);
            let size = size.unwrap_or_else(|| src.size.saturating_sub(source_offset));
            encoder.copy_buffer_to_buffer(&src.buffer, source_offset, dst, destination_offset.unwrap_or(0), size);
            Ok(())
        })
    }

    fn copy_buffer_to_texture(
        &mut self,
        this: Resource<CommandEncoder>,
        source: w::GpuTexelCopyBufferInfo,
        destination: w::GpuTexelCopyTextureInfo,
        copy_size: w::GpuExtent3D,
    ) -> wasmtime::Result<()> {
        self.encode(&this, "copy-buffer-to-texture", |encoder, table| {
            encoder.copy_buffer_to_texture(copy_buffer(table, &source)?, copy_texture(table, &destination)?, convert::extent(copy_size));
            Ok(())
        })
    }

    fn copy_texture_to_buffer(
        &mut self,
        this: Resource<CommandEncoder>,
        source: w::GpuTexelCopyTextureInfo,
        destination: w::GpuTexelCopyBufferInfo,
        copy_size: w::GpuExtent3D,
    ) -> wasmtime::Result<()> {
        self.encode(&this, "copy-texture-to-buffer", |encoder, table| {
            encoder.copy_texture_to_buffer(copy_texture(table, &source)?, copy_buffer(table, &destination)?, convert::extent(copy_size));
            Ok(())
        })
    }

    fn copy_texture_to_texture(
        &mut self,
        this: Resource<CommandEncoder>,
        source: w::GpuTexelCopyTextureInfo,
        destination: w::GpuTexelCopyTextureInfo,
        copy_size: w::GpuExtent3D,
    ) -> wasmtime::Result<()> {
        self.encode(&this, "copy-texture-to-texture", |encoder, table| {
            encoder.copy_texture_to_texture(copy_texture(table, &source)?, copy_texture(table, &destination)?, convert::extent(copy_size));
            Ok(())
        })
    }

    fn clear_buffer(&mut self, this: Resource<CommandEncoder>, buffer: Resource<Buffer>, offset: Option<u64>, size: Option<u64>) -> wasmtime::Result<()> {
        self.encode(&this, "clear-buffer", |encoder, table| {
            encoder.clear_buffer(&table.get(&buffer)?.buffer, offset.unwrap_or(0), size);
            Ok(())
        })
    }

    fn resolve_query_set(
        &mut self,
        this: Resource<CommandEncoder>,
        query_set: Resource<QuerySet>,
        first_query: u32,
        query_count: u32,
        destination: Resource<Buffer>,
        destination_offset: u64,
    ) -> wasmtime::Result<()> {
        let state = self.table.get(&this)?.state.clone();
        let Some(end) = first_query.checked_add(query_count) else {
            state.report(ErrorValue::validation("resolve-query-set: first-query + query-count overflows"));
            return Ok(());
        };
        self.encode(&this, "resolve-query-set", |encoder, table| {
            encoder.resolve_query_set(&table.get(&query_set)?.set, first_query..end, &table.get(&destination)?.buffer, destination_offset);
            Ok(())
        })
    }

    fn finish(&mut self, this: Resource<CommandEncoder>, desc: Option<w::GpuCommandBufferDescriptor>) -> wasmtime::Result<Resource<CommandBuffer>> {
        let _traced = crate::trace::span(format_args!("finish"), "finished");
        let slot = self.table.get_mut(&this)?;
        let label = desc.and_then(|d| d.label).unwrap_or_default();
        let buffer = match slot.encoder.take() {
            Some(encoder) => shield(&slot.state, "finish", || encoder.finish()),
            None => {
                slot.state.report(ErrorValue::validation("finish: the command encoder has already finished"));
                None
            }
        };
        let state = slot.state.clone();
        Ok(self.table.push(CommandBuffer { buffer, label, state })?)
    }

    label_methods!(CommandEncoder);

    fn push_debug_group(&mut self, this: Resource<CommandEncoder>, group_label: String) -> wasmtime::Result<()> {
        self.encode(&this, "push-debug-group", |e, _| { e.push_debug_group(&group_label); Ok(()) })
    }

    fn pop_debug_group(&mut self, this: Resource<CommandEncoder>) -> wasmtime::Result<()> {
        self.encode(&this, "pop-debug-group", |e, _| { e.pop_debug_group(); Ok(()) })
    }

    fn insert_debug_marker(&mut self, this: Resource<CommandEncoder>, marker_label: String) -> wasmtime::Result<()> {
        self.encode(&this, "insert-debug-marker", |e, _| { e.insert_debug_marker(&marker_label); Ok(()) })
    }

    fn drop(&mut self, this: Resource<CommandEncoder>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

fn store_op(op: w::GpuStoreOp) -> wgpu::StoreOp {
    match op {
        w::GpuStoreOp::Store => wgpu::StoreOp::Store,
        w::GpuStoreOp::Discard => wgpu::StoreOp::Discard,
    }
}

/// Depth or stencil operations: none when read-only or when neither op is given.
fn attachment_ops<V>(read_only: Option<bool>, load: Option<w::GpuLoadOp>, store: Option<w::GpuStoreOp>, clear: V) -> Option<wgpu::Operations<V>> {
    if read_only.unwrap_or(false) || (load.is_none() && store.is_none()) {
        return None;
    }
    Some(wgpu::Operations {
        load: match load {
            Some(w::GpuLoadOp::Clear) => wgpu::LoadOp::Clear(clear),
            _ => wgpu::LoadOp::Load,
        },
        store: store.map(store_op).unwrap_or(wgpu::StoreOp::Store),
    })
}

impl w::HostGpuComputePassEncoder for WebGpuCtxView<'_> {
    fn set_pipeline(&mut self, this: Resource<ComputePassEncoder>, pipeline: Resource<ComputePipeline>) -> wasmtime::Result<()> {
        self.pass(&this, "set-pipeline", |p, table, _| { p.set_pipeline(&table.get(&pipeline)?.inner); Ok(()) })
    }

    fn dispatch_workgroups(&mut self, this: Resource<ComputePassEncoder>, x: u32, y: Option<u32>, z: Option<u32>) -> wasmtime::Result<()> {
        crate::trace::note(format_args!("dispatch {x} {} {}", y.unwrap_or(1), z.unwrap_or(1)));
        self.pass(&this, "dispatch-workgroups", |p, _, _| { p.dispatch_workgroups(x, y.unwrap_or(1), z.unwrap_or(1)); Ok(()) })
    }

    fn dispatch_workgroups_indirect(&mut self, this: Resource<ComputePassEncoder>, buffer: Resource<Buffer>, offset: u64) -> wasmtime::Result<()> {
        self.pass(&this, "dispatch-workgroups-indirect", |p, table, _| {
            p.dispatch_workgroups_indirect(&table.get(&buffer)?.buffer, offset);
            Ok(())
        })
    }

    fn end(&mut self, this: Resource<ComputePassEncoder>) -> wasmtime::Result<()> {
        let slot = self.table.get_mut(&this)?;
        match slot.pass.take() {
            Some(pass) => drop(pass),
            None => slot.state.report(ErrorValue::validation("end: the compute pass has already ended")),
        }
        Ok(())
    }

    label_methods!(ComputePassEncoder);

    fn push_debug_group(&mut self, this: Resource<ComputePassEncoder>, group_label: String) -> wasmtime::Result<()> {
        self.pass(&this, "push-debug-group", |p, _, _| { p.push_debug_group(&group_label); Ok(()) })
    }

    fn pop_debug_group(&mut self, this: Resource<ComputePassEncoder>) -> wasmtime::Result<()> {
        self.pass(&this, "pop-debug-group", |p, _, _| { p.pop_debug_group(); Ok(()) })
    }

    fn insert_debug_marker(&mut self, this: Resource<ComputePassEncoder>, marker_label: String) -> wasmtime::Result<()> {
        self.pass(&this, "insert-debug-marker", |p, _, _| { p.insert_debug_marker(&marker_label); Ok(()) })
    }

    fn set_bind_group(
        &mut self,
        this: Resource<ComputePassEncoder>,
        index: u32,
        bind_group: Option<Resource<BindGroup>>,
        data: Option<Vec<u32>>,
        start: Option<u64>,
        length: Option<u32>,
    ) -> wasmtime::Result<Result<(), w::SetBindGroupError>> {
        let offsets = match dynamic_offsets(data, start, length) {
            Ok(o) => o,
            Err(e) => return Ok(Err(e)),
        };
        self.pass(&this, "set-bind-group", |p, table, _| {
            let group = match &bind_group {
                Some(g) => Some(&table.get(g)?.inner),
                None => None,
            };
            p.set_bind_group(index, group, &offsets);
            Ok(())
        })?;
        Ok(Ok(()))
    }

    fn set_immediates(&mut self, this: Resource<ComputePassEncoder>, range_offset: u32, data: Vec<u8>, offset: Option<u64>, size: Option<u64>) -> wasmtime::Result<()> {
        self.pass(&this, "set-immediates", |p, _, state| {
            match immediates(&data, offset, size) {
                Ok(bytes) => p.set_immediates(range_offset, bytes),
                Err(msg) => state.report(ErrorValue::validation(msg)),
            }
            Ok(())
        })
    }

    fn drop(&mut self, this: Resource<ComputePassEncoder>) -> wasmtime::Result<()> {
        let pass = self.table.delete(this)?;
        drop_quietly(pass.state.clone(), pass);
        Ok(())
    }
}

/// What render passes and render bundle encoders both record. A pass forwards to wgpu at once;
/// a bundle encoder keeps the commands (see [`RenderBundleEncoder`]).
trait RenderEncoder {
    fn set_pipeline(&mut self, pipeline: &wgpu::RenderPipeline);
    fn set_bind_group(&mut self, index: u32, group: Option<&wgpu::BindGroup>, offsets: &[u32]);
    fn set_index_buffer(&mut self, buffer: &wgpu::Buffer, range: Range<u64>, format: wgpu::IndexFormat);
    fn set_vertex_buffer(&mut self, slot: u32, buffer: Option<(&wgpu::Buffer, Range<u64>)>);
    fn draw(&mut self, vertices: Range<u32>, instances: Range<u32>);
    fn draw_indexed(&mut self, indices: Range<u32>, base_vertex: i32, instances: Range<u32>);
    fn draw_indirect(&mut self, buffer: &wgpu::Buffer, offset: u64);
    fn draw_indexed_indirect(&mut self, buffer: &wgpu::Buffer, offset: u64);
    fn set_immediates(&mut self, offset: u32, data: &[u8]);
    fn push_debug_group(&mut self, label: &str);
    fn pop_debug_group(&mut self);
    fn insert_debug_marker(&mut self, label: &str);
}

impl RenderEncoder for wgpu::RenderPass<'static> {
    fn set_pipeline(&mut self, pipeline: &wgpu::RenderPipeline) {
        wgpu::RenderPass::set_pipeline(self, pipeline)
    }
    fn set_bind_group(&mut self, index: u32, group: Option<&wgpu::BindGroup>, offsets: &[u32]) {
        wgpu::RenderPass::set_bind_group(self, index, group, offsets)
    }
    fn set_index_buffer(&mut self, buffer: &wgpu::Buffer, range: Range<u64>, format: wgpu::IndexFormat) {
        wgpu::RenderPass::set_index_buffer(self, buffer.slice(range), format)
    }
    fn set_vertex_buffer(&mut self, slot: u32, buffer: Option<(&wgpu::Buffer, Range<u64>)>) {
        wgpu::RenderPass::set_vertex_buffer(self, slot, buffer.map(|(b, r)| b.slice(r)))
    }
    fn draw(&mut self, vertices: Range<u32>, instances: Range<u32>) {
        wgpu::RenderPass::draw(self, vertices, instances)
    }
    fn draw_indexed(&mut self, indices: Range<u32>, base_vertex: i32, instances: Range<u32>) {
        wgpu::RenderPass::draw_indexed(self, indices, base_vertex, instances)
    }
    fn draw_indirect(&mut self, buffer: &wgpu::Buffer, offset: u64) {
        wgpu::RenderPass::draw_indirect(self, buffer, offset)
    }
    fn draw_indexed_indirect(&mut self, buffer: &wgpu::Buffer, offset: u64) {
        wgpu::RenderPass::draw_indexed_indirect(self, buffer, offset)
    }
    fn set_immediates(&mut self, offset: u32, data: &[u8]) {
        wgpu::RenderPass::set_immediates(self, offset, data)
    }
    fn push_debug_group(&mut self, label: &str) {
        wgpu::RenderPass::push_debug_group(self, label)
    }
    fn pop_debug_group(&mut self) {
        wgpu::RenderPass::pop_debug_group(self)
    }
    fn insert_debug_marker(&mut self, label: &str) {
        wgpu::RenderPass::insert_debug_marker(self, label)
    }
}

/// wgpu's render bundles have no debug groups or markers: the groups are kept only to check
/// that they balance, and markers are dropped.
impl RenderEncoder for Vec<BundleCommand> {
    fn set_pipeline(&mut self, pipeline: &wgpu::RenderPipeline) {
        self.push(BundleCommand::SetPipeline(pipeline.clone()))
    }
    fn set_bind_group(&mut self, index: u32, group: Option<&wgpu::BindGroup>, offsets: &[u32]) {
        self.push(BundleCommand::SetBindGroup(index, group.cloned(), offsets.to_vec()))
    }
    fn set_index_buffer(&mut self, buffer: &wgpu::Buffer, range: Range<u64>, format: wgpu::IndexFormat) {
        self.push(BundleCommand::SetIndexBuffer(buffer.clone(), range, format))
    }
    fn set_vertex_buffer(&mut self, slot: u32, buffer: Option<(&wgpu::Buffer, Range<u64>)>) {
        self.push(BundleCommand::SetVertexBuffer(slot, buffer.map(|(b, r)| (b.clone(), r))))
    }
    fn draw(&mut self, vertices: Range<u32>, instances: Range<u32>) {
        self.push(BundleCommand::Draw(vertices, instances))
    }
    fn draw_indexed(&mut self, indices: Range<u32>, base_vertex: i32, instances: Range<u32>) {
        self.push(BundleCommand::DrawIndexed(indices, base_vertex, instances))
    }
    fn draw_indirect(&mut self, buffer: &wgpu::Buffer, offset: u64) {
        self.push(BundleCommand::DrawIndirect(buffer.clone(), offset))
    }
    fn draw_indexed_indirect(&mut self, buffer: &wgpu::Buffer, offset: u64) {
        self.push(BundleCommand::DrawIndexedIndirect(buffer.clone(), offset))
    }
    fn set_immediates(&mut self, offset: u32, data: &[u8]) {
        self.push(BundleCommand::SetImmediates(offset, data.to_vec()))
    }
    fn push_debug_group(&mut self, _label: &str) {
        self.push(BundleCommand::PushDebugGroup)
    }
    fn pop_debug_group(&mut self) {
        self.push(BundleCommand::PopDebugGroup)
    }
    fn insert_debug_marker(&mut self, _label: &str) {}
}

/// Replays recorded commands into a wgpu bundle encoder; `Err` names a misuse wgpu cannot see.
fn replay<'a>(encoder: &mut wgpu::RenderBundleEncoder<'a>, commands: &'a [BundleCommand]) -> Result<(), String> {
    let mut depth = 0usize;
    for command in commands {
        match command {
            BundleCommand::SetPipeline(p) => encoder.set_pipeline(p),
            BundleCommand::SetBindGroup(i, g, offsets) => encoder.set_bind_group(*i, g.as_ref(), offsets),
            BundleCommand::SetIndexBuffer(b, r, f) => encoder.set_index_buffer(b.slice(r.clone()), *f),
            BundleCommand::SetVertexBuffer(slot, b) => {
                encoder.set_vertex_buffer(*slot, b.as_ref().map(|(b, r)| b.slice(r.clone())))
            }
            BundleCommand::Draw(v, i) => encoder.draw(v.clone(), i.clone()),
            BundleCommand::DrawIndexed(idx, base, i) => encoder.draw_indexed(idx.clone(), *base, i.clone()),
            BundleCommand::DrawIndirect(b, o) => encoder.draw_indirect(b, *o),
            BundleCommand::DrawIndexedIndirect(b, o) => encoder.draw_indexed_indirect(b, *o),
            BundleCommand::SetImmediates(o, data) => encoder.set_immediates(*o, data),
            BundleCommand::PushDebugGroup => depth += 1,
            BundleCommand::PopDebugGroup => {
                depth = depth.checked_sub(1).ok_or("pop-debug-group without a matching push-debug-group")?;
            }
        }
    }
    match depth {
        0 => Ok(()),
        n => Err(format!("{n} debug group(s) pushed and never popped")),
    }
}

/// The commands render passes and render bundle encoders share, written once over both.
macro_rules! render_commands {
    ($ty:ty, $run:ident) => {
        fn set_pipeline(&mut self, this: Resource<$ty>, pipeline: Resource<RenderPipeline>) -> wasmtime::Result<()> {
            self.$run(&this, "set-pipeline", |p, table, _| Ok(RenderEncoder::set_pipeline(p, &table.get(&pipeline)?.inner)))
        }

        fn set_index_buffer(
            &mut self,
            this: Resource<$ty>,
            buffer: Resource<Buffer>,
            format: w::GpuIndexFormat,
            offset: Option<u64>,
            size: Option<u64>,
        ) -> wasmtime::Result<()> {
            self.$run(&this, "set-index-buffer", |p, table, state| {
                let b = table.get(&buffer)?;
                match binding_range(b, offset, size) {
                    Ok(range) => RenderEncoder::set_index_buffer(p, &b.buffer, range, convert::index_format(format)),
                    Err(msg) => state.report(ErrorValue::validation(format!("set-index-buffer: {msg}"))),
                }
                Ok(())
            })
        }

        fn set_vertex_buffer(
            &mut self,
            this: Resource<$ty>,
            slot: u32,
            buffer: Option<Resource<Buffer>>,
            offset: Option<u64>,
            size: Option<u64>,
        ) -> wasmtime::Result<()> {
            self.$run(&this, "set-vertex-buffer", |p, table, state| {
                match &buffer {
                    None => RenderEncoder::set_vertex_buffer(p, slot, None),
                    Some(buffer) => {
                        let b = table.get(buffer)?;
                        match binding_range(b, offset, size) {
                            Ok(range) => RenderEncoder::set_vertex_buffer(p, slot, Some((&b.buffer, range))),
                            Err(msg) => state.report(ErrorValue::validation(format!("set-vertex-buffer: {msg}"))),
                        }
                    }
                }
                Ok(())
            })
        }

        fn draw(&mut self, this: Resource<$ty>, vertex_count: u32, instance_count: Option<u32>, first_vertex: Option<u32>, first_instance: Option<u32>) -> wasmtime::Result<()> {
            self.$run(&this, "draw", |p, _, state| {
                let first_vertex = first_vertex.unwrap_or(0);
                let first_instance = first_instance.unwrap_or(0);
                match (first_vertex.checked_add(vertex_count), first_instance.checked_add(instance_count.unwrap_or(1))) {
                    (Some(v), Some(i)) => RenderEncoder::draw(p, first_vertex..v, first_instance..i),
                    _ => state.report(ErrorValue::validation("draw: vertex or instance range overflows")),
                }
                Ok(())
            })
        }

        fn draw_indexed(
            &mut self,
            this: Resource<$ty>,
            index_count: u32,
            instance_count: Option<u32>,
            first_index: Option<u32>,
            base_vertex: Option<i32>,
            first_instance: Option<u32>,
        ) -> wasmtime::Result<()> {
            self.$run(&this, "draw-indexed", |p, _, state| {
                let first_index = first_index.unwrap_or(0);
                let first_instance = first_instance.unwrap_or(0);
                match (first_index.checked_add(index_count), first_instance.checked_add(instance_count.unwrap_or(1))) {
                    (Some(e), Some(i)) => RenderEncoder::draw_indexed(p, first_index..e, base_vertex.unwrap_or(0), first_instance..i),
                    _ => state.report(ErrorValue::validation("draw-indexed: index or instance range overflows")),
                }
                Ok(())
            })
        }

        fn draw_indirect(&mut self, this: Resource<$ty>, buffer: Resource<Buffer>, offset: u64) -> wasmtime::Result<()> {
            self.$run(&this, "draw-indirect", |p, table, _| Ok(RenderEncoder::draw_indirect(p, &table.get(&buffer)?.buffer, offset)))
        }

        fn draw_indexed_indirect(&mut self, this: Resource<$ty>, buffer: Resource<Buffer>, offset: u64) -> wasmtime::Result<()> {
            self.$run(&this, "draw-indexed-indirect", |p, table, _| Ok(RenderEncoder::draw_indexed_indirect(p, &table.get(&buffer)?.buffer, offset)))
        }

        fn set_bind_group(
            &mut self,
            this: Resource<$ty>,
            index: u32,
            bind_group: Option<Resource<BindGroup>>,
            data: Option<Vec<u32>>,
            start: Option<u64>,
            length: Option<u32>,
        ) -> wasmtime::Result<Result<(), w::SetBindGroupError>> {
            let offsets = match dynamic_offsets(data, start, length) {
                Ok(o) => o,
                Err(e) => return Ok(Err(e)),
            };
            self.$run(&this, "set-bind-group", |p, table, _| {
                let group = match &bind_group {
                    Some(g) => Some(&table.get(g)?.inner),
                    None => None,
                };
                Ok(RenderEncoder::set_bind_group(p, index, group, &offsets))
            })?;
            Ok(Ok(()))
        }

        fn set_immediates(&mut self, this: Resource<$ty>, range_offset: u32, data: Vec<u8>, offset: Option<u64>, size: Option<u64>) -> wasmtime::Result<()> {
            self.$run(&this, "set-immediates", |p, _, state| {
                match immediates(&data, offset, size) {
                    Ok(bytes) => RenderEncoder::set_immediates(p, range_offset, bytes),
                    Err(msg) => state.report(ErrorValue::validation(msg)),
                }
                Ok(())
            })
        }

        fn push_debug_group(&mut self, this: Resource<$ty>, group_label: String) -> wasmtime::Result<()> {
            self.$run(&this, "push-debug-group", |p, _, _| Ok(RenderEncoder::push_debug_group(p, &group_label)))
        }

        fn pop_debug_group(&mut self, this: Resource<$ty>) -> wasmtime::Result<()> {
            self.$run(&this, "pop-debug-group", |p, _, _| Ok(RenderEncoder::pop_debug_group(p)))
        }

        fn insert_debug_marker(&mut self, this: Resource<$ty>, marker_label: String) -> wasmtime::Result<()> {
            self.$run(&this, "insert-debug-marker", |p, _, _| Ok(RenderEncoder::insert_debug_marker(p, &marker_label)))
        }

        label_methods!($ty);

        fn drop(&mut self, this: Resource<$ty>) -> wasmtime::Result<()> {
            let encoder = self.table.delete(this)?;
            drop_quietly(encoder.state.clone(), encoder);
            Ok(())
        }
    };
}

/// Drops a pass or a render bundle encoder of the device of `state`: wgpu ends a pass it drops,
/// which can fail (its command encoder finished), but in WebGPU dropping an object reports
/// nothing.
fn drop_quietly<T>(state: Arc<DeviceState>, object: T) {
    let _ = state.capture(|| drop(object));
}

impl WebGpuCtxView<'_> {
    fn render_pass(
        &mut self,
        this: &Resource<RenderPassEncoder>,
        what: &str,
        f: impl FnOnce(&mut wgpu::RenderPass<'static>, &ResourceTable, &Arc<DeviceState>) -> wasmtime::Result<()>,
    ) -> wasmtime::Result<()> {
        self.pass(this, what, f)
    }

    /// Records into a bundle encoder that has not finished; a finished one is a validation error.
    fn bundle(
        &mut self,
        this: &Resource<RenderBundleEncoder>,
        what: &str,
        f: impl FnOnce(&mut Vec<BundleCommand>, &ResourceTable, &Arc<DeviceState>) -> wasmtime::Result<()>,
    ) -> wasmtime::Result<()> {
        let slot = self.table.get_mut(this)?;
        let state = slot.state.clone();
        let Some(mut commands) = slot.commands.take() else {
            state.report(ErrorValue::validation(format!("{what}: the render bundle encoder has finished")));
            return Ok(());
        };
        let result = f(&mut commands, self.table, &state);
        self.table.get_mut(this)?.commands = Some(commands);
        result
    }
}

impl w::HostGpuRenderPassEncoder for WebGpuCtxView<'_> {
    render_commands!(RenderPassEncoder, render_pass);

    fn set_viewport(&mut self, this: Resource<RenderPassEncoder>, x: f32, y: f32, width: f32, height: f32, min_depth: f32, max_depth: f32) -> wasmtime::Result<()> {
        self.render_pass(&this, "set-viewport", |p, _, _| { p.set_viewport(x, y, width, height, min_depth, max_depth); Ok(()) })
    }

    fn set_scissor_rect(&mut self, this: Resource<RenderPassEncoder>, x: u32, y: u32, width: u32, height: u32) -> wasmtime::Result<()> {
        self.render_pass(&this, "set-scissor-rect", |p, _, _| { p.set_scissor_rect(x, y, width, height); Ok(()) })
    }

    fn set_blend_constant(&mut self, this: Resource<RenderPassEncoder>, color: w::GpuColor) -> wasmtime::Result<()> {
        self.render_pass(&this, "set-blend-constant", |p, _, _| { p.set_blend_constant(convert::color(color)); Ok(()) })
    }

    fn set_stencil_reference(&mut self, this: Resource<RenderPassEncoder>, reference: u32) -> wasmtime::Result<()> {
        self.render_pass(&this, "set-stencil-reference", |p, _, _| { p.set_stencil_reference(reference); Ok(()) })
    }

    fn begin_occlusion_query(&mut self, this: Resource<RenderPassEncoder>, query_index: u32) -> wasmtime::Result<()> {
        self.render_pass(&this, "begin-occlusion-query", |p, _, _| { p.begin_occlusion_query(query_index); Ok(()) })
    }

    fn end_occlusion_query(&mut self, this: Resource<RenderPassEncoder>) -> wasmtime::Result<()> {
        self.render_pass(&this, "end-occlusion-query", |p, _, _| { p.end_occlusion_query(); Ok(()) })
    }

    fn execute_bundles(&mut self, this: Resource<RenderPassEncoder>, bundles: Vec<Resource<RenderBundle>>) -> wasmtime::Result<()> {
        self.render_pass(&this, "execute-bundles", |p, table, state| {
            let mut valid = Vec::with_capacity(bundles.len());
            for (i, b) in bundles.iter().enumerate() {
                match &table.get(b)?.inner {
                    Some(bundle) => valid.push(bundle),
                    None => {
                        state.report(ErrorValue::validation(format!("execute-bundles: bundle {i} is invalid")));
                        return Ok(());
                    }
                }
            }
            p.execute_bundles(valid);
            Ok(())
        })
    }

    fn end(&mut self, this: Resource<RenderPassEncoder>) -> wasmtime::Result<()> {
        let slot = self.table.get_mut(&this)?;
        match slot.pass.take() {
            Some(pass) => drop(pass),
            None => slot.state.report(ErrorValue::validation("end: the render pass has already ended")),
        }
        Ok(())
    }
}

impl w::HostGpuRenderBundleEncoder for WebGpuCtxView<'_> {
    render_commands!(RenderBundleEncoder, bundle);

    fn finish(&mut self, this: Resource<RenderBundleEncoder>, desc: Option<w::GpuRenderBundleDescriptor>) -> wasmtime::Result<Resource<RenderBundle>> {
        let label = desc.and_then(|d| d.label);
        let e = self.table.get_mut(&this)?;
        let bundle = match e.commands.take() {
            None => {
                e.state.report(ErrorValue::validation("finish: the render bundle encoder has already finished"));
                None
            }
            Some(commands) => {
                let wdesc = wgpu::RenderBundleEncoderDescriptor {
                    label: Some(&e.label),
                    color_formats: &e.color_formats,
                    depth_stencil: e.depth_stencil,
                    sample_count: e.sample_count,
                    multiview: None,
                };
                let mut encoder = e.device.create_render_bundle_encoder(&wdesc);
                let replayed = shield(&e.state, "render bundle", || replay(&mut encoder, &commands));
                match replayed {
                    Some(Ok(())) => shield(&e.state, "finish", || encoder.finish(&wgpu::RenderBundleDescriptor { label: label.as_deref() })),
                    Some(Err(msg)) => {
                        e.state.report(ErrorValue::validation(format!("finish: {msg}")));
                        None
                    }
                    None => None,
                }
            }
        };
        Ok(self.table.push(Labeled { inner: bundle, label: label.unwrap_or_default() })?)
    }
}

impl w::HostGpuCommandBuffer for WebGpuCtxView<'_> {
    label_methods!(CommandBuffer);

    fn drop(&mut self, this: Resource<CommandBuffer>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
