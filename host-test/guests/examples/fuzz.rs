//! The call-sequence fuzzer: seeded random sequences of `wasi:webgpu` calls, biased towards
//! misuse (destroyed and dropped objects, bad ranges and usages, invalid descriptors, passes used
//! after `end`, double `finish`, re-submission, unbalanced error scopes, aborted maps, a destroyed
//! device still in use, a second device, objects of one device used on another).
//!
//! `--seed S --seeds N --steps K [--messages]`: N sequences of K steps, seeds S, S+1, ... Each sequence has
//! an adapter and devices of its own, and ends by destroying them, awaiting their `lost` and
//! reading every uncaptured-error stream to its end. Each step prints one line: what it did and
//! what came of it, as kinds only (error kinds, result kinds, map states, a fingerprint of bytes
//! read back), never a message or a host value, so that runs on different stacks compare byte
//! for byte.
use guests::gpu::*;
use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let first = guests::arg_u64("--seed", 1);
        let seeds = guests::arg_u64("--seeds", 1);
        let steps = guests::arg_u64("--steps", 300);
        for seed in first..first + seeds {
            println!("seed {seed}");
            Sequence::new(seed).await.run(steps).await;
        }
        Ok(())
    }
}

guests::export_command!(Command);

/// The step's choices: xorshift64* (small, seeded, the same everywhere), and the devices of the
/// objects the step picked, which its line names.
struct Rng {
    state: u64,
    picked: Vec<usize>,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Rng { state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, picked: Vec::new() }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
}

/// Objects of one kind, each with the index of the device that made it. Full pools replace a
/// random entry, which drops it.
struct Pool<T>(Vec<(usize, T)>);

const POOL: usize = 12;

/// The workgroups of a large dispatch.
const LARGE: u32 = 200;

impl<T> Pool<T> {
    fn put(&mut self, rng: &mut Rng, device: usize, value: T) {
        if self.0.len() < POOL {
            self.0.push((device, value));
        } else {
            let i = rng.below(POOL);
            self.0[i] = (device, value);
        }
    }

    /// An object of `device` mostly; one in eight times, or when it has none, any device's.
    fn pick(&self, rng: &mut Rng, device: usize) -> Option<&T> {
        let own: Vec<usize> = (0..self.0.len()).filter(|i| self.0[*i].0 == device).collect();
        let i = if own.is_empty() || rng.one_in(8) {
            if self.0.is_empty() {
                return None;
            }
            rng.below(self.0.len())
        } else {
            rng.pick(&own)
        };
        rng.picked.push(self.0[i].0);
        Some(&self.0[i].1)
    }

    /// The first object of `device`, if any (no draw of the generator).
    fn first(&self, device: usize) -> Option<&T> {
        self.0.iter().find(|(of, _)| *of == device).map(|(_, value)| value)
    }

    fn drop_one(&mut self, rng: &mut Rng) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let i = rng.below(self.0.len());
        self.0.swap_remove(i);
        true
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool(Vec::new())
    }
}

struct Buffer {
    handle: GpuBuffer,
    size: u64,
}

const SHADERS: [&str; 4] = [
    "@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3<u32>) { if (id.x < arrayLength(&o)) { o[id.x] += id.x + 1u; } }",
    "@compute @workgroup_size(1) fn main( {",
    "var<workgroup> big: array<u32, 1000000>; @compute @workgroup_size(1) fn main() { big[0] = 1u; }",
    "@compute @workgroup_size(1) fn main() {}",
];

/// One seeded sequence: its devices and what it made on them.
struct Sequence {
    rng: Rng,
    adapter: Option<GpuAdapter>,
    devices: Vec<Rc<GpuDevice>>,
    buffers: Pool<Buffer>,
    textures: Pool<GpuTexture>,
    encoders: Pool<GpuCommandEncoder>,
    passes: Pool<GpuComputePassEncoder>,
    commands: Pool<GpuCommandBuffer>,
    pipelines: Pool<GpuComputePipeline>,
    groups: Pool<GpuBindGroup>,
    queries: Pool<GpuQuerySet>,
    streams: Vec<(usize, wit_bindgen::StreamReader<GpuError>)>,
    /// Error scopes the sequence itself pushed, per device (it pops more than that too).
    pushed: Vec<u32>,
    /// Whether to print the messages of the errors the steps' scopes catch (`--messages`: to
    /// find out what a difference is about; the messages are each stack's own words).
    messages: bool,
}

impl Sequence {
    async fn new(seed: u64) -> Self {
        let mut s = Sequence {
            rng: Rng::new(seed),
            adapter: get_gpu().request_adapter(None).await,
            devices: Vec::new(),
            buffers: Pool::default(),
            textures: Pool::default(),
            encoders: Pool::default(),
            passes: Pool::default(),
            commands: Pool::default(),
            pipelines: Pool::default(),
            groups: Pool::default(),
            queries: Pool::default(),
            streams: Vec::new(),
            pushed: Vec::new(),
            messages: std::env::args().any(|a| a == "--messages"),
        };
        println!("device: {}", s.request_device().await);
        s
    }

    async fn request_device(&mut self) -> String {
        let Some(adapter) = &self.adapter else { return "no adapter".into() };
        match adapter.request_device(None).await {
            Ok(device) => {
                self.devices.push(Rc::new(device));
                self.pushed.push(0);
                format!("device {}", self.devices.len() - 1)
            }
            Err(e) => format!("Err({:?})", e.kind),
        }
    }

    async fn run(mut self, steps: u64) {
        if self.devices.is_empty() {
            return;
        }
        for step in 0..steps {
            let d = self.rng.below(self.devices.len());
            let line = self.step(d).await;
            println!("{step} d{d} {line}");
        }
        self.finish().await;
    }

    /// One step on device `d`: most in a validation and an out-of-memory scope of its own, whose
    /// catches are printed; the rest reach the sequence's own scopes or the uncaptured streams.
    async fn step(&mut self, d: usize) -> String {
        let action = self.rng.below(ACTIONS);
        self.rng.picked.clear();
        if action >= SCOPE_ACTIONS || self.rng.one_in(4) {
            return self.act_on(action, d).await;
        }
        let device = Rc::clone(&self.devices[d]);
        device.push_error_scope(GpuErrorFilter::Validation);
        device.push_error_scope(GpuErrorFilter::OutOfMemory);
        let mut line = self.act_on(action, d).await;
        for _ in 0..2 {
            match device.pop_error_scope().await {
                Ok(Some(e)) if self.messages => write!(line, " [{}: {}]", guests::kind_name(&e.kind()), e.message()).unwrap(),
                Ok(Some(e)) => write!(line, " [{}]", guests::kind_name(&e.kind())).unwrap(),
                Ok(None) => {}
                Err(e) => write!(line, " [pop: {:?}]", e.kind).unwrap(),
            }
        }
        line
    }

    /// The action's line, naming the devices of the objects it used.
    async fn act_on(&mut self, action: usize, d: usize) -> String {
        let mut line = self.act(action, d).await;
        if !self.rng.picked.is_empty() {
            line += " (objects of";
            for device in &self.rng.picked {
                write!(line, " d{device}").unwrap();
            }
            line += ")";
        }
        line
    }

    async fn act(&mut self, action: usize, d: usize) -> String {
        let rng = &mut self.rng;
        let device = &self.devices[d];
        match action {
            0..=2 => {
                let size = rng.pick(&[0, 4, 6, 16, 64, 256, 4096, 1 << 40]);
                let usage = GpuBufferUsage::from_bits_truncate(rng.pick(&[
                    0x0009, // map-read | copy-dst
                    0x0006, // map-write | copy-src
                    0x0088, // copy-dst | storage
                    0x008c, // copy-src | copy-dst | storage
                    0x0003, // map-read | map-write
                    0x0048, // copy-dst | uniform
                    0x0000,
                    0x0208, // query-resolve | copy-dst
                    0x0108, // indirect | copy-dst
                    0x0188, // indirect | storage | copy-dst
                ]));
                let mapped = rng.one_in(3);
                let handle = device.create_buffer(&GpuBufferDescriptor { size, usage, mapped_at_creation: Some(mapped), label: None });
                let line = format!("create-buffer {size} {:#x} mapped={mapped}: {:?}, usage {:#x}", usage.bits(), handle.map_state(), handle.usage().bits());
                self.buffers.put(rng, d, Buffer { handle, size });
                line
            }
            3 => match self.buffers.pick(rng, d) {
                Some(b) => {
                    b.handle.destroy();
                    format!("destroy buffer: {:?}", b.handle.map_state())
                }
                None => "destroy buffer: none".into(),
            },
            4 => {
                let which = rng.below(9);
                let dropped = match which {
                    0 => self.buffers.drop_one(rng),
                    1 => self.textures.drop_one(rng),
                    2 => self.encoders.drop_one(rng),
                    3 => self.passes.drop_one(rng),
                    4 => self.commands.drop_one(rng),
                    5 => self.pipelines.drop_one(rng),
                    6 => self.groups.drop_one(rng),
                    7 => self.queries.drop_one(rng),
                    _ => self.streams.pop().is_some(),
                };
                format!("drop {}: {dropped}", ["buffer", "texture", "encoder", "pass", "commands", "pipeline", "group", "query set", "stream"][which])
            }
            5 | 6 => {
                let (offset, len) = (rng.pick(&[0, 3, 4, 12, 256, 4096]), rng.pick(&[0, 4, 7, 8, 64]));
                let Some(b) = self.buffers.pick(rng, d) else { return "write-buffer: none".into() };
                let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(offset as u8)).collect();
                let r = device.queue().write_buffer_with_copy(&b.handle, offset, &data, None, None);
                format!("write-buffer {offset}+{len}: {:?}", r.map_err(|e| e.kind))
            }
            7 | 8 => {
                let mode = GpuMapMode::from_bits_truncate(rng.pick(&[1, 2, 1, 2, 3, 0]));
                let range = rng.pick(&[(None, None), (Some(0), Some(4)), (Some(4), Some(8)), (Some(2), None), (Some(0), Some(1 << 20))]);
                let abort = rng.one_in(3);
                let Some(b) = self.buffers.pick(rng, d) else { return "map-async: none".into() };
                let r = if abort {
                    let mut map = std::pin::pin!(b.handle.map_async(mode, range.0, range.1));
                    let started = poll_once(map.as_mut());
                    let unmapped = b.handle.unmap().map_err(|e| e.kind);
                    let r = match started {
                        Some(r) => r,
                        None => map.await,
                    };
                    format!("{:?}, unmap {unmapped:?}", r.map_err(|e| e.kind))
                } else {
                    format!("{:?}", b.handle.map_async(mode, range.0, range.1).await.map_err(|e| e.kind))
                };
                format!("map-async {:#x} {range:?} abort={abort}: {r}, {:?}", mode.bits(), b.handle.map_state())
            }
            9 => {
                let range = rng.pick(&[(None, None), (Some(0), Some(4)), (Some(4), Some(4)), (Some(2), Some(4)), (Some(0), Some(1 << 20))]);
                let set = rng.one_in(2);
                let Some(b) = self.buffers.pick(rng, d) else { return "mapped range: none".into() };
                if set {
                    let len = range.1.unwrap_or(b.size).min(4096) as usize;
                    let r = b.handle.get_mapped_range_set_with_copy(&vec![0xa5; len], range.0, range.1);
                    format!("set mapped range {range:?}: {:?}", r.map_err(|e| e.kind))
                } else {
                    let r = b.handle.get_mapped_range_get_with_copy(range.0, range.1);
                    format!("get mapped range {range:?}: {:?}", r.map(|bytes| format!("{} bytes fnv={:016x}", bytes.len(), guests::fnv1a(&bytes))).map_err(|e| e.kind))
                }
            }
            10 => match self.buffers.pick(rng, d) {
                Some(b) => format!("unmap: {:?}, {:?}", b.handle.unmap().map_err(|e| e.kind), b.handle.map_state()),
                None => "unmap: none".into(),
            },
            11 => {
                let format = rng.pick(&[GpuTextureFormat::Rgba8unorm, GpuTextureFormat::R32float, GpuTextureFormat::Depth32float, GpuTextureFormat::Bc1RgbaUnorm]);
                let size = rng.pick(&[0, 4, 16, 1 << 16]);
                let usage = GpuTextureUsage::from_bits_truncate(rng.pick(&[0x01 | 0x02, 0x10 | 0x01, 0x08, 0x04 | 0x02, 0]));
                let mips = rng.pick(&[1, 3, 8]);
                let texture = guests::texture(device, guests::extent(size, size, 1), format, usage, mips);
                let line = format!("create-texture {format:?} {size} {:#x} mips={mips}", usage.bits());
                self.textures.put(rng, d, texture);
                line
            }
            12 => {
                let layout = GpuTexelCopyBufferLayout { offset: None, bytes_per_row: rng.pick(&[None, Some(16), Some(3), Some(256)]), rows_per_image: None };
                let (len, size) = (rng.pick(&[0, 16, 64, 1024]), rng.pick(&[1, 4, 5]));
                let Some(t) = self.textures.pick(rng, d) else { return "write-texture: none".into() };
                device.queue().write_texture_with_copy(&guests::at(t, 0, 0, 0, 0), &vec![7; len], layout, guests::extent(size, size, 1));
                format!("write-texture {len} {size}x{size}")
            }
            13 => match self.textures.pick(rng, d) {
                Some(t) => {
                    t.destroy();
                    "destroy texture".into()
                }
                None => "destroy texture: none".into(),
            },
            14 => {
                let encoder = device.create_command_encoder(None);
                self.encoders.put(rng, d, encoder);
                "create-command-encoder".into()
            }
            15 | 16 => {
                let (src, dst, size) = (rng.pick(&[0, 4, 3, 64]), rng.pick(&[0u64, 4, 8]), rng.pick(&[None, Some(4u64), Some(6), Some(64)]));
                let clear = rng.one_in(3);
                let Some(encoder) = self.encoders.pick(rng, d) else { return "copy: no encoder".into() };
                let (Some(a), Some(b)) = (self.buffers.pick(rng, d), self.buffers.pick(rng, d)) else { return "copy: no buffers".into() };
                if clear {
                    encoder.clear_buffer(&a.handle, Some(dst), size);
                    format!("clear-buffer {dst} {size:?}")
                } else {
                    encoder.copy_buffer_to_buffer(&a.handle, Some(src), &b.handle, Some(dst), Some(size.unwrap_or(4)));
                    format!("copy-buffer-to-buffer {src} {dst} {size:?}")
                }
            }
            17 => {
                let Some(encoder) = self.encoders.pick(rng, d) else { return "begin-compute-pass: no encoder".into() };
                let pass = encoder.begin_compute_pass(None);
                self.passes.put(rng, d, pass);
                "begin-compute-pass".into()
            }
            18 | 19 => {
                let what = rng.below(4);
                let Some(pass) = self.passes.pick(rng, d) else { return "pass: none".into() };
                match what {
                    0 => match self.pipelines.pick(rng, d) {
                        Some(p) => {
                            pass.set_pipeline(p);
                            "set-pipeline".into()
                        }
                        None => "set-pipeline: none".into(),
                    },
                    1 => {
                        let group = self.groups.pick(rng, d);
                        let index = rng.pick(&[0, 0, 1, 9]);
                        format!("set-bind-group {index}: {:?}", pass.set_bind_group(index, group, None, None, None).map_err(|e| e.kind))
                    }
                    2 => {
                        let x = rng.pick(&[0, 1, 2, LARGE, 1 << 20]);
                        if x != LARGE {
                            pass.dispatch_workgroups(x, None, None);
                            return format!("dispatch {x}");
                        }
                        // More workgroups than a first chunk (a time limit cuts them: `chunks.rs`),
                        // in a pass and a submission of their own, with the device's first
                        // pipeline and bind group (often made for another pipeline's layout).
                        let (Some(p), Some(g)) = (self.pipelines.first(d), self.groups.first(d)) else { return "large dispatch: none".into() };
                        let encoder = device.create_command_encoder(None);
                        let pass = encoder.begin_compute_pass(None);
                        pass.set_pipeline(p);
                        let set = pass.set_bind_group(0, Some(g), None, None, None).map_err(|e| e.kind);
                        pass.dispatch_workgroups(LARGE, None, None);
                        pass.end();
                        device.queue().submit(&[&encoder.finish(None)]);
                        format!("dispatch {LARGE} in a pass of its own (set-bind-group: {set:?})")
                    }
                    _ => {
                        pass.end();
                        "end".into()
                    }
                }
            }
            20 => {
                let Some(encoder) = self.encoders.pick(rng, d) else { return "finish: no encoder".into() };
                let commands = encoder.finish(None);
                self.commands.put(rng, d, commands);
                "finish".into()
            }
            21 | 22 => {
                let n = rng.pick(&[0, 1, 1, 2]);
                let mut picked = Vec::new();
                for _ in 0..n {
                    if let Some(c) = self.commands.pick(rng, d) {
                        picked.push(c);
                    }
                }
                device.queue().submit(&picked);
                format!("submit {}", picked.len())
            }
            23 => {
                let code = rng.below(SHADERS.len());
                let entry = if rng.one_in(6) { Some("missing".to_string()) } else { None };
                let module = guests::shader(device, SHADERS[code]);
                let descriptor =
                    GpuComputePipelineDescriptor { compute: GpuProgrammableStage { module: &module, entry_point: entry.clone(), constants: None }, layout: GpuLayoutMode::Auto, label: None };
                let line = if rng.one_in(3) {
                    match device.create_compute_pipeline_async(descriptor).await {
                        Ok(p) => {
                            self.pipelines.put(rng, d, p);
                            "Ok".to_string()
                        }
                        Err(e) => format!("Err({:?})", e.kind),
                    }
                } else {
                    let p = device.create_compute_pipeline(descriptor);
                    self.pipelines.put(rng, d, p);
                    "made".to_string()
                };
                format!("create-compute-pipeline shader {code} entry={entry:?}: {line}")
            }
            24 => {
                let binding = rng.pick(&[0, 1]);
                let (Some(p), Some(b)) = (self.pipelines.pick(rng, d), self.buffers.pick(rng, d)) else { return "create-bind-group: none".into() };
                let group = device.create_bind_group(&GpuBindGroupDescriptor {
                    layout: &p.get_bind_group_layout(0),
                    entries: vec![GpuBindGroupEntry { binding, resource: GpuBindingResource::GpuBuffer(&b.handle) }],
                    label: None,
                });
                self.groups.put(rng, d, group);
                format!("create-bind-group binding {binding}")
            }
            25 => {
                let count = rng.pick(&[0, 2, 5000]);
                let destroy = rng.one_in(3);
                match device.create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Occlusion, count, label: None }) {
                    Ok(set) => {
                        if destroy {
                            set.destroy();
                        }
                        self.queries.put(rng, d, set);
                        format!("create-query-set {count} destroyed={destroy}: Ok")
                    }
                    Err(e) => format!("create-query-set {count}: Err({:?})", e.kind),
                }
            }
            26 => {
                let (first, count, offset) = (rng.pick(&[0, 1]), rng.pick(&[1, 2, 3]), rng.pick(&[0, 8, 256]));
                let Some(encoder) = self.encoders.pick(rng, d) else { return "resolve-query-set: no encoder".into() };
                let (Some(q), Some(b)) = (self.queries.pick(rng, d), self.buffers.pick(rng, d)) else { return "resolve-query-set: none".into() };
                encoder.resolve_query_set(q, first, count, &b.handle, offset);
                format!("resolve-query-set {first} {count} {offset}")
            }
            27 => {
                device.queue().on_submitted_work_done().await;
                "on-submitted-work-done".into()
            }
            28 => {
                let stream = device.on_uncaptured_error();
                self.streams.push((d, stream));
                "on-uncaptured-error".into()
            }
            29 if rng.one_in(8) => {
                device.destroy();
                "destroy device".into()
            }
            29 => {
                let line = if self.devices.len() < 3 { self.request_device().await } else { "enough devices".into() };
                format!("request-device: {line}")
            }
            // Scope actions: never inside the step's own scopes.
            30 => {
                let filter = rng.pick(&[GpuErrorFilter::Validation, GpuErrorFilter::OutOfMemory, GpuErrorFilter::Internal]);
                device.push_error_scope(filter);
                self.pushed[d] += 1;
                format!("push-error-scope {filter:?}")
            }
            _ => {
                let r = device.pop_error_scope().await;
                self.pushed[d] = self.pushed[d].saturating_sub(1);
                format!("pop-error-scope: {:?}", r.map(|e| e.map(|e| guests::kind_name(&e.kind()))).map_err(|e| e.kind))
            }
        }
    }

    /// Destroys every device, awaits each `lost`, then reads every uncaptured-error stream to
    /// its end (a lost device's streams end).
    async fn finish(mut self) {
        let lost: Vec<_> = self.devices.iter().map(|d| d.lost()).collect();
        for (i, (device, lost)) in self.devices.iter().zip(lost).enumerate() {
            device.destroy();
            println!("device {i} lost: {:?}", lost.await.reason());
        }
        for (d, mut stream) in self.streams.drain(..) {
            let mut errors = 0;
            while let Some(e) = stream.next().await {
                errors += 1;
                if self.messages {
                    println!("stream of device {d}: {}: {}", guests::kind_name(&e.kind()), e.message());
                }
            }
            println!("stream of device {d}: {errors} errors, then its end");
        }
    }
}

/// How many actions `act` knows; those from `SCOPE_ACTIONS` on push or pop scopes.
const ACTIONS: usize = 32;
const SCOPE_ACTIONS: usize = 30;

/// Polls an async call once, which starts it: its result if it finished at once.
fn poll_once<F: Future>(f: Pin<&mut F>) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.poll(&mut cx) {
        std::task::Poll::Ready(r) => Some(r),
        std::task::Poll::Pending => None,
    }
}
