//! Draw chunks: a large draw of a guest under a time limit runs as a series of smaller draws,
//! each in a render pass and a submission of its own, as a large dispatch does
//! (`super::chunks`, whose parts, timeline and sizes draws share).
//!
//! A draw needs no twin: a draw of a range of its instances, or of its vertices (indices), is a
//! draw of the same pipeline with other `first-instance` and `first-vertex` (`first-index`),
//! and its shaders see the same `instance_index` and `vertex_index`. So a chunk is the
//! application's draw over a part of its grid of vertices by instances: whole instances, or a
//! run of whole primitives of one instance (list topologies only: a strip's primitives share
//! vertices). Its primitives are rasterised in the order the draw would have, each pass after
//! the one before.
//!
//! - **Passes.** A render pass remembers its attachments and its state (pipeline, bind groups,
//!   vertex and index buffers, viewport, scissor, blend constant, stencil reference). A draw
//!   larger than a chunk ends the runtime's pass, keeps the draw as a [`DrawJob`], and goes on
//!   in a new encoder and a pass that loads what the one before stored, with the same state.
//!   Each chunk is such a pass too. So a pass is cut only where every attachment is stored
//!   (`store-op` `store`, or read-only): a discarded attachment would be lost at the cut. Not
//!   cut either: passes with timestamp writes, an occlusion query set, a `max-draw-count`, or
//!   immediates; draws inside a debug group, in a render bundle or indirect.
//! - **Checks.** The whole draw is encoded at once in a pass of the virt's own, to check it: if
//!   the runtime refuses it, the draw is made as asked, and its error is the application's.
//!   Its chunks draw parts of a draw the runtime accepts.
//! - **Sizes.** A render pipeline's time per unit (a vertex of an instance) is the least
//!   measured for its chunks ([`super::chunks::Rate`]); one not measured yet starts at
//!   [`FIRST`] units. Draws that are not cut count what they may cost towards the encoder's
//!   load, and one that would take it past a slice is set apart, as dispatches are.

use super::chunks::{self, Cutting, Measured, Parts, Rate, cost, put};
use super::timeline::{Chunks, Learns};
use super::gpu_time::Work;
use super::host::Time;
use super::registry::{self, get};
use crate::{GpuCommandEncoder, GpuRenderPassEncoder, GpuRenderPipeline, exp, imp, tenant};
use futures::future::LocalBoxFuture;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// The units (vertices of instances) of a render pipeline's first chunk, before its time per
/// unit is known: one triangle. A unit's fragments are as many as its primitive covers, so a
/// first chunk of one primitive is as small as a draw can be cut.
pub const FIRST: u64 = 3;

// ---- Render pipelines ----

/// What a render pipeline whose draws can be cut keeps.
pub struct Drawable {
    rate: Rate,
    /// The vertices of one primitive of a list topology (`None`: a strip, whose vertices are
    /// never split).
    primitive: Option<u64>,
}

impl Measured for Drawable {
    fn rate(&self) -> &Rate {
        &self.rate
    }
}

/// What a render pipeline about to be made needs for its draws to be cut, if they can be.
pub struct Pending(Option<Drawable>);

/// Taken from the descriptor of a render pipeline of `device` before it is made.
pub fn render_pipeline(device: &crate::GpuDevice, descriptor: &exp::GpuRenderPipelineDescriptor<'_>) -> Pending {
    let drawable = chunks::on(device.device).then(|| {
        let topology = descriptor.primitive.as_ref().and_then(|p| p.topology).unwrap_or(exp::GpuPrimitiveTopology::TriangleList);
        let primitive = match topology {
            exp::GpuPrimitiveTopology::PointList => Some(1),
            exp::GpuPrimitiveTopology::LineList => Some(2),
            exp::GpuPrimitiveTopology::TriangleList => Some(3),
            exp::GpuPrimitiveTopology::LineStrip | exp::GpuPrimitiveTopology::TriangleStrip => None,
        };
        Drawable { rate: Rate::default(), primitive }
    });
    Pending(drawable)
}

impl Pending {
    pub fn made(self, pipeline: &exp::GpuRenderPipeline) {
        if let Some(drawable) = self.0 {
            let _ = pipeline.get::<GpuRenderPipeline>().draws.set(Rc::new(drawable));
        }
    }
}

// ---- Passes ----

/// What a render pass remembers, on a device whose draws are cut.
#[derive(Default)]
pub struct Pass(RefCell<Option<PassState>>);

struct PassState {
    encoder: Rc<RefCell<imp::GpuCommandEncoder>>,
    parts: Parts,
    /// What a pass that goes on after a cut begins with (`None`: the pass is never cut).
    target: Option<Rc<Target>>,
    ended: bool,
    debug_groups: u32,
    /// Whether the runtime's encoder holds work of the application's since the last cut (as
    /// a compute pass's does).
    busy: bool,
    bound: Bound,
}

/// The attachments of a render pass, as a pass that goes on after a cut sees them: each
/// loaded and stored.
struct Target {
    label: Option<String>,
    colors: Vec<Option<Color>>,
    depth_stencil: Option<DepthStencil>,
}

struct Color {
    view: Rc<imp::GpuTextureView>,
    depth_slice: Option<u32>,
    resolve_target: Option<Rc<imp::GpuTextureView>>,
}

struct DepthStencil {
    view: Rc<imp::GpuTextureView>,
    /// Whether each aspect has load and store operations (else it has none: read-only, or
    /// not in the format).
    depth: bool,
    stencil: bool,
    depth_read_only: Option<bool>,
    stencil_read_only: Option<bool>,
}

impl Target {
    /// What goes on after a cut of a pass begun with `descriptor`, if a cut loses nothing.
    fn of(descriptor: &exp::GpuRenderPassDescriptor<'_>) -> Option<Self> {
        let stored = |op: Option<exp::GpuStoreOp>| op.is_none_or(|op| op == exp::GpuStoreOp::Store);
        let plain = descriptor.timestamp_writes.is_none() && descriptor.occlusion_query_set.is_none() && descriptor.max_draw_count.is_none();
        let colors_stored = descriptor.color_attachments.iter().flatten().all(|a| a.store_op == exp::GpuStoreOp::Store);
        let depth_stored = descriptor.depth_stencil_attachment.as_ref().is_none_or(|d| stored(d.depth_store_op) && stored(d.stencil_store_op));
        if !(plain && colors_stored && depth_stored) {
            return None;
        }
        let view = |v: &exp::GpuTextureViewBorrow<'_>| v.get::<crate::GpuTextureView>().inner.clone();
        let colors = descriptor
            .color_attachments
            .iter()
            .map(|a| a.as_ref().map(|a| Color { view: view(&a.view), depth_slice: a.depth_slice, resolve_target: a.resolve_target.as_ref().map(view) }))
            .collect();
        let depth_stencil = descriptor.depth_stencil_attachment.as_ref().map(|d| DepthStencil {
            view: view(&d.view),
            depth: d.depth_load_op.is_some() || d.depth_store_op.is_some(),
            stencil: d.stencil_load_op.is_some() || d.stencil_store_op.is_some(),
            depth_read_only: d.depth_read_only,
            stencil_read_only: d.stencil_read_only,
        });
        Some(Target { label: descriptor.label.clone(), colors, depth_stencil })
    }

    /// A pass on `encoder` that loads the attachments and stores them.
    fn begin(&self, encoder: &imp::GpuCommandEncoder) -> imp::GpuRenderPassEncoder {
        let (load, store) = (imp::GpuLoadOp::Load, imp::GpuStoreOp::Store);
        let colors = self
            .colors
            .iter()
            .map(|c| {
                c.as_ref().map(|c| imp::GpuRenderPassColorAttachment {
                    view: &c.view,
                    depth_slice: c.depth_slice,
                    resolve_target: c.resolve_target.as_deref(),
                    clear_value: None,
                    load_op: load,
                    store_op: store,
                })
            })
            .collect();
        let depth_stencil = self.depth_stencil.as_ref().map(|d| imp::GpuRenderPassDepthStencilAttachment {
            view: &d.view,
            depth_clear_value: None,
            depth_load_op: d.depth.then_some(load),
            depth_store_op: d.depth.then_some(store),
            depth_read_only: d.depth_read_only,
            stencil_clear_value: None,
            stencil_load_op: d.stencil.then_some(load),
            stencil_store_op: d.stencil.then_some(store),
            stencil_read_only: d.stencil_read_only,
        });
        encoder.begin_render_pass(&imp::GpuRenderPassDescriptor {
            color_attachments: colors,
            depth_stencil_attachment: depth_stencil,
            occlusion_query_set: None,
            timestamp_writes: None,
            max_draw_count: None,
            label: self.label.clone(),
        })
    }
}

/// The state a pass's draws use, as the application set it.
#[derive(Clone, Default)]
struct Bound {
    pipeline: Option<(Rc<imp::GpuRenderPipeline>, Option<Rc<Drawable>>)>,
    groups: Vec<Option<Group>>,
    vertex_buffers: Vec<Option<VertexBuffer>>,
    index_buffer: Option<IndexBuffer>,
    viewport: Option<[f32; 6]>,
    scissor: Option<[u32; 4]>,
    blend_constant: Option<exp::GpuColor>,
    stencil_reference: Option<u32>,
}

#[derive(Clone)]
struct Group {
    bind_group: Option<Rc<imp::GpuBindGroup>>,
    offsets: Option<Vec<u32>>,
    start: Option<u64>,
    length: Option<u32>,
}

#[derive(Clone)]
struct VertexBuffer {
    buffer: Option<Rc<imp::GpuBuffer>>,
    offset: Option<u64>,
    size: Option<u64>,
}

#[derive(Clone)]
struct IndexBuffer {
    buffer: Rc<imp::GpuBuffer>,
    format: exp::GpuIndexFormat,
    offset: Option<u64>,
    size: Option<u64>,
}

impl Bound {
    /// Sets this state in `pass`, a pass of the virt's own.
    fn apply(&self, pass: &imp::GpuRenderPassEncoder) {
        if let Some((pipeline, _)) = &self.pipeline {
            pass.set_pipeline(pipeline);
        }
        for (index, group) in self.groups.iter().enumerate() {
            if let Some(g) = group {
                let _ = pass.set_bind_group(index as u32, g.bind_group.as_deref(), g.offsets.as_deref(), g.start, g.length);
            }
        }
        for (slot, vertex) in self.vertex_buffers.iter().enumerate() {
            if let Some(v) = vertex {
                pass.set_vertex_buffer(slot as u32, v.buffer.as_deref(), v.offset, v.size);
            }
        }
        if let Some(i) = &self.index_buffer {
            pass.set_index_buffer(&i.buffer, i.format, i.offset, i.size);
        }
        if let Some([x, y, width, height, min_depth, max_depth]) = self.viewport {
            pass.set_viewport(x, y, width, height, min_depth, max_depth);
        }
        if let Some([x, y, width, height]) = self.scissor {
            pass.set_scissor_rect(x, y, width, height);
        }
        if let Some(color) = self.blend_constant {
            pass.set_blend_constant(color);
        }
        if let Some(reference) = self.stencil_reference {
            pass.set_stencil_reference(reference);
        }
    }
}

/// `gpu-command-encoder.begin-render-pass`: on a device whose draws are cut, the pass
/// remembers what a pass that goes on after a cut needs.
pub fn begin_render_pass(encoder: &GpuCommandEncoder, descriptor: exp::GpuRenderPassDescriptor<'_>) -> exp::GpuRenderPassEncoder {
    let target = chunks::on(encoder.device).then(|| Target::of(&descriptor).map(Rc::new));
    let pass = encoder.forward_begin_render_pass(descriptor);
    if let Some(target) = target {
        encoder.parts.pass_begun();
        *pass.get::<GpuRenderPassEncoder>().pass.0.borrow_mut() = Some(PassState {
            encoder: encoder.inner.clone(),
            parts: encoder.parts.clone(),
            target,
            ended: false,
            debug_groups: 0,
            busy: true,
            bound: Bound::default(),
        });
    }
    pass
}

/// Changes what `pass` remembers, if it remembers anything.
fn remember(pass: &GpuRenderPassEncoder, change: impl FnOnce(&mut PassState)) {
    if let Some(state) = pass.pass.0.borrow_mut().as_mut() {
        change(state);
    }
}

pub fn set_pipeline(pass: &GpuRenderPassEncoder, pipeline: exp::GpuRenderPipelineBorrow<'_>) {
    let p = pipeline.get::<GpuRenderPipeline>();
    remember(pass, |s| s.bound.pipeline = Some((p.inner.clone(), p.draws.get().cloned())));
    pass.forward_set_pipeline(pipeline);
}

pub fn set_bind_group(
    pass: &GpuRenderPassEncoder,
    index: u32,
    bind_group: Option<exp::GpuBindGroupBorrow<'_>>,
    offsets: Option<Vec<u32>>,
    start: Option<u64>,
    length: Option<u32>,
) -> Result<(), exp::SetBindGroupError> {
    let group = Group { bind_group: bind_group.as_ref().map(|b| b.get::<crate::GpuBindGroup>().inner.clone()), offsets: offsets.clone(), start, length };
    let result = pass.forward_set_bind_group(index, bind_group, offsets, start, length);
    if result.is_ok() {
        remember(pass, |s| put(&mut s.bound.groups, index, Some(group)));
    }
    result
}

pub fn set_vertex_buffer(pass: &GpuRenderPassEncoder, slot: u32, buffer: Option<exp::GpuBufferBorrow<'_>>, offset: Option<u64>, size: Option<u64>) {
    let vertex = VertexBuffer { buffer: buffer.as_ref().map(|b| b.get::<crate::GpuBuffer>().inner.clone()), offset, size };
    remember(pass, |s| put(&mut s.bound.vertex_buffers, slot, Some(vertex)));
    pass.forward_set_vertex_buffer(slot, buffer, offset, size);
}

pub fn set_index_buffer(pass: &GpuRenderPassEncoder, buffer: exp::GpuBufferBorrow<'_>, format: exp::GpuIndexFormat, offset: Option<u64>, size: Option<u64>) {
    let index = IndexBuffer { buffer: buffer.get::<crate::GpuBuffer>().inner.clone(), format, offset, size };
    remember(pass, |s| s.bound.index_buffer = Some(index));
    pass.forward_set_index_buffer(buffer, format, offset, size);
}

pub fn set_viewport(pass: &GpuRenderPassEncoder, x: f32, y: f32, width: f32, height: f32, min_depth: f32, max_depth: f32) {
    remember(pass, |s| s.bound.viewport = Some([x, y, width, height, min_depth, max_depth]));
    pass.forward_set_viewport(x, y, width, height, min_depth, max_depth);
}

pub fn set_scissor_rect(pass: &GpuRenderPassEncoder, x: u32, y: u32, width: u32, height: u32) {
    remember(pass, |s| s.bound.scissor = Some([x, y, width, height]));
    pass.forward_set_scissor_rect(x, y, width, height);
}

pub fn set_blend_constant(pass: &GpuRenderPassEncoder, color: exp::GpuColor) {
    remember(pass, |s| s.bound.blend_constant = Some(color));
    pass.forward_set_blend_constant(color);
}

pub fn set_stencil_reference(pass: &GpuRenderPassEncoder, reference: u32) {
    remember(pass, |s| s.bound.stencil_reference = Some(reference));
    pass.forward_set_stencil_reference(reference);
}

/// Immediates are not remembered: a pass that sets them is never cut.
pub fn set_immediates(pass: &GpuRenderPassEncoder, offset: u32, data: Vec<u8>, data_offset: Option<u64>, size: Option<u64>) {
    remember(pass, |s| s.target = None);
    pass.forward_set_immediates(offset, data, data_offset, size);
}

/// Bundles leave the pass's pipeline, bind groups and buffers unset, as WebGPU says; their
/// draws are not cut.
pub fn execute_bundles(pass: &GpuRenderPassEncoder, bundles: Vec<exp::GpuRenderBundleBorrow<'_>>) {
    remember(pass, |s| {
        s.busy = true;
        s.bound.pipeline = None;
        s.bound.groups.clear();
        s.bound.vertex_buffers.clear();
        s.bound.index_buffer = None;
    });
    pass.forward_execute_bundles(bundles);
}

pub fn push_debug_group(pass: &GpuRenderPassEncoder, label: String) {
    remember(pass, |s| s.debug_groups = s.debug_groups.saturating_add(1));
    pass.forward_push_debug_group(label);
}

pub fn pop_debug_group(pass: &GpuRenderPassEncoder) {
    remember(pass, |s| s.debug_groups = s.debug_groups.saturating_sub(1));
    pass.forward_pop_debug_group();
}

pub fn end(pass: &GpuRenderPassEncoder) {
    remember(pass, |s| {
        if !std::mem::replace(&mut s.ended, true) {
            s.parts.pass_ended();
            // Its attachments' stores are work of the application's, cut or not.
            s.parts.record();
        }
    });
    pass.forward_end();
}

pub fn draw(pass: &GpuRenderPassEncoder, vertex_count: u32, instance_count: Option<u32>, first_vertex: Option<u32>, first_instance: Option<u32>) {
    let draw = Draw { indexed: false, count: vertex_count, instances: instance_count.unwrap_or(1), first: first_vertex.unwrap_or(0), base_vertex: 0, first_instance: first_instance.unwrap_or(0) };
    if let Cutting::No(cost) = cut(pass, draw) {
        forwarded(pass, cost, draw.units());
        pass.forward_draw(vertex_count, instance_count, first_vertex, first_instance);
    }
}

pub fn draw_indexed(pass: &GpuRenderPassEncoder, index_count: u32, instance_count: Option<u32>, first_index: Option<u32>, base_vertex: Option<i32>, first_instance: Option<u32>) {
    let draw = Draw {
        indexed: true,
        count: index_count,
        instances: instance_count.unwrap_or(1),
        first: first_index.unwrap_or(0),
        base_vertex: base_vertex.unwrap_or(0),
        first_instance: first_instance.unwrap_or(0),
    };
    if let Cutting::No(cost) = cut(pass, draw) {
        forwarded(pass, cost, draw.units());
        pass.forward_draw_indexed(index_count, instance_count, first_index, base_vertex, first_instance);
    }
}

/// A draw of `units` that may cost `cost` goes into the runtime's pass: it holds the
/// application's work now.
fn forwarded(pass: &GpuRenderPassEncoder, cost: u64, units: u64) {
    remember(pass, |s| {
        s.busy = true;
        let measured = s.bound.pipeline.as_ref().and_then(|(_, d)| d.clone()).map(|d| d as Rc<dyn Measured>);
        s.parts.add_load(cost, measured, units);
    });
}

pub fn draw_indirect(pass: &GpuRenderPassEncoder, buffer: exp::GpuBufferBorrow<'_>, offset: u64) {
    remember(pass, |s| s.busy = true);
    pass.forward_draw_indirect(buffer, offset);
}

pub fn draw_indexed_indirect(pass: &GpuRenderPassEncoder, buffer: exp::GpuBufferBorrow<'_>, offset: u64) {
    remember(pass, |s| s.busy = true);
    pass.forward_draw_indexed_indirect(buffer, offset);
}

/// Cuts `draw` out of the pass, if it is larger than a chunk and can be cut, or sets it apart,
/// if the runtime's encoder since the last cut holds work that may cost a slice with it.
fn cut(pass: &GpuRenderPassEncoder, draw: Draw) -> Cutting {
    let mut state = pass.pass.0.borrow_mut();
    let Some(state) = state.as_mut() else { return Cutting::No(0) };
    let Some((_, Some(drawable))) = state.bound.pipeline.clone() else { return Cutting::No(0) };
    let slice = chunks::slice(pass.device);
    let units = draw.units();
    let cost = cost(units, drawable.rate.get(), slice, FIRST);
    let open = !state.ended && state.debug_groups == 0 && state.parts.open();
    let (Some(target), Some(v), true) = (state.target.clone(), get(pass.device).filter(|_| !registry::is_lost(pass.device)), open && units > 0) else {
        return Cutting::No(cost);
    };
    let apart = units <= drawable.rate.chunk(slice, FIRST);
    if apart && !(state.busy && state.parts.load().saturating_add(cost) > slice) {
        return Cutting::No(cost);
    }
    let host = &v.host.device;
    let job = Rc::new(DrawJob {
        tenant: tenant::of(pass.device),
        drawable,
        target: target.clone(),
        bound: state.bound.clone(),
        draw,
        apart,
        cursor: Cell::new(Some([0, 0])),
        made: Cell::new(0),
        slice,
    });
    // The whole draw, encoded now and let go: if the runtime refuses it, it is made as asked.
    if !chunks::accepted(host, |encoder| job.encode(encoder, [0, 0], [draw.count, draw.instances])) {
        return Cutting::No(cost);
    }
    let tenant = tenant::of(pass.device);
    match apart {
        true => super::gpu_time::set_apart(tenant, Work::Draw),
        false => super::gpu_time::cut(tenant, Work::Draw),
    }
    state.parts.cut(host, &state.encoder, state.busy, job, || pass.inner.borrow().end());
    if state.busy {
        let next = target.begin(&state.encoder.borrow());
        state.bound.apply(&next);
        *pass.inner.borrow_mut() = next;
        state.busy = false;
    }
    Cutting::Done
}

// ---- Jobs ----

/// A draw as the application made it.
#[derive(Clone, Copy)]
struct Draw {
    indexed: bool,
    /// Its vertices, or indices.
    count: u32,
    instances: u32,
    /// Its first vertex, or index.
    first: u32,
    base_vertex: i32,
    first_instance: u32,
}

impl Draw {
    fn units(&self) -> u64 {
        u64::from(self.count) * u64::from(self.instances)
    }
}

/// A draw cut out of a render pass, run chunk by chunk, or set apart, run whole.
pub struct DrawJob {
    tenant: u32,
    drawable: Rc<Drawable>,
    target: Rc<Target>,
    bound: Bound,
    draw: Draw,
    /// Set apart: it waits for the work before it, and runs whole.
    apart: bool,
    /// Where the next chunk starts in the draw's grid: its vertex (index), its instance
    /// (`None`: every chunk was made).
    cursor: Cell<Option<[u32; 2]>>,
    /// The units of the chunk made last.
    made: Cell<u64>,
    slice: u64,
}

impl DrawJob {
    /// The chunk of at most `size` units that starts at `start`, as a count of vertices and
    /// of instances (whole instances, or whole primitives of one), and where the next chunk
    /// starts (`None`: it is the last).
    fn span(&self, [ox, oy]: [u32; 2], size: u64) -> ([u32; 2], Option<[u32; 2]>) {
        let (x, y) = (u64::from(self.draw.count), u64::from(self.draw.instances));
        let (ox, oy) = (u64::from(ox), u64::from(oy));
        let (count, next) = match self.drawable.primitive {
            Some(step) if ox > 0 || x > size => {
                let k = ((size / step).max(1) * step).min(x - ox);
                ([k, 1], if ox + k < x { [ox + k, oy] } else { [0, oy + 1] })
            }
            _ => {
                let k = (size / x.max(1)).clamp(1, y - oy);
                ([x, k], [0, oy + k])
            }
        };
        (count.map(|n| n as u32), (next[1] < y).then(|| next.map(|n| n as u32)))
    }

    /// A pass of its own on the target, with the application's state, that draws `count` at
    /// `start` of the draw's grid.
    fn encode(&self, encoder: &imp::GpuCommandEncoder, [ox, oy]: [u32; 2], [count, instances]: [u32; 2]) {
        let pass = self.target.begin(encoder);
        self.bound.apply(&pass);
        let d = &self.draw;
        match d.indexed {
            true => pass.draw_indexed(count, Some(instances), Some(d.first + ox), Some(d.base_vertex), Some(d.first_instance + oy)),
            false => pass.draw(count, Some(instances), Some(d.first + ox), Some(d.first_instance + oy)),
        }
        pass.end();
    }

    /// The size of the next chunk, in units.
    fn size(&self) -> u64 {
        match self.apart {
            true => u64::MAX,
            false => self.drawable.rate.chunk(self.slice, FIRST),
        }
    }
}

impl Learns for DrawJob {
    fn timed(&self, time: &Time) {
        self.drawable.rate.timed(time.clone(), self.made.get());
    }
}

impl Chunks for DrawJob {
    fn is_done(&self) -> bool {
        self.cursor.get().is_none()
    }

    /// The time the rest of the draw runs, when it is one chunk of the measured size.
    fn rest(&self) -> Option<u64> {
        let start = self.cursor.get()?;
        let (_, next) = self.span(start, self.size());
        next.is_none().then(|| self.estimate()).flatten()
    }

    fn estimate(&self) -> Option<u64> {
        let ns = self.drawable.rate.get()?;
        let Some(start) = self.cursor.get() else { return Some(0) };
        let ([count, instances], _) = self.span(start, self.size());
        Some((u64::from(count) * u64::from(instances)).saturating_mul(ns))
    }

    /// As a dispatch's chunks wait (`super::chunks::Job`).
    fn waits(&self) -> bool {
        match self.cursor.get() {
            None => false,
            Some([0, 0]) => self.apart,
            Some(_) => self.rest().is_none(),
        }
    }

    fn slice(&self) -> u64 {
        self.slice
    }

    fn next(&self, encoder: &imp::GpuCommandEncoder) -> bool {
        let Some(start) = self.cursor.get() else { return false };
        let (count, next) = self.span(start, self.size());
        self.cursor.set(next);
        self.made.set(u64::from(count[0]) * u64::from(count[1]));
        super::gpu_time::chunk(self.tenant, Work::Draw);
        self.encode(encoder, start, count);
        true
    }

    fn read(&self) -> Option<LocalBoxFuture<'_, ()>> {
        None
    }
}
