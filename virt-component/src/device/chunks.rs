//! Dispatch chunks: a large compute dispatch of a guest under a time limit runs as a series of
//! smaller dispatches, each a submission of its own, so that the virt regains control of the
//! GPU between them.
//!
//! WebGPU gives no way to stop a dispatch that runs. Loop budgets (`super::bound`) make each
//! invocation end, but a dispatch of many workgroups is still one piece of work that can run for
//! hours, with every other guest of the host device waiting behind it. So the virt cuts it:
//! - **Shaders.** A chunk runs on a *twin* of its pipeline, made with the pipeline. The twin's
//!   module reads `workgroup_id`,
//!   `global_invocation_id` and `num_workgroups` of the whole dispatch through a *place* in a
//!   reserved bind group (`webgpu_virt_bound::chunked`): the last group the host device allows,
//!   added to the pipeline's layout (an explicit layout gets empty slots up to it). Dispatches
//!   that are not cut run on the application's pipeline as it made it, so that they cost what
//!   they cost without the virt, and so does a chunk that holds a whole dispatch (one cut
//!   before its pipeline was measured, which then fits a slice). The bind groups of an
//!   automatic layout fit only their own pipeline: a chunk uses twins of them, made from the
//!   entries that each bind group remembers ([`Remembered`]) when a job's first chunk on the
//!   twin is.
//! - **Encoding.** A compute pass remembers its pipeline and bind groups. A dispatch larger
//!   than a chunk ends the runtime's pass and finishes the encoder so far (a *part* of the
//!   application's command buffer), keeps the dispatch as a [`Job`], and goes on in a new
//!   encoder and pass with the same state; an encoder that holds nothing of the application's
//!   but pass state since it was made or last cut goes on instead, the job its next part (the
//!   encoder's commands say when they record work: [`Parts::record`]). The runtime
//!   checks the dispatch where it stands: an empty dispatch goes into its pass in the
//!   dispatch's place (WebGPU checks a dispatch's state whatever its size), and the chunks are
//!   made as they go. Only an encoder's one open pass is cut (a part finished under another
//!   open pass would leave that pass on an encoder that has finished). The application's
//!   encoder and pass are the same objects throughout: their imported handles are swapped
//!   (`build.rs`, `SWAPPED`). A part the runtime refuses to finish shows the encoder invalid
//!   already: the application's `finish` reports that error, and its `submit` submits that
//!   part, refused in the runtime's words.
//! - **Submission.** A command buffer with parts is submitted part by part on the device's
//!   timeline (`super::timeline`): a job's chunks one at a time, its first as a submission goes,
//!   each later one once the work before it is done. Between two chunks, other guests' work
//!   runs, and a device lost to its time limit submits nothing more. A chunk that holds the
//!   rest of its dispatch and is known to fit a slice waits for nothing, and goes in one runtime
//!   submission with the parts after it that wait for nothing either, as does a job's first
//!   chunk; but chunks go ahead of the work in flight only up to a slice of them, and one of a
//!   pipeline not measured yet only alone (`Timeline::may_go_ahead`), so that many jobs in a
//!   row queue no more than that. The chunks of one runtime submission are passes of one
//!   command encoder. The time limit counts the chunks of one submission together
//!   (`super::watchdog`).
//! - **Many dispatches.** An encoder counts what the dispatches in its runtime encoder since
//!   the last cut may cost ([`cost`]). A dispatch that would take that past a slice is *set
//!   apart*: a job of one chunk, the dispatch as made, that waits for the work before it. So a
//!   pass of many dispatches of a chunk each queues no more than a slice at once either.
//! - **Indirect dispatches.** One is a job whatever its size: its arguments are copied to a
//!   buffer of the virt's own as a submission goes, read once the copy is done, and the
//!   dispatch runs as a direct one of that size. An indirect buffer gets `COPY_SRC` for it
//!   ([`Arguments`]).
//! - **Sizes.** A chunk is as many workgroups as ran in a slice of time ([`SLICE`]) before
//!   (the least time per workgroup measured for its pipeline, from submission to completion: a
//!   small chunk's time is mostly the runtime's latency, and a first chunk's counts the work
//!   queued before it, an overestimate); a pipeline not measured yet starts at [`FIRST`]
//!   workgroups.
//!
//! Draws are cut the same way (`super::draws`), sharing the parts, the timeline and [`Rate`].
//!
//! Chunks are made only where the runtime's error scopes pop at once (`Host::instant_pops`), so
//! that the virt can check its own work without the application seeing it: a twin, a twin's
//! bind group or an indirect dispatch (checked in a pass of the virt's own) that the runtime
//! refuses is not used, and the dispatch is made as asked. A dispatch on a device lost or
//! destroyed is made as asked. What is not cut: passes with timestamp writes, dispatches inside a debug group,
//! entry points with a dispatch-wide builtin in a structure, and pipelines whose layout
//! already uses the reserved group.

use super::gpu_time::Work;
use super::host::Time;
use super::registry::{self, get};
use super::scopes::caught;
use super::timeline::{Chunks, Learns};
use crate::{
    GpuBindGroup, GpuCommandBuffer, GpuCommandEncoder, GpuComputePassEncoder, GpuComputePipeline, GpuDevice, GpuPipelineLayout, GpuShaderModule,
    exp, imp, tenant,
};
use futures::future::LocalBoxFuture;
use std::cell::{Cell, OnceCell, RefCell};
use std::rc::{Rc, Weak};
use webgpu_virt_bound::{PLACE_BINDING, PLACE_SIZE};

/// How long a chunk should run at most, in nanoseconds: an eighth of the time limit, at least
/// 1 ms and at most this (the longest that other guests wait behind a chunk, and that a lost
/// device's last chunk runs on).
pub const SLICE: u64 = 1_000_000_000;

/// The workgroups of a pipeline's first chunk, before its time per workgroup is known.
pub const FIRST: u64 = 64;

/// Whether dispatches of `device` are cut: its guest has a time limit that the virt measures,
/// and its runtime's scopes pop at once.
pub fn on(device: crate::ids::DeviceId) -> bool {
    tenant::policy(device).max_submission_time.is_some()
        && super::gpu_time::measured()
        && get(device).is_some_and(|v| v.host.instant_pops)
}

/// How long a chunk of `device` should run.
pub(super) fn slice(device: crate::ids::DeviceId) -> u64 {
    let limit = tenant::policy(device).max_submission_time.map_or(SLICE, |l| l.0);
    (limit / 8).clamp(1_000_000, SLICE)
}

// ---- Shader modules and pipelines ----

/// What a shader module keeps for its chunked twin: the code it was made from (loops bounded),
/// and the twin once a chunk asked for it. Shared with the pipelines made from the module,
/// which may outlive it.
#[derive(Default)]
pub struct ModuleChunks {
    code: OnceCell<String>,
    twin: OnceCell<Option<Rc<Twin>>>,
}

/// A module whose entry points read the place.
struct Twin {
    /// `None`: no entry point reads a dispatch-wide builtin, and the module compiles as it is.
    module: Option<imp::GpuShaderModule>,
    entries: Vec<webgpu_virt_bound::Entry>,
}

/// `module` of `device` is made from `code` (its loops bounded already, when they are).
pub fn remember(device: &GpuDevice, module: &exp::GpuShaderModule, code: &str) {
    if on(device.device) {
        let _ = module.get::<GpuShaderModule>().chunks.code.set(code.to_string());
    }
}

impl ModuleChunks {
    /// The twin whose entry points read the place in group `group`, made the first time.
    fn twin(&self, device: &imp::GpuDevice, group: u32) -> Option<Rc<Twin>> {
        let code = self.code.get()?;
        self.twin
            .get_or_init(|| {
                let chunked = webgpu_virt_bound::chunked(code, group).ok()?;
                if !chunked.entries.iter().any(|e| e.reads_place) {
                    return Some(Rc::new(Twin { module: None, entries: chunked.entries }));
                }
                let descriptor = imp::GpuShaderModuleDescriptor { code: chunked.code, label: None, compilation_hints: None };
                let (module, error) = caught(device, || device.create_shader_module(&descriptor));
                error.is_none().then(|| Rc::new(Twin { module: Some(module), entries: chunked.entries }))
            })
            .clone()
    }
}

/// What a compute pipeline whose dispatches can be cut keeps: what its twin is made from, the
/// twin once made, and its time per workgroup.
pub struct Chunkable {
    module: Rc<ModuleChunks>,
    entry_point: Option<String>,
    constants: Vec<(String, f64)>,
    /// The bind group layouts of its explicit layout (`None`: an automatic layout).
    explicit: Option<Vec<Option<Rc<imp::GpuBindGroupLayout>>>>,
    label: Option<String>,
    twin: OnceCell<Option<Rc<TwinPipeline>>>,
    /// Its time per workgroup.
    rate: Rate,
}

/// A pipeline's time per unit of work (a workgroup, a vertex of an instance): the least
/// measured, in nanoseconds, at least 1. A chunk's time runs from its submission until the
/// virt hears it done: it counts the runtime's latency, which a small chunk does not amortise,
/// and the work submitted with it or before it, so the least time per unit seen is the
/// estimate.
#[derive(Default)]
pub(super) struct Rate {
    least: Cell<Option<u64>>,
    /// Chunks that went to the runtime timed, and their units: their times come once they are
    /// done (`Host::time_of`).
    timing: RefCell<Vec<(Time, u64)>>,
}

impl Rate {
    /// The time per unit, with what chunks done since it was last asked taught.
    pub(super) fn get(&self) -> Option<u64> {
        let mut timing = self.timing.borrow_mut();
        timing.retain(|(time, units)| {
            let Some(ns) = time.get() else { return true };
            let measured = (ns / units.max(&1)).max(1);
            self.least.set(Some(self.least.get().map_or(measured, |seen| seen.min(measured))));
            false
        });
        self.least.get()
    }

    /// A chunk of `units` went to the runtime; its time comes in `time`.
    pub(super) fn timed(&self, time: Time, units: u64) {
        if units > 0 {
            self.timing.borrow_mut().push((time, units));
        }
    }

    /// The units a chunk holds: as many as ran in `slice` before, or `first` when none was
    /// measured yet.
    pub(super) fn chunk(&self, slice: u64, first: u64) -> u64 {
        self.get().map_or(first, |ns| (slice / ns).max(1))
    }
}

/// What has a [`Rate`]: a pipeline whose dispatches (or draws) may be cut.
pub(super) trait Measured {
    fn rate(&self) -> &Rate;
}

impl Measured for Chunkable {
    fn rate(&self) -> &Rate {
        &self.rate
    }
}

/// Dispatches (or draws) of pipelines not measured yet that went into a runtime command buffer
/// uncut, each pipeline's units summed. The time of a submission in parts that holds them, once
/// the runtime took it, bounds each one's time: it teaches those pipelines a rate (an
/// overestimate), so that such dispatches, small ones of which may never be cut, stop costing
/// what an unknown pipeline may cost (a slice for [`FIRST`] units: each cost that much would
/// set the dispatch after it apart, and make it wait for them, in every step of a job).
#[derive(Default)]
pub struct Uncut(Vec<(Rc<dyn Measured>, u64)>);

impl Uncut {
    fn add(&mut self, measured: Rc<dyn Measured>, units: u64) {
        if measured.rate().get().is_some() || units == 0 {
            return;
        }
        match self.0.iter_mut().find(|(m, _)| Rc::ptr_eq(m, &measured)) {
            Some((_, sum)) => *sum = sum.saturating_add(units),
            None => self.0.push((measured, units)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Learns for Uncut {
    /// The submission that held them took `time`.
    fn timed(&self, time: &Time) {
        for (measured, units) in &self.0 {
            measured.rate().timed(time.clone(), *units);
        }
    }
}

/// What work of `units` may cost, in nanoseconds: at `rate`, or, not measured yet, as if
/// `first` units took a slice.
pub(super) fn cost(units: u64, rate: Option<u64>, slice: u64, first: u64) -> u64 {
    units.saturating_mul(rate.unwrap_or(slice / first))
}

/// The pipeline that a pipeline's chunks run on.
struct TwinPipeline {
    pipeline: Rc<imp::GpuComputePipeline>,
    /// The reserved group and its layout, if the entry point reads the place.
    place: Option<(u32, Rc<imp::GpuBindGroupLayout>)>,
    /// Whether it has a layout of its own (automatic): the application's bind groups do not fit
    /// it, their twins do.
    own_layout: bool,
}

/// `gpu-device.create-pipeline-layout`: the layout remembers its bind group layouts, which a
/// twin's layout extends.
pub fn create_pipeline_layout(device: &GpuDevice, descriptor: exp::GpuPipelineLayoutDescriptor<'_>) -> exp::GpuPipelineLayout {
    let groups: Vec<Option<Rc<imp::GpuBindGroupLayout>>> = match on(device.device) {
        true => descriptor.bind_group_layouts.iter().map(|l| l.as_ref().map(|l| l.get::<crate::GpuBindGroupLayout>().inner.clone())).collect(),
        false => Vec::new(),
    };
    let layout = device.forward_create_pipeline_layout(descriptor);
    *layout.get::<GpuPipelineLayout>().groups.borrow_mut() = groups;
    layout
}

/// What a compute pipeline about to be made needs for its dispatches to be cut, if they can be.
pub struct Pending(Option<Chunkable>);

/// Taken from the descriptor of a compute pipeline of `device` before it is made.
pub fn compute_pipeline(device: &GpuDevice, descriptor: &exp::GpuComputePipelineDescriptor<'_>) -> Pending {
    let chunkable = on(device.device).then(|| {
        let module = descriptor.compute.module.get::<GpuShaderModule>();
        module.chunks.code.get()?;
        let constants = descriptor.compute.constants.as_ref().map_or_else(Vec::new, |c| c.get::<crate::RecordGpuPipelineConstantValue>().inner.entries());
        let explicit = match &descriptor.layout {
            exp::GpuLayoutMode::Specific(layout) => Some(layout.get::<GpuPipelineLayout>().groups.borrow().clone()),
            exp::GpuLayoutMode::Auto => None,
        };
        Some(Chunkable {
            module: module.chunks.clone(),
            entry_point: descriptor.compute.entry_point.clone(),
            constants,
            explicit,
            label: descriptor.label.clone(),
            twin: OnceCell::new(),
            rate: Rate::default(),
        })
    });
    Pending(chunkable.flatten())
}

impl Pending {
    /// The pipeline is made: it keeps what its chunks need, and its twin is made with it.
    /// Compiling is what making a pipeline costs, and a pipeline with large dispatches needs
    /// its twin at the first of them (cut to measure its time per workgroup), mid-encoding.
    pub fn made(self, pipeline: &exp::GpuComputePipeline) {
        if let Some(chunkable) = self.0 {
            let p = pipeline.get::<GpuComputePipeline>();
            if let Some(v) = get(p.device) {
                chunkable.twin(p.device, &v.host.device, &p.inner);
            }
            let _ = p.chunks.set(Rc::new(chunkable));
        }
    }
}

/// The reserved group of `device`'s host device: the last it allows.
fn reserved_group(device: crate::ids::DeviceId) -> Option<u32> {
    let v = get(device)?;
    *v.host.reserved_group.get_or_init(|| v.host.device.limits().max_bind_groups().checked_sub(1))
}

impl Chunkable {
    /// The pipeline that chunks of `pipeline` (the application's, made from `self`) run on,
    /// made and checked the first time (`None`: its dispatches are not cut).
    fn twin(&self, device: crate::ids::DeviceId, host: &imp::GpuDevice, pipeline: &Rc<imp::GpuComputePipeline>) -> Option<Rc<TwinPipeline>> {
        self.twin.get_or_init(|| self.make_twin(device, host, pipeline).map(Rc::new)).clone()
    }

    fn make_twin(&self, device: crate::ids::DeviceId, host: &imp::GpuDevice, pipeline: &Rc<imp::GpuComputePipeline>) -> Option<TwinPipeline> {
        let group = reserved_group(device)?;
        let twin = self.module.twin(host, group)?;
        let entry = match &self.entry_point {
            Some(name) => twin.entries.iter().find(|e| e.name == *name)?,
            None => match twin.entries.as_slice() {
                [only] => only,
                _ => return None,
            },
        };
        let Some(module) = twin.module.as_ref().filter(|_| entry.reads_place) else {
            // Its chunks see the ids of the chunk alone, as the pipeline itself does.
            return Some(TwinPipeline { pipeline: pipeline.clone(), place: None, own_layout: false });
        };
        // An explicit layout, extended with empty slots and a place layout of the virt's own.
        let place = self.explicit.as_ref().map(|groups| {
            let buffer = imp::GpuBufferBindingLayout { type_: Some(imp::GpuBufferBindingType::Uniform), has_dynamic_offset: None, min_binding_size: Some(PLACE_SIZE) };
            let entry = imp::GpuBindGroupLayoutEntry {
                binding: PLACE_BINDING,
                visibility: imp::GpuShaderStage::COMPUTE,
                buffer: Some(buffer),
                sampler: None,
                texture: None,
                storage_texture: None,
            };
            let place = Rc::new(host.create_bind_group_layout(&imp::GpuBindGroupLayoutDescriptor { entries: vec![entry], label: None }));
            (groups, place)
        });
        if place.as_ref().is_some_and(|(groups, _)| groups.len() > group as usize) {
            return None;
        }
        let extended = place.as_ref().map(|(groups, place)| {
            let mut all: Vec<Option<&imp::GpuBindGroupLayout>> = groups.iter().map(|g| g.as_deref()).collect();
            all.resize(group as usize, None);
            all.push(Some(place));
            host.create_pipeline_layout(&imp::GpuPipelineLayoutDescriptor { bind_group_layouts: all, immediate_size: None, label: None })
        });
        let constants = imp::RecordGpuPipelineConstantValue::new();
        for (key, value) in &self.constants {
            constants.add(key, *value);
        }
        let stage = imp::GpuProgrammableStage { module, entry_point: Some(entry.name.clone()), constants: Some(constants) };
        let layout = extended.as_ref().map_or(imp::GpuLayoutMode::Auto, imp::GpuLayoutMode::Specific);
        let descriptor = imp::GpuComputePipelineDescriptor { compute: stage, layout, label: self.label.clone() };
        let (made, error) = caught(host, || {
            let pipeline = host.create_compute_pipeline(descriptor);
            let layout = place.map_or_else(|| Rc::new(pipeline.get_bind_group_layout(group)), |(_, place)| place);
            (pipeline, layout)
        });
        let (pipeline, layout) = made;
        error.is_none().then(|| TwinPipeline { pipeline: Rc::new(pipeline), place: Some((group, layout)), own_layout: extended.is_none() })
    }
}

/// Whether the runtime accepts what `encode` records into a command encoder of the virt's own,
/// finished inside error scopes of the virt's own and let go: the application sees nothing of
/// it (an indirect dispatch or a draw checked before it is cut).
pub(super) fn accepted(host: &imp::GpuDevice, encode: impl FnOnce(&imp::GpuCommandEncoder)) -> bool {
    let (_, error) = caught(host, || {
        let encoder = host.create_command_encoder(None);
        encode(&encoder);
        encoder.finish(None)
    });
    error.is_none()
}

/// A bind group of `layout` holding a chunk's place: where it starts and the whole dispatch's
/// size.
fn make_place(device: &imp::GpuDevice, layout: &imp::GpuBindGroupLayout, start: [u32; 3], whole: [u32; 3]) -> imp::GpuBindGroup {
    let usage = imp::GpuBufferUsage::UNIFORM;
    let buffer = device.create_buffer(&imp::GpuBufferDescriptor { size: PLACE_SIZE, usage, mapped_at_creation: Some(true), label: None });
    let values = [start[0], start[1], start[2], 0, whole[0], whole[1], whole[2], 0];
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let _ = buffer.get_mapped_range_set_with_copy(&bytes, None, None);
    let _ = buffer.unmap();
    let entry = imp::GpuBindGroupEntry { binding: PLACE_BINDING, resource: imp::GpuBindingResource::GpuBuffer(&buffer) };
    device.create_bind_group(&imp::GpuBindGroupDescriptor { layout, entries: vec![entry], label: None })
}

// ---- Bind groups ----

/// The pipeline and index of a bind group layout that a pipeline of automatic layout gave
/// (`get-bind-group-layout`), on a device whose dispatches are cut. WebGPU lets a bind group of
/// such a layout be used with that pipeline only, at that index; its twin would fit the twin
/// of any pipeline with the same bindings, so a chunk checks that the application's own
/// dispatch was allowed to use it.
#[derive(Default)]
pub struct Derived(RefCell<Option<(Weak<imp::GpuComputePipeline>, u32)>>);

impl Derived {
    fn is(&self, pipeline: &Rc<imp::GpuComputePipeline>, index: u32) -> bool {
        self.0.borrow().as_ref().is_some_and(|(of, at)| *at == index && std::ptr::eq(of.as_ptr(), Rc::as_ptr(pipeline)))
    }
}

/// `gpu-compute-pipeline.get-bind-group-layout`, forwarded; the layout knows where it came from.
pub fn get_bind_group_layout(pipeline: &GpuComputePipeline, index: u32) -> exp::GpuBindGroupLayout {
    let layout = pipeline.forward_get_bind_group_layout(index);
    if on(pipeline.device) {
        *layout.get::<crate::GpuBindGroupLayout>().derived.0.borrow_mut() = Some((Rc::downgrade(&pipeline.inner), index));
    }
    layout
}

/// What a bind group of a device whose dispatches are cut remembers: its entries, from which
/// its twin for a pipeline's twin of automatic layout is made, the pipeline and index whose
/// layout it was made with, if an automatic one, and its twin once made (a bind group of an
/// automatic layout fits one pipeline only, so one twin).
pub struct Remembered {
    entries: Vec<(u32, Resource)>,
    derived: Derived,
    twin: RefCell<Option<(Weak<TwinPipeline>, Rc<imp::GpuBindGroup>)>>,
}

/// A resource of a bind group entry.
enum Resource {
    Buffer(Rc<imp::GpuBuffer>),
    BufferBinding(Rc<imp::GpuBuffer>, Option<u64>, Option<u64>),
    Sampler(Rc<imp::GpuSampler>),
    Texture(Rc<imp::GpuTexture>),
    TextureView(Rc<imp::GpuTextureView>),
}

/// `gpu-device.create-bind-group`, forwarded; the bind group remembers its entries on a device
/// whose dispatches are cut.
pub fn create_bind_group(device: &GpuDevice, descriptor: exp::GpuBindGroupDescriptor<'_>) -> exp::GpuBindGroup {
    let remembered = on(device.device).then(|| {
        let entries = descriptor.entries.iter().map(|e| {
            let resource = match &e.resource {
                exp::GpuBindingResource::GpuBuffer(b) => Resource::Buffer(b.get::<crate::GpuBuffer>().inner.clone()),
                exp::GpuBindingResource::GpuBufferBinding(b) => {
                    Resource::BufferBinding(b.buffer.get::<crate::GpuBuffer>().inner.clone(), b.offset, b.size)
                }
                exp::GpuBindingResource::GpuSampler(s) => Resource::Sampler(s.get::<crate::GpuSampler>().inner.clone()),
                exp::GpuBindingResource::GpuTexture(t) => Resource::Texture(t.get::<crate::GpuTexture>().inner.clone()),
                exp::GpuBindingResource::GpuTextureView(v) => Resource::TextureView(v.get::<crate::GpuTextureView>().inner.clone()),
            };
            (e.binding, resource)
        });
        let derived = descriptor.layout.get::<crate::GpuBindGroupLayout>().derived.0.borrow().clone();
        Rc::new(Remembered { entries: entries.collect(), derived: Derived(RefCell::new(derived)), twin: RefCell::new(None) })
    });
    let group = device.forward_create_bind_group(descriptor);
    if let Some(remembered) = remembered {
        let _ = group.get::<GpuBindGroup>().chunks.set(remembered);
    }
    group
}

impl Remembered {
    /// The bind group's twin at `index` of `twin`'s layout, made the first time (`None`: the
    /// runtime refused it, and the dispatch is not cut).
    fn twin(&self, host: &imp::GpuDevice, twin: &Rc<TwinPipeline>, index: u32) -> Option<Rc<imp::GpuBindGroup>> {
        if let Some((of, group)) = self.twin.borrow().as_ref()
            && of.upgrade().is_some_and(|of| Rc::ptr_eq(&of, twin))
        {
            return Some(group.clone());
        }
        let entries = self.entries.iter().map(|(binding, resource)| {
            let resource = match resource {
                Resource::Buffer(b) => imp::GpuBindingResource::GpuBuffer(b),
                Resource::BufferBinding(b, offset, size) => {
                    imp::GpuBindingResource::GpuBufferBinding(imp::GpuBufferBinding { buffer: b, offset: *offset, size: *size })
                }
                Resource::Sampler(s) => imp::GpuBindingResource::GpuSampler(s),
                Resource::Texture(t) => imp::GpuBindingResource::GpuTexture(t),
                Resource::TextureView(v) => imp::GpuBindingResource::GpuTextureView(v),
            };
            imp::GpuBindGroupEntry { binding: *binding, resource }
        });
        let (group, error) = caught(host, || {
            let layout = twin.pipeline.get_bind_group_layout(index);
            host.create_bind_group(&imp::GpuBindGroupDescriptor { layout: &layout, entries: entries.collect(), label: None })
        });
        let group = Rc::new(error.is_none().then_some(group)?);
        *self.twin.borrow_mut() = Some((Rc::downgrade(twin), group.clone()));
        Some(group)
    }
}

// ---- Indirect buffers ----

/// What an indirect buffer of a device whose dispatches are cut keeps: the usage the
/// application gave it, when the virt added `COPY_SRC` to read an indirect dispatch's
/// arguments back ([`Job::read`]), and a stand-in with the application's usage, made when the
/// application copies from it without `COPY_SRC` (the runtime then refuses the copy in its own
/// words).
#[derive(Default)]
pub struct Arguments {
    usage: Option<imp::GpuBufferUsage>,
    stand_in: OnceCell<Rc<imp::GpuBuffer>>,
    /// Whether the application destroyed the buffer (its stand-in is destroyed with it: a copy
    /// from a destroyed buffer is refused at submission, not before).
    destroyed: Cell<bool>,
}

impl Arguments {
    /// The application destroys the buffer: its stand-in, if it has one, to destroy with it.
    pub fn destroy(&self) -> Option<Rc<imp::GpuBuffer>> {
        self.destroyed.set(true);
        self.stand_in.get().cloned()
    }
}

/// The descriptor of a buffer about to be made on `device`, with `COPY_SRC` added to an
/// indirect buffer's valid usage where dispatches are cut, and what the buffer keeps of it.
pub fn arguments(device: &GpuDevice, mut descriptor: exp::GpuBufferDescriptor) -> (exp::GpuBufferDescriptor, Arguments) {
    use imp::GpuBufferUsage as U;
    let usage = descriptor.usage;
    let readable = usage.contains(U::INDIRECT) && !usage.intersects(U::COPY_SRC | U::MAP_READ | U::MAP_WRITE);
    if !(readable && on(device.device)) {
        return (descriptor, Arguments::default());
    }
    descriptor.usage |= U::COPY_SRC;
    (descriptor, Arguments { usage: Some(usage), ..Arguments::default() })
}

/// `gpu-buffer.usage`: the application's.
pub fn usage(buffer: &crate::GpuBuffer) -> exp::GpuBufferUsage {
    buffer.arguments.usage.unwrap_or_else(|| buffer.inner.usage())
}

/// The buffer a copy of the application's reads from: `buffer`, or its stand-in if the
/// application did not give it `COPY_SRC`.
fn copy_source(buffer: &crate::GpuBuffer) -> &imp::GpuBuffer {
    let Some(usage) = buffer.arguments.usage else { return &buffer.inner };
    let Some(v) = get(buffer.device) else { return &buffer.inner };
    buffer.arguments.stand_in.get_or_init(|| {
        let descriptor = imp::GpuBufferDescriptor { size: buffer.inner.size(), usage, mapped_at_creation: None, label: Some(buffer.inner.label()) };
        let stand_in = caught(&v.host.device, || v.host.device.create_buffer(&descriptor)).0;
        if buffer.arguments.destroyed.get() {
            stand_in.destroy();
        }
        Rc::new(stand_in)
    })
}

/// `gpu-command-encoder.copy-buffer-to-buffer`, from the application's source.
pub fn copy_buffer_to_buffer(
    encoder: &GpuCommandEncoder,
    source: exp::GpuBufferBorrow<'_>,
    source_offset: Option<u64>,
    destination: exp::GpuBufferBorrow<'_>,
    destination_offset: Option<u64>,
    size: Option<u64>,
) {
    let (source, destination) = (source.get::<crate::GpuBuffer>(), &destination.get::<crate::GpuBuffer>().inner);
    // A copy within one buffer is refused whatever its usage: the runtime gets the buffer
    // itself and refuses it in its own words (a stand-in would be another buffer, and one
    // destroyed is refused only at submission).
    let source = match Rc::ptr_eq(&source.inner, destination) {
        true => &source.inner,
        false => copy_source(source),
    };
    encoder.inner.borrow().copy_buffer_to_buffer(source, source_offset, destination, destination_offset, size);
}

/// `gpu-command-encoder.copy-buffer-to-texture`, from the application's source.
pub fn copy_buffer_to_texture(
    encoder: &GpuCommandEncoder,
    source: exp::GpuTexelCopyBufferInfo<'_>,
    destination: exp::GpuTexelCopyTextureInfo<'_>,
    copy_size: exp::GpuExtent3D,
) {
    let buffer = copy_source(source.buffer.get::<crate::GpuBuffer>());
    let source = imp::GpuTexelCopyBufferInfo { buffer, offset: source.offset, bytes_per_row: source.bytes_per_row, rows_per_image: source.rows_per_image };
    let texture = &destination.texture.get::<crate::GpuTexture>().inner;
    let destination = imp::GpuTexelCopyTextureInfo { texture, mip_level: destination.mip_level, origin: destination.origin, aspect: destination.aspect };
    encoder.inner.borrow().copy_buffer_to_texture(&source, &destination, copy_size);
}

// ---- Encoding ----

/// What a command encoder (and the command buffer it finishes) holds besides its runtime
/// encoder: the parts cut before it.
#[derive(Default, Clone)]
pub struct Parts(Rc<RefCell<Cut>>);

#[derive(Default)]
struct Cut {
    parts: Vec<Part>,
    /// Debug groups open on the encoder (a part cannot be finished inside one).
    debug_groups: u32,
    /// Passes begun on the encoder and not ended.
    passes_open: u32,
    /// A pass began while another was open: the encoder is invalid, and a part finished from
    /// it would leave that other pass on an encoder that has finished.
    locked: bool,
    finished: bool,
    /// An error the runtime reported when a part was finished, and that part: the encoder was
    /// invalid already. Its `finish` reports the error, and a `submit` of its command buffer
    /// submits that part in its place, for the runtime to refuse in its own words.
    invalid: Option<Invalid>,
    /// What the dispatches in the runtime's encoder since the last cut may cost, in
    /// nanoseconds ([`cost`]): a dispatch that would take it past a slice is set apart.
    load: u64,
    /// Whether the runtime's encoder holds work of the application's since the last cut,
    /// outside the compute pass open on it (which knows its own: `PassState::busy`).
    recorded: bool,
    /// The dispatches and draws of pipelines not measured yet in the runtime's encoder since
    /// the last cut.
    uncut: Uncut,
}

struct Invalid {
    kind: exp::GpuErrorKind,
    message: String,
    part: Rc<imp::GpuCommandBuffer>,
}

/// A part of a command buffer.
pub enum Part {
    /// The application's commands, with the dispatches and draws in it of pipelines not
    /// measured yet.
    Commands(Rc<imp::GpuCommandBuffer>, Uncut),
    /// A dispatch or a draw cut out of it (`super::draws`).
    Chunks(Rc<dyn Chunks>),
}

impl Parts {
    /// Whether work can be cut out of the encoder's one open pass now: no debug group is open
    /// on it, no other pass was begun while one was open, and it was not finished.
    pub(super) fn open(&self) -> bool {
        let cut = self.0.borrow();
        cut.debug_groups == 0 && cut.passes_open == 1 && !cut.locked && !cut.finished
    }

    /// A pass begins on the encoder.
    pub(super) fn pass_begun(&self) {
        let mut cut = self.0.borrow_mut();
        cut.locked |= cut.passes_open > 0;
        cut.passes_open += 1;
    }

    /// A pass of the encoder ends (once).
    pub(super) fn pass_ended(&self) {
        let mut cut = self.0.borrow_mut();
        cut.passes_open = cut.passes_open.saturating_sub(1);
    }

    /// The application recorded work on the encoder outside a compute pass (every command of
    /// an encoder but a compute pass's begin, `finish` and `set-label`: generated, `build.rs`),
    /// or a pass of it ended with work of the application's in it.
    pub fn record(&self) {
        self.0.borrow_mut().recorded = true;
    }

    /// What the work in the runtime's encoder since the last cut may cost.
    pub(super) fn load(&self) -> u64 {
        self.0.borrow().load
    }

    /// Work that may cost `cost` went into the runtime's encoder: `units` of `measured`'s.
    pub(super) fn add_load(&self, cost: u64, measured: Option<Rc<dyn Measured>>, units: u64) {
        let mut cut = self.0.borrow_mut();
        cut.load = cut.load.saturating_add(cost);
        if let Some(measured) = measured {
            cut.uncut.add(measured, units);
        }
    }

    /// `job` is cut out of the encoder, whose runtime encoder `encoder` holds the work before
    /// it. If that holds work of the application's (`busy`), it becomes a part (`end` ends the
    /// runtime's pass first) and a new runtime encoder goes on; else it goes on, and the job is
    /// the next part. A part the runtime refuses to finish shows the encoder invalid already.
    pub(super) fn cut(&self, host: &imp::GpuDevice, encoder: &RefCell<imp::GpuCommandEncoder>, busy: bool, job: Rc<dyn Chunks>, end: impl FnOnce()) {
        {
            let mut cut = self.0.borrow_mut();
            cut.load = 0;
            cut.recorded = false;
        }
        if !busy {
            self.0.borrow_mut().parts.push(Part::Chunks(job));
            return;
        }
        let label = encoder.borrow().label();
        let (so_far, invalid) = caught(host, || {
            end();
            Rc::new(encoder.borrow().finish(None))
        });
        {
            let mut cut = self.0.borrow_mut();
            if let Some((kind, message)) = invalid
                && cut.invalid.is_none()
            {
                cut.invalid = Some(Invalid { kind, message, part: so_far.clone() });
            }
            let uncut = std::mem::take(&mut cut.uncut);
            cut.parts.push(Part::Commands(so_far, uncut));
            cut.parts.push(Part::Chunks(job));
        }
        *encoder.borrow_mut() = host.create_command_encoder(Some(&imp::GpuCommandEncoderDescriptor { label: Some(label) }));
    }
}

/// What a compute pass remembers, on a device whose dispatches are cut.
#[derive(Default)]
pub struct Pass(RefCell<Option<PassState>>);

struct PassState {
    encoder: Rc<RefCell<imp::GpuCommandEncoder>>,
    parts: Parts,
    label: Option<String>,
    /// No timestamp writes (they cannot be split across passes), no immediates.
    cuttable: bool,
    ended: bool,
    debug_groups: u32,
    /// Whether the runtime's encoder holds work of the application's since the last cut: a
    /// dispatch, what the encoder held before the pass began, or the pass's timestamp writes.
    /// While it holds none, a cut needs no part of its own.
    busy: bool,
    pipeline: Option<(Rc<imp::GpuComputePipeline>, Option<Rc<Chunkable>>)>,
    groups: Vec<Option<Group>>,
}

/// Puts `value` at `index` of `list`, which grows as needed (a pass's bind groups, vertex
/// buffers).
pub(super) fn put<T: Clone>(list: &mut Vec<Option<T>>, index: u32, value: Option<T>) {
    let i = index as usize;
    if list.len() <= i {
        list.resize(i + 1, None);
    }
    list[i] = value;
}

/// A bind group set in a pass, with its dynamic offsets, as the application set it.
#[derive(Clone)]
struct Group {
    bind_group: Option<Rc<imp::GpuBindGroup>>,
    remembered: Option<Rc<Remembered>>,
    offsets: Option<Vec<u32>>,
    start: Option<u64>,
    length: Option<u32>,
}

fn set(pass: &imp::GpuComputePassEncoder, index: u32, g: &Group) {
    let _ = pass.set_bind_group(index, g.bind_group.as_deref(), g.offsets.as_deref(), g.start, g.length);
}

pub fn begin_compute_pass(encoder: &GpuCommandEncoder, descriptor: Option<exp::GpuComputePassDescriptor<'_>>) -> exp::GpuComputePassEncoder {
    let remembered = on(encoder.device).then(|| {
        let label = descriptor.as_ref().and_then(|d| d.label.clone());
        let cuttable = descriptor.as_ref().is_none_or(|d| d.timestamp_writes.is_none());
        (label, cuttable)
    });
    let pass = encoder.forward_begin_compute_pass(descriptor);
    if let Some((label, cuttable)) = remembered {
        encoder.parts.pass_begun();
        let busy = !cuttable || encoder.parts.0.borrow().recorded;
        *pass.get::<GpuComputePassEncoder>().pass.0.borrow_mut() = Some(PassState {
            encoder: encoder.inner.clone(),
            parts: encoder.parts.clone(),
            label,
            cuttable,
            ended: false,
            debug_groups: 0,
            busy,
            pipeline: None,
            groups: Vec::new(),
        });
    }
    pass
}

pub fn set_pipeline(pass: &GpuComputePassEncoder, pipeline: exp::GpuComputePipelineBorrow<'_>) {
    if let Some(state) = pass.pass.0.borrow_mut().as_mut() {
        let p = pipeline.get::<GpuComputePipeline>();
        state.pipeline = Some((p.inner.clone(), p.chunks.get().cloned()));
    }
    pass.forward_set_pipeline(pipeline);
}

pub fn set_bind_group(
    pass: &GpuComputePassEncoder,
    index: u32,
    bind_group: Option<exp::GpuBindGroupBorrow<'_>>,
    offsets: Option<Vec<u32>>,
    start: Option<u64>,
    length: Option<u32>,
) -> Result<(), exp::SetBindGroupError> {
    let group = pass.pass.0.borrow().is_some().then(|| {
        let wrapper = bind_group.as_ref().map(|b| b.get::<GpuBindGroup>());
        Group {
            bind_group: wrapper.map(|g| g.inner.clone()),
            remembered: wrapper.and_then(|g| g.chunks.get().cloned()),
            offsets: offsets.clone(),
            start,
            length,
        }
    });
    let result = pass.forward_set_bind_group(index, bind_group, offsets, start, length);
    if let (Some(group), Ok(())) = (group, &result)
        && let Some(state) = pass.pass.0.borrow_mut().as_mut()
    {
        put(&mut state.groups, index, Some(group));
    }
    result
}

/// Immediates are not remembered: a pass that sets them is never cut.
pub fn set_immediates(pass: &GpuComputePassEncoder, offset: u32, data: Vec<u8>, data_offset: Option<u64>, size: Option<u64>) {
    if let Some(state) = pass.pass.0.borrow_mut().as_mut() {
        state.cuttable = false;
    }
    pass.forward_set_immediates(offset, data, data_offset, size);
}

pub fn end(pass: &GpuComputePassEncoder) {
    if let Some(state) = pass.pass.0.borrow_mut().as_mut()
        && !std::mem::replace(&mut state.ended, true)
    {
        state.parts.pass_ended();
        if state.busy {
            state.parts.record();
        }
    }
    pass.forward_end();
}

/// `dispatch-workgroups`: cut into chunks when larger than one, set apart when the work before
/// it may already take a slice, else forwarded.
pub fn dispatch_workgroups(pass: &GpuComputePassEncoder, x: u32, y: Option<u32>, z: Option<u32>) {
    match cut(pass, Size::Direct([x, y.unwrap_or(1), z.unwrap_or(1)])) {
        Cutting::Done => {}
        Cutting::No(cost) => {
            busy(pass);
            if let Some(state) = pass.pass.0.borrow().as_ref() {
                let measured = state.pipeline.as_ref().and_then(|(_, c)| c.clone()).map(|c| c as Rc<dyn Measured>);
                state.parts.add_load(cost, measured, workgroups([x, y.unwrap_or(1), z.unwrap_or(1)]));
            }
            pass.forward_dispatch_workgroups(x, y, z);
        }
    }
}

/// What [`cut`] (or `super::draws`'s) did with a dispatch or draw.
pub(super) enum Cutting {
    /// Cut into chunks, or set apart: a job of its own.
    Done,
    /// Nothing: it goes into the runtime's pass, and may cost this (nanoseconds).
    No(u64),
}

/// `dispatch-workgroups-indirect`: cut into chunks once its size is read back, else forwarded.
pub fn dispatch_workgroups_indirect(pass: &GpuComputePassEncoder, buffer: exp::GpuBufferBorrow<'_>, offset: u64) {
    let wrapper = buffer.get::<crate::GpuBuffer>();
    let arguments = wrapper.arguments.usage.is_some().then(|| (wrapper.inner.clone(), offset));
    if let Some(arguments) = arguments
        && let Cutting::Done = cut(pass, Size::Indirect(arguments))
    {
        return;
    }
    busy(pass);
    pass.forward_dispatch_workgroups_indirect(buffer, offset);
}

/// The workgroups of a dispatch (or chunk) of `size`.
fn workgroups(size: [u32; 3]) -> u64 {
    size.iter().map(|&n| u64::from(n)).product()
}

/// The size of a dispatch: its workgroups, or where an indirect one reads them.
enum Size {
    Direct([u32; 3]),
    Indirect((Rc<imp::GpuBuffer>, u64)),
}

/// The runtime's encoder of `pass` holds work now.
fn busy(pass: &GpuComputePassEncoder) {
    if let Some(state) = pass.pass.0.borrow_mut().as_mut() {
        state.busy = true;
    }
}

/// Cuts the dispatch of `whole` workgroups out of the pass, if it is larger than a chunk and
/// can be cut, or sets it apart, if the runtime's encoder since the last cut holds work that
/// may cost as much as a slice with it: a job of one chunk, the dispatch as made, that waits
/// for the work before it (else many dispatches of a chunk each, in one submission, would be
/// a runaway's way around the chunks).
fn cut(pass: &GpuComputePassEncoder, size: Size) -> Cutting {
    let mut state = pass.pass.0.borrow_mut();
    let Some(state) = state.as_mut() else { return Cutting::No(0) };
    let Some((pipeline, Some(chunkable))) = state.pipeline.clone() else { return Cutting::No(0) };
    // A device lost or destroyed runs nothing more: cutting its dispatch would gain nothing, and
    // it is made as asked.
    let Some(v) = get(pass.device).filter(|_| !registry::is_gone(pass.device)) else { return Cutting::No(0) };
    // An indirect dispatch is a job whatever its size, read back before its chunks go.
    let (whole, indirect) = match size {
        Size::Direct(whole) => (whole, None),
        Size::Indirect(arguments) => ([0; 3], Some(arguments)),
    };
    let workgroups = workgroups(whole);
    let slice = slice(pass.device);
    let chunk = chunkable.rate.chunk(slice, FIRST);
    let cost = cost(workgroups, chunkable.rate.get(), slice, FIRST);
    let cut_open = state.cuttable && !state.ended && state.debug_groups == 0 && state.parts.open();
    let max = v.host.max_workgroups_per_dimension();
    if !cut_open || (indirect.is_none() && whole.iter().any(|&n| n > max)) {
        return Cutting::No(cost);
    }
    let apart = indirect.is_none() && workgroups <= chunk;
    if apart && !(state.busy && state.parts.load().saturating_add(cost) > slice) {
        return Cutting::No(cost);
    }
    let host = &v.host.device;
    // A job set apart runs as the application made it; one cut runs on the twin.
    let twin = match apart {
        true => None,
        false => match chunkable.twin(pass.device, host, &pipeline) {
            Some(twin) => Some(twin),
            None => return Cutting::No(cost),
        },
    };
    // The bind groups of a twin of its own layout are twins of the application's, made when
    // its first chunk on the twin is ([`Job::twin_groups`]); each must have been made for the
    // application's pipeline at its index, else the dispatch is made as asked, and the runtime
    // refuses it. A group with nothing remembered (a stand-in for one the quota refused) stays.
    let own_groups = state.groups.clone();
    if twin.as_ref().is_some_and(|t| t.own_layout) {
        let made_for = |(index, group): (usize, &Option<Group>)| match group {
            Some(Group { bind_group: Some(_), remembered: Some(remembered), .. }) => remembered.derived.is(&pipeline, index as u32),
            _ => true,
        };
        if !own_groups.iter().enumerate().all(made_for) {
            return Cutting::No(cost);
        }
    }
    let job = Rc::new(Job {
        device: v.host.device.clone(),
        tenant: tenant::of(pass.device),
        pipeline: twin,
        chunkable,
        twin_groups: OnceCell::new(),
        own: (pipeline.clone(), own_groups),
        apart,
        label: state.label.clone(),
        whole: Cell::new(whole),
        indirect: RefCell::new(indirect.clone().map(|(buffer, offset)| Indirect { buffer, offset, max, read_back: None })),
        cursor: Cell::new(Some([0; 3])),
        made: Cell::new(0),
        slice,
    });
    // Checked as WebGPU checks a dispatch: the pass's state, whatever its size (over the most
    // a dimension may have, it is not cut). A direct one is checked by the runtime itself: an
    // empty dispatch goes into the runtime's pass in its place, and if the runtime refuses it,
    // the encoder is invalid as the application's dispatch made it, with the runtime's words for
    // it (reported when the part that holds it is finished, or the encoder). The chunks that run
    // in its place use the twin and the twin bind groups, checked when made. An indirect one
    // also reads a buffer: a pass of the virt's own with the dispatch as made is checked, and let
    // go; if the runtime refuses it, the dispatch is made as asked.
    match &indirect {
        Some((buffer, offset)) => {
            if !accepted(host, |encoder| job.encode(encoder, &pipeline, &job.own.1, |pass| pass.dispatch_workgroups_indirect(buffer, *offset))) {
                return Cutting::No(cost);
            }
        }
        None => pass.inner.borrow().dispatch_workgroups(0, Some(0), Some(0)),
    }
    let tenant = tenant::of(pass.device);
    match apart {
        true => super::gpu_time::set_apart(tenant, Work::Dispatch),
        false => super::gpu_time::cut(tenant, Work::Dispatch),
    }
    // The work so far becomes a part, and a new encoder and pass go on with the same state;
    // unless nothing of the application's is in the runtime's encoder since the last cut
    // (state only): it goes on, and the job is the next part.
    state.parts.cut(host, &state.encoder, state.busy, job, || pass.inner.borrow().end());
    if !state.busy {
        return Cutting::Done;
    }
    let next = state.encoder.borrow().begin_compute_pass(Some(&imp::GpuComputePassDescriptor { timestamp_writes: None, label: state.label.clone() }));
    next.set_pipeline(&pipeline);
    for (index, group) in state.groups.iter().enumerate() {
        if let Some(group) = group {
            set(&next, index as u32, group);
        }
    }
    *pass.inner.borrow_mut() = next;
    state.busy = false;
    Cutting::Done
}

/// Debug groups open on an encoder or a pass: work cannot be cut inside one (a part finished
/// inside it would be invalid).
pub trait DebugGroups {
    /// Adds `by` (1 or -1) to the count of open groups.
    fn count(&self, by: i32);
    fn forward_push(&self, label: String);
    fn forward_pop(&self);
}

impl DebugGroups for GpuCommandEncoder {
    fn count(&self, by: i32) {
        let mut cut = self.parts.0.borrow_mut();
        cut.debug_groups = cut.debug_groups.saturating_add_signed(by);
    }
    fn forward_push(&self, label: String) {
        self.forward_push_debug_group(label);
    }
    fn forward_pop(&self) {
        self.forward_pop_debug_group();
    }
}

impl DebugGroups for GpuComputePassEncoder {
    fn count(&self, by: i32) {
        if let Some(state) = self.pass.0.borrow_mut().as_mut() {
            state.debug_groups = state.debug_groups.saturating_add_signed(by);
        }
    }
    fn forward_push(&self, label: String) {
        self.forward_push_debug_group(label);
    }
    fn forward_pop(&self) {
        self.forward_pop_debug_group();
    }
}

pub fn push_debug_group(this: &impl DebugGroups, label: String) {
    this.count(1);
    this.forward_push(label);
}

pub fn pop_debug_group(this: &impl DebugGroups) {
    this.count(-1);
    this.forward_pop();
}

/// `gpu-command-encoder.finish`: the command buffer takes the parts cut from the encoder. If
/// finishing one showed the encoder invalid, that error is the one reported now, where WebGPU
/// reports it (an encoder reports its first error only). If the runtime refuses to finish the
/// rest of an encoder with parts, the command buffer is known invalid too: a submit of it then
/// runs none of its parts, as in WebGPU.
pub fn finish(encoder: &GpuCommandEncoder, descriptor: Option<exp::GpuCommandBufferDescriptor>) -> exp::GpuCommandBuffer {
    let (invalid, cut_before) = {
        let mut cut = encoder.parts.0.borrow_mut();
        cut.finished = true;
        (cut.invalid.take(), !cut.parts.is_empty())
    };
    let (buffer, invalid) = match get(encoder.device) {
        Some(v) if invalid.is_some() || cut_before => {
            let (buffer, error) = caught(&v.host.device, || encoder.forward_finish(descriptor));
            // A part's error came first, and an encoder reports its first error only.
            let invalid = invalid.or_else(|| {
                error.map(|(kind, message)| Invalid { kind, message, part: buffer.get::<GpuCommandBuffer>().inner.clone() })
            });
            if let Some(invalid) = &invalid {
                super::scopes::report_to(&v.host.device, &v.scopes, None, invalid.kind, invalid.message.clone());
            }
            (buffer, invalid)
        }
        _ => (encoder.forward_finish(descriptor), invalid),
    };
    let (parts, uncut) = {
        let mut cut = encoder.parts.0.borrow_mut();
        (std::mem::take(&mut cut.parts), std::mem::take(&mut cut.uncut))
    };
    let mut cut = buffer.get::<GpuCommandBuffer>().parts.0.borrow_mut();
    cut.parts = parts;
    cut.invalid = invalid;
    cut.uncut = uncut;
    drop(cut);
    buffer
}

/// The parts of `buffer` to submit before its own commands, taken (a command buffer is
/// submitted once), its invalid part if it is known invalid, and the dispatches and draws of
/// pipelines not measured yet in its own commands.
pub fn take_parts(buffer: &GpuCommandBuffer) -> (Vec<Part>, Option<Rc<imp::GpuCommandBuffer>>, Uncut) {
    let mut cut = buffer.parts.0.borrow_mut();
    (std::mem::take(&mut cut.parts), cut.invalid.take().map(|i| i.part), std::mem::take(&mut cut.uncut))
}

// ---- Jobs ----

/// A dispatch cut out of a command buffer, run chunk by chunk, or set apart, run whole.
pub struct Job {
    device: Rc<imp::GpuDevice>,
    /// The tenant whose stats count its chunks.
    tenant: u32,
    /// The twin its chunks run on (`None`: set apart, it runs whole).
    pipeline: Option<Rc<TwinPipeline>>,
    chunkable: Rc<Chunkable>,
    /// The bind groups its chunks on the twin set, made for its first such chunk (`None`
    /// inside: the runtime refused a twin of one).
    twin_groups: OnceCell<Option<Vec<Option<Group>>>>,
    /// The application's pipeline and bind groups, which a chunk holding the whole dispatch
    /// runs on: it costs what the dispatch costs without the virt.
    own: (Rc<imp::GpuComputePipeline>, Vec<Option<Group>>),
    /// Set apart: it waits for the work before it.
    apart: bool,
    label: Option<String>,
    whole: Cell<[u32; 3]>,
    /// An indirect dispatch's arguments, until they are read back.
    indirect: RefCell<Option<Indirect>>,
    /// Where the next chunk starts (`None`: every chunk was made).
    cursor: Cell<Option<[u32; 3]>>,
    /// The workgroups of the chunk made last.
    made: Cell<u64>,
    slice: u64,
}

impl Learns for Job {
    fn timed(&self, time: &Time) {
        self.chunkable.rate.timed(time.clone(), self.made.get());
    }
}

impl Chunks for Job {
    fn is_done(&self) -> bool {
        self.cursor.get().is_none()
    }

    /// The time the rest of the dispatch runs, when it is one chunk of the measured size.
    fn rest(&self) -> Option<u64> {
        let ns = self.chunkable.rate.get()?;
        if self.indirect.borrow().is_some() {
            return None;
        }
        let [x, y, z] = self.whole.get().map(u64::from);
        let left = match self.cursor.get() {
            Some([ox, oy, oz]) => x * y * z - (u64::from(oz) * x * y + u64::from(oy) * x + u64::from(ox)),
            None => 0,
        };
        (left <= (self.slice / ns).max(1)).then(|| left * ns)
    }

    /// A chunk after the first waits for the work before it unless it is the rest and known to
    /// fit: so that the time of the chunk before it is learnt before more of the dispatch goes,
    /// and so that the virt can stop between the chunks of a dispatch longer than a slice. The
    /// first goes as a submission does, timed from its submission, unless the job was set
    /// apart: then the work before it may take a slice, and it waits for that. An indirect
    /// dispatch's arguments are copied as a submission goes, and read once the copy is done.
    fn waits(&self) -> bool {
        if let Some(indirect) = self.indirect.borrow().as_ref() {
            return indirect.read_back.is_some();
        }
        match self.cursor.get() {
            None => false,
            Some(start) if start == [0; 3] => self.apart,
            Some(_) => self.rest().is_none(),
        }
    }

    fn slice(&self) -> u64 {
        self.slice
    }

    /// An indirect dispatch's copy of its arguments takes next to nothing.
    fn estimate(&self) -> Option<u64> {
        if self.indirect.borrow().as_ref().is_some_and(|i| i.read_back.is_none()) {
            return Some(0);
        }
        let ns = self.chunkable.rate.get()?;
        let Some(start) = self.cursor.get() else { return Some(0) };
        let (count, _) = self.span(start, self.size());
        Some(workgroups(count).saturating_mul(ns))
    }

    /// The next chunk, made as it goes: sized by the least time per workgroup measured (a job
    /// set apart is one chunk).
    fn next(&self, encoder: &imp::GpuCommandEncoder) -> bool {
        if self.copy_arguments(encoder) {
            self.made.set(0);
            return true;
        }
        let Some(start) = self.cursor.get() else { return false };
        let (count, next) = self.span(start, self.size());
        self.cursor.set(next);
        self.made.set(workgroups(count));
        super::gpu_time::chunk(self.tenant, Work::Dispatch);
        let twin = self.pipeline.as_ref().filter(|_| next.is_some() || start != [0; 3]);
        match twin.map(|twin| (twin, self.twin_groups(twin))) {
            Some((twin, Some(groups))) => self.commands(encoder, twin, groups, start, count),
            // A twin bind group the runtime refused (a resource destroyed since the cut, say)
            // is known at the first chunk on the twin, before any ran: the dispatch runs whole,
            // as made, and the runtime takes it or refuses it.
            Some((_, None)) => {
                self.cursor.set(None);
                self.made.set(workgroups(self.whole.get()));
                self.whole(encoder);
            }
            None => self.whole(encoder),
        }
        true
    }

    /// An indirect dispatch's arguments, copied: mapped and read. Arguments over the most
    /// workgroups a dimension may have run nothing, as WebGPU's indirect dispatches do; so does
    /// a copy the runtime did not make.
    fn read(&self) -> Option<LocalBoxFuture<'_, ()>> {
        let (read_back, max) = {
            let indirect = self.indirect.borrow();
            let indirect = indirect.as_ref()?;
            (indirect.read_back.clone()?, indirect.max)
        };
        Some(Box::pin(async move {
            let mut whole = [0; 3];
            if read_back.map_async(imp::GpuMapMode::READ, None, None).await.is_ok() {
                if let Ok(bytes) = read_back.get_mapped_range_get_with_copy(None, None) {
                    for (n, word) in whole.iter_mut().zip(bytes.chunks_exact(4)) {
                        *n = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                    }
                }
                let _ = read_back.unmap();
            }
            if whole.iter().any(|&n| n > max) {
                whole = [0; 3];
            }
            self.whole.set(whole);
            self.cursor.set(whole.iter().all(|&n| n > 0).then_some([0; 3]));
            *self.indirect.borrow_mut() = None;
        }))
    }
}

impl Job {
    /// The workgroups of its next chunk, at most (a job set apart is one chunk).
    fn size(&self) -> u64 {
        match self.pipeline {
            Some(_) => self.chunkable.rate.chunk(self.slice, FIRST),
            None => u64::MAX,
        }
    }

    /// Copies an indirect dispatch's arguments to a buffer of the virt's own, in `encoder`,
    /// the first time it is asked (`false`: it was copied before, or the dispatch is direct).
    fn copy_arguments(&self, encoder: &imp::GpuCommandEncoder) -> bool {
        let mut indirect = self.indirect.borrow_mut();
        let Some(indirect) = indirect.as_mut().filter(|i| i.read_back.is_none()) else { return false };
        let usage = imp::GpuBufferUsage::MAP_READ | imp::GpuBufferUsage::COPY_DST;
        let read_back = Rc::new(self.device.create_buffer(&imp::GpuBufferDescriptor { size: ARGUMENTS, usage, mapped_at_creation: None, label: None }));
        encoder.copy_buffer_to_buffer(&indirect.buffer, Some(indirect.offset), &read_back, Some(0), Some(ARGUMENTS));
        indirect.read_back = Some(read_back);
        true
    }

    /// The chunk of at most `size` workgroups that starts at `start`: its size in workgroups
    /// (whole slices of z, whole rows of y within one slice, or part of one row), and where the
    /// next chunk starts (`None`: it is the last).
    fn span(&self, start: [u32; 3], size: u64) -> ([u32; 3], Option<[u32; 3]>) {
        let [x, y, z] = self.whole.get().map(u64::from);
        let [ox, oy, oz] = start.map(u64::from);
        let (count, next) = if ox == 0 && oy == 0 && x * y <= size {
            let k = (size / (x * y)).min(z - oz);
            ([x, y, k], [0, 0, oz + k])
        } else if ox == 0 && x <= size {
            let k = (size / x).min(y - oy);
            ([x, k, 1], [0, oy + k, oz])
        } else {
            let k = size.min(x - ox);
            ([k, 1, 1], [ox + k, oy, oz])
        };
        let next = match next {
            [nx, ny, nz] if nx == x => [0, ny + 1, nz],
            n => n,
        };
        let next = match next {
            [nx, ny, nz] if ny == y => [nx, 0, nz + 1],
            n => n,
        };
        (count.map(|n| n as u32), (next[2] < z).then(|| next.map(|n| n as u32)))
    }

    /// The bind groups its chunks on `twin` set: the application's, or their twins for a twin
    /// of its own layout, made the first time (`None`: the runtime refused one).
    fn twin_groups(&self, twin: &Rc<TwinPipeline>) -> Option<&[Option<Group>]> {
        let made = self.twin_groups.get_or_init(|| {
            let mut groups = self.own.1.clone();
            if twin.own_layout {
                for (index, group) in groups.iter_mut().enumerate() {
                    if let Some(Group { bind_group: bind_group @ Some(_), remembered: Some(remembered), .. }) = group {
                        *bind_group = Some(remembered.twin(&self.device, twin, index as u32)?);
                    }
                }
            }
            Some(groups)
        });
        made.as_deref()
    }

    /// The chunk of `count` workgroups at `start`, on the twin with `groups`.
    fn commands(&self, encoder: &imp::GpuCommandEncoder, twin: &TwinPipeline, groups: &[Option<Group>], start: [u32; 3], count: [u32; 3]) {
        self.encode(encoder, &twin.pipeline, groups, |pass| {
            if let Some((index, layout)) = &twin.place {
                let place = make_place(&self.device, layout, start, self.whole.get());
                let _ = pass.set_bind_group(*index, Some(&place), None, None, None);
            }
            let [cx, cy, cz] = count;
            pass.dispatch_workgroups(cx, Some(cy), Some(cz));
        })
    }

    /// The whole dispatch as the application made it: its pipeline and bind groups, no place.
    fn whole(&self, encoder: &imp::GpuCommandEncoder) {
        let (pipeline, groups) = &self.own;
        let [x, y, z] = self.whole.get();
        self.encode(encoder, pipeline, groups, |pass| pass.dispatch_workgroups(x, Some(y), Some(z)));
    }

    /// A pass in `encoder` that sets `pipeline` and `groups`, then does what `dispatch` does.
    fn encode(&self, encoder: &imp::GpuCommandEncoder, pipeline: &imp::GpuComputePipeline, groups: &[Option<Group>], dispatch: impl FnOnce(&imp::GpuComputePassEncoder)) {
        let pass = encoder.begin_compute_pass(Some(&imp::GpuComputePassDescriptor { timestamp_writes: None, label: self.label.clone() }));
        pass.set_pipeline(pipeline);
        for (index, group) in groups.iter().enumerate() {
            if let Some(group) = group {
                set(&pass, index as u32, group);
            }
        }
        dispatch(&pass);
        pass.end();
    }
}

/// The bytes of an indirect dispatch's arguments.
const ARGUMENTS: u64 = 12;

/// Where an indirect dispatch's arguments are, the most workgroups a dimension may have, and
/// the buffer they are copied to, once that copy is made.
struct Indirect {
    buffer: Rc<imp::GpuBuffer>,
    offset: u64,
    max: u32,
    read_back: Option<Rc<imp::GpuBuffer>>,
}
