//! Shared by every test guest: the bindings and a few helpers over `wasi:webgpu`.
//!
//! Each guest prints what it observed, one fact per line, so that its output can be compared
//! byte for byte between runs (direct on the host, and later through the virt component).

wit_bindgen::generate!({
    path: "../../wit",
    world: "webgpu-virt:worlds/gpu-command",
    generate_all,
    pub_export_macro: true,
    export_macro_name: "export_command",
    default_bindings_module: "guests",
});

pub use wasi::webgpu::webgpu as gpu;
use gpu::*;

/// The default adapter's default device.
pub async fn device() -> GpuDevice {
    let adapter = get_gpu().request_adapter(None).await.expect("no GPU adapter");
    adapter.request_device(None).await.expect("request-device failed")
}

/// A buffer of `size` bytes, not mapped, with no label.
pub fn buffer(device: &GpuDevice, size: u64, usage: GpuBufferUsage) -> GpuBuffer {
    device.create_buffer(&GpuBufferDescriptor { size, usage, mapped_at_creation: None, label: None })
}

/// A buffer holding `data`, written through `mapped-at-creation`.
pub fn buffer_with(device: &GpuDevice, usage: GpuBufferUsage, data: &[u8]) -> GpuBuffer {
    let buffer = device.create_buffer(&GpuBufferDescriptor {
        size: data.len().next_multiple_of(4) as u64,
        usage,
        mapped_at_creation: Some(true),
        label: None,
    });
    buffer.get_mapped_range_set_with_copy(data, None, None).expect("writing the mapped range");
    buffer.unmap().expect("unmap");
    buffer
}

/// `size` bytes of `source` from `offset`, read back through a staging buffer.
pub async fn read_buffer(device: &GpuDevice, source: &GpuBuffer, offset: u64, size: u64) -> Vec<u8> {
    let staging = device.create_buffer(&GpuBufferDescriptor {
        size,
        usage: GpuBufferUsage::MAP_READ | GpuBufferUsage::COPY_DST,
        mapped_at_creation: None,
        label: Some("staging".into()),
    });
    let encoder = device.create_command_encoder(None);
    encoder.copy_buffer_to_buffer(source, Some(offset), &staging, Some(0), Some(size));
    device.queue().submit(&[&encoder.finish(None)]);
    staging.map_async(GpuMapMode::READ, None, None).await.expect("map-async for reading");
    let bytes = staging.get_mapped_range_get_with_copy(None, None).expect("reading the mapped range");
    staging.unmap().expect("unmap");
    bytes
}

/// Runs `f` inside an error scope of `filter`; what the scope caught, as `kind: message`.
pub async fn scoped<R>(device: &GpuDevice, filter: GpuErrorFilter, f: impl FnOnce() -> R) -> (R, Option<String>) {
    device.push_error_scope(filter);
    let r = f();
    let error = device.pop_error_scope().await.expect("pop-error-scope");
    (r, error.map(|e| describe(&e)))
}

/// Only the kind of what a validation scope around `f` caught: messages are the host's own
/// words, so guests print kinds to stay comparable across hosts.
pub async fn caught<R>(device: &GpuDevice, f: impl FnOnce() -> R) -> (R, &'static str) {
    let (r, e) = scoped(device, GpuErrorFilter::Validation, f).await;
    (r, if e.is_some() { "validation-error" } else { "no error" })
}

pub fn describe(e: &GpuError) -> String {
    let message = e.message();
    assert!(!message.is_empty(), "a GPU error must say what went wrong");
    kind_name(&e.kind()).to_string()
}

pub fn kind_name(kind: &GpuErrorKind) -> &'static str {
    match kind {
        GpuErrorKind::ValidationError => "validation-error",
        GpuErrorKind::OutOfMemoryError => "out-of-memory-error",
        GpuErrorKind::InternalError => "internal-error",
    }
}

/// FNV-1a: a short, stable fingerprint of bytes for printing.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

pub fn u32s(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect()
}

pub fn bytes_of(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

pub fn shader(device: &GpuDevice, code: &str) -> GpuShaderModule {
    device.create_shader_module(&GpuShaderModuleDescriptor { code: code.into(), compilation_hints: None, label: None })
}

pub fn extent(width: u32, height: u32, depth: u32) -> GpuExtent3D {
    GpuExtent3D { width, height: Some(height), depth_or_array_layers: Some(depth) }
}

pub fn texture(device: &GpuDevice, size: GpuExtent3D, format: GpuTextureFormat, usage: GpuTextureUsage, mips: u32) -> GpuTexture {
    device.create_texture(&GpuTextureDescriptor {
        size,
        mip_level_count: Some(mips),
        sample_count: None,
        dimension: None,
        format,
        usage,
        view_formats: None,
        texture_binding_view_dimension: None,
        label: None,
    })
}

pub fn at(texture: &GpuTexture, mip: u32, x: u32, y: u32, z: u32) -> GpuTexelCopyTextureInfo<'_> {
    GpuTexelCopyTextureInfo {
        texture,
        mip_level: Some(mip),
        origin: Some(GpuOrigin3D { x: Some(x), y: Some(y), z: Some(z) }),
        aspect: None,
    }
}

pub fn color_attachment(view: &GpuTextureView) -> GpuRenderPassColorAttachment<'_> {
    GpuRenderPassColorAttachment {
        view,
        depth_slice: None,
        resolve_target: None,
        clear_value: Some(GpuColor { r: 0.0, g: 0.0, b: 0.0, a: 0.0 }),
        load_op: GpuLoadOp::Clear,
        store_op: GpuStoreOp::Store,
    }
}

pub fn render_pass<'a>(colors: Vec<Option<GpuRenderPassColorAttachment<'a>>>) -> GpuRenderPassDescriptor<'a> {
    GpuRenderPassDescriptor {
        color_attachments: colors,
        depth_stencil_attachment: None,
        occlusion_query_set: None,
        timestamp_writes: None,
        max_draw_count: None,
        label: None,
    }
}

/// A render pipeline over `module`'s `vs` and `fs`, one color target of `format`.
pub fn render_pipeline(device: &GpuDevice, module: &GpuShaderModule, format: GpuTextureFormat, buffers: Option<Vec<Option<GpuVertexBufferLayout>>>) -> GpuRenderPipeline {
    device.create_render_pipeline(GpuRenderPipelineDescriptor {
        vertex: GpuVertexState { buffers, module, entry_point: Some("vs".into()), constants: None },
        primitive: None,
        depth_stencil: None,
        multisample: None,
        fragment: Some(GpuFragmentState {
            targets: vec![Some(GpuColorTargetState { format, blend: None, write_mask: None })],
            module,
            entry_point: Some("fs".into()),
            constants: None,
        }),
        layout: GpuLayoutMode::Auto,
        label: None,
    })
}

/// Reads a whole 2D texture level (4 bytes per texel) back as tightly packed rows.
pub async fn read_texture(device: &GpuDevice, texture: &GpuTexture, mip: u32, layer: u32, width: u32, height: u32) -> Vec<u8> {
    let row = (width * 4).next_multiple_of(256);
    let buffer = device.create_buffer(&GpuBufferDescriptor {
        size: u64::from(row * height),
        usage: GpuBufferUsage::COPY_DST | GpuBufferUsage::COPY_SRC,
        mapped_at_creation: None,
        label: None,
    });
    let encoder = device.create_command_encoder(None);
    encoder.copy_texture_to_buffer(
        &at(texture, mip, 0, 0, layer),
        &GpuTexelCopyBufferInfo { buffer: &buffer, offset: None, bytes_per_row: Some(row), rows_per_image: None },
        extent(width, height, 1),
    );
    device.queue().submit(&[&encoder.finish(None)]);
    let padded = read_buffer(device, &buffer, 0, u64::from(row * height)).await;
    padded.chunks(row as usize).flat_map(|r| r[..(width * 4) as usize].to_vec()).collect()
}

/// Starts an async call without waiting for it: polls its future once. An async import's call
/// begins only when its future is first polled; this lets a guest act while the call is
/// pending (for example, unmap a buffer whose map is in flight).
pub fn start<F: std::future::Future>(f: std::pin::Pin<&mut F>) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(f.poll(&mut cx).is_pending(), "the call finished at once: nothing was pending");
}

/// The number after `flag` in the guest's arguments, or `default`.
pub fn arg_u64(flag: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == flag) {
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{flag} needs a number")),
        None => default,
    }
}

/// The flooding benchmark guests (`bench_flood`, and `bench_flood_heavy` with `scale` 10): for
/// `--ms T` milliseconds (default 3000), dispatches of `--work N` times `scale` loop iterations
/// an invocation (default 4096), in bursts of `--burst B` (default 32) without waiting for them,
/// yielding between bursts and waiting for the queue only every 256 submissions.
pub async fn flood(scale: u32) {
    let ms = arg_u64("--ms", 3000);
    let work = (arg_u64("--work", 4096) as u32).saturating_mul(scale);
    let burst = arg_u64("--burst", 32).clamp(1, 256);
    let name = if scale == 1 { "flood".to_string() } else { "flood-heavy".to_string() };
    let device = device().await;
    let (pipeline, group, out) = counter_pipeline(&device, work);
    let queue = device.queue();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    let (mut submitted, mut bursts, mut busy) = (0u64, 0u32, std::time::Duration::ZERO);
    while std::time::Instant::now() < deadline {
        let start = std::time::Instant::now();
        for _ in 0..burst {
            queue.submit(&[&dispatch(&device, &pipeline, &group, 64)]);
            submitted += 1;
        }
        busy += start.elapsed();
        bursts += 1;
        if submitted / 256 > (submitted - burst) / 256 {
            queue.on_submitted_work_done().await;
        } else {
            wit_bindgen::yield_async().await;
        }
    }
    queue.on_submitted_work_done().await;
    let counted = u32s(&read_buffer(&device, &out, 0, 4).await)[0];
    println!("result: {name} dispatched={}", counted > 0);
    println!("bench {name}: {submitted} submissions");
    println!("bench {name}-burst: {:.0} us", busy.as_secs_f64() * 1e6 / f64::from(bursts.max(1)));
}

/// A tiled matrix multiply in WGSL: `c = EPILOGUE` of `sum`, the dot product of a row of `a` and
/// a column of the `n` x `n` matrix `b` (`a` has `n` columns and any multiple of 16 rows). Each
/// workgroup computes 16 x 16 outputs from tiles kept in workgroup memory. Bindings 0, 1 and 2 of
/// group 0 are `a`, `b` and `c`; `n` is an override constant with no default.
pub fn tiled_matmul(epilogue: &str) -> String {
    format!(
        "override n: u32;
const TILE: u32 = 16u;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {{
    var sum = 0.0;
    for (var t = 0u; t < n / TILE; t++) {{
        ta[l.y][l.x] = a[g.y * n + t * TILE + l.x];
        tb[l.y][l.x] = b[(t * TILE + l.y) * n + g.x];
        workgroupBarrier();
        for (var k = 0u; k < TILE; k++) {{ sum += ta[l.y][k] * tb[k][l.x]; }}
        workgroupBarrier();
    }}
    c[g.y * n + g.x] = {epilogue};
}}
"
    )
}

/// A compute pipeline whose every invocation loops `work` times and adds to `out[0]` (atomically):
/// the pipeline, its bind group, and `out`.
pub fn counter_pipeline(device: &GpuDevice, work: u32) -> (GpuComputePipeline, GpuBindGroup, GpuBuffer) {
    let out = buffer(device, 4, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC);
    let code = format!(
        "@group(0) @binding(0) var<storage, read_write> o: atomic<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {{
    var x = id.x;
    for (var i = 0u; i < {work}u; i++) {{ x = x * 1664525u + 1013904223u; }}
    if (x != 0xffffffffu || id.x == 0u) {{ atomicAdd(&o, 1u); }}
}}"
    );
    let (pipeline, group) = compute_pipeline(device, &code, &out);
    (pipeline, group, out)
}

/// A compute pipeline of `code` (entry point `main`, layout `auto`) and a bind group giving its
/// binding 0 of group 0 `buffer`.
pub fn compute_pipeline(device: &GpuDevice, code: &str, buffer: &GpuBuffer) -> (GpuComputePipeline, GpuBindGroup) {
    let module = shader(device, code);
    let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor {
        compute: GpuProgrammableStage { module: &module, entry_point: None, constants: None },
        layout: GpuLayoutMode::Auto,
        label: None,
    });
    let group = device.create_bind_group(&GpuBindGroupDescriptor {
        layout: &pipeline.get_bind_group_layout(0),
        entries: vec![GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBuffer(buffer) }],
        label: None,
    });
    (pipeline, group)
}

/// Commands that dispatch `pipeline` with `group` over `workgroups` workgroups, once.
pub fn dispatch(device: &GpuDevice, pipeline: &GpuComputePipeline, group: &GpuBindGroup, workgroups: u32) -> GpuCommandBuffer {
    let encoder = device.create_command_encoder(None);
    let pass = encoder.begin_compute_pass(None);
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, Some(group), None, None, None).expect("set-bind-group");
    pass.dispatch_workgroups(workgroups, None, None);
    pass.end();
    encoder.finish(None)
}
