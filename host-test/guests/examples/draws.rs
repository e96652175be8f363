//! Large draws, checked pixel by pixel against the CPU: under a time limit the virt runs them in
//! chunks (`virt-component/src/device/draws.rs`), each in a render pass of its own that loads
//! what the pass before it stored, and every pixel must still be what the whole draw makes.
//!
//! Each draw covers 64 overlapping squares of a 64x64 target, square `q` writing `q + 1`, in
//! the order of `q`: a pixel holds the last square over it, or with a depth test the first.
//! The draws: instances of a square, under a viewport and scissor; squares as the vertices of
//! one instance; indexed, with vertex and instance buffers, a base vertex and first index and
//! instance; indices of many squares; instances of a strip; with depth and a stencil reference,
//! where a square drawn before marked the stencil; into a multisampled target resolved at the
//! end of the pass. Then draws the virt does not cut: past the end of the index buffer (the
//! runtime refuses them), in a pass that discards its target, with no pipeline after a bundle,
//! inside a debug group. It prints what each gave.
use guests::gpu::*;

const SIZE: u32 = 64;
const SQUARES: u32 = 64;

const SHADER: &str = "
struct Out { @builtin(position) pos: vec4<f32>, @location(0) @interpolate(flat) q: u32 };

// Corner c of square q, in strip order: (0, 0), (1, 0), (0, 1), (1, 1).
fn corner(q: u32, c: u32) -> Out {
    let x = f32((q % 8u) * 7u + (c & 1u) * 12u);
    let y = f32((q / 8u % 8u) * 7u + (c >> 1u) * 12u);
    return Out(vec4<f32>(x / 32.0 - 1.0, 1.0 - y / 32.0, f32(q) / 128.0 + 0.25, 1.0), q);
}

@vertex fn vs_list(@builtin(vertex_index) v: u32, @builtin(instance_index) i: u32) -> Out {
    var list = array<u32, 6>(0u, 1u, 2u, 2u, 1u, 3u);
    return corner(v / 6u + i, list[v % 6u]);
}

@vertex fn vs_strip(@builtin(vertex_index) v: u32, @builtin(instance_index) i: u32) -> Out {
    return corner(i, v % 4u);
}

// Indexed draws use a base vertex of 2.
@vertex fn vs_indexed(@builtin(vertex_index) v: u32, @location(0) square: u32) -> Out {
    let w = v - 2u;
    return corner(w / 4u + square, w % 4u);
}

@fragment fn fs(v: Out) -> @location(0) vec4<u32> {
    return vec4<u32>(v.q + 1u, 7u, 0u, 255u);
}

@fragment fn fs_unorm(v: Out) -> @location(0) vec4<f32> {
    return vec4<f32>(f32(v.q + 1u) / 255.0, 0.0, 0.0, 1.0);
}
";

/// The pixels square `q` covers: x, y, then the end of each.
fn square(q: u32) -> [u32; 4] {
    let (x, y) = ((q % 8) * 7, (q / 8 % 8) * 7);
    [x, y, x + 12, y + 12]
}

/// What the red channel of each pixel holds after every square is drawn, inside `clip`: the
/// last over it, or the first (`first_wins`, a depth test).
fn expected(clip: [u32; 4], first_wins: bool) -> Vec<u32> {
    let mut pixels = vec![0; (SIZE * SIZE) as usize];
    let order: Vec<u32> = if first_wins { (0..SQUARES).rev().collect() } else { (0..SQUARES).collect() };
    for q in order {
        let [x0, y0, x1, y1] = square(q);
        for y in y0.max(clip[1])..y1.min(clip[3]) {
            for x in x0.max(clip[0])..x1.min(clip[2]) {
                pixels[(y * SIZE + x) as usize] = q + 1;
            }
        }
    }
    pixels
}

/// The pixels whose red channel (of 4-byte texels) is not what `want` says.
fn wrong(texels: &[u8], want: &[u32]) -> usize {
    texels.chunks(4).zip(want).filter(|(t, w)| u32::from(t[0]) != **w).count()
}

const WHOLE: [u32; 4] = [0, 0, SIZE, SIZE];

struct Scene {
    device: GpuDevice,
    module: GpuShaderModule,
}

/// How a pipeline of the scene draws.
struct Kind<'a> {
    entry: &'a str,
    topology: GpuPrimitiveTopology,
    buffers: Option<Vec<Option<GpuVertexBufferLayout>>>,
    depth_stencil: Option<GpuDepthStencilState>,
    samples: u32,
    write: Option<GpuColorWrite>,
}

impl Kind<'_> {
    fn list() -> Self {
        Kind { entry: "vs_list", topology: GpuPrimitiveTopology::TriangleList, buffers: None, depth_stencil: None, samples: 1, write: None }
    }
}

/// Depth tested with `depth` (and written, if `write`), stencil compared with `compare` and
/// `pass_op` on a pass, both faces.
fn depth_stencil(depth: GpuCompareFunction, write: bool, compare: GpuCompareFunction, pass_op: GpuStencilOperation) -> GpuDepthStencilState {
    let face = || GpuStencilFaceState { compare: Some(compare), fail_op: None, depth_fail_op: None, pass_op: Some(pass_op) };
    GpuDepthStencilState {
        format: GpuTextureFormat::Depth24plusStencil8,
        depth_write_enabled: Some(write),
        depth_compare: Some(depth),
        stencil_front: Some(face()),
        stencil_back: Some(face()),
        stencil_read_mask: None,
        stencil_write_mask: None,
        depth_bias: None,
        depth_bias_slope_scale: None,
        depth_bias_clamp: None,
    }
}

impl Scene {
    /// A pipeline of its own for each draw: each starts unmeasured, so that its draw is cut.
    fn pipeline(&self, kind: Kind<'_>) -> GpuRenderPipeline {
        let (format, fs) = match kind.samples {
            1 => (GpuTextureFormat::Rgba8uint, "fs"),
            _ => (GpuTextureFormat::Rgba8unorm, "fs_unorm"),
        };
        self.device.create_render_pipeline(GpuRenderPipelineDescriptor {
            vertex: GpuVertexState { buffers: kind.buffers, module: &self.module, entry_point: Some(kind.entry.into()), constants: None },
            primitive: Some(GpuPrimitiveState { topology: Some(kind.topology), strip_index_format: None, front_face: None, cull_mode: None, unclipped_depth: None }),
            depth_stencil: kind.depth_stencil,
            multisample: Some(GpuMultisampleState { count: Some(kind.samples), mask: None, alpha_to_coverage_enabled: None }),
            fragment: Some(GpuFragmentState {
                targets: vec![Some(GpuColorTargetState { format, blend: None, write_mask: kind.write })],
                module: &self.module,
                entry_point: Some(fs.into()),
                constants: None,
            }),
            layout: GpuLayoutMode::Auto,
            label: None,
        })
    }

    fn target(&self, format: GpuTextureFormat, samples: u32, usage: GpuTextureUsage) -> GpuTexture {
        self.device.create_texture(&GpuTextureDescriptor {
            size: guests::extent(SIZE, SIZE, 1),
            mip_level_count: None,
            sample_count: Some(samples),
            dimension: None,
            format,
            usage: usage | GpuTextureUsage::RENDER_ATTACHMENT,
            view_formats: None,
            texture_binding_view_dimension: None,
            label: None,
        })
    }

    /// Encodes a pass on a fresh rgba8uint target (cleared, or discarded at the end), submits
    /// it, and reads the target back: the errors of `finish` and `submit`, and the texels.
    async fn render(&self, discard: bool, depth: Option<&GpuTextureView>, draw: impl FnOnce(&GpuRenderPassEncoder)) -> (String, Vec<u8>) {
        let target = self.target(GpuTextureFormat::Rgba8uint, 1, GpuTextureUsage::COPY_SRC);
        let view = target.create_view(None);
        let mut color = guests::color_attachment(&view);
        if discard {
            color.store_op = GpuStoreOp::Discard;
        }
        let mut descriptor = guests::render_pass(vec![Some(color)]);
        descriptor.depth_stencil_attachment = depth.map(|view| GpuRenderPassDepthStencilAttachment {
            view,
            depth_clear_value: Some(1.0),
            depth_load_op: Some(GpuLoadOp::Clear),
            depth_store_op: Some(GpuStoreOp::Store),
            depth_read_only: None,
            stencil_clear_value: Some(0),
            stencil_load_op: Some(GpuLoadOp::Clear),
            stencil_store_op: Some(GpuStoreOp::Store),
            stencil_read_only: None,
        });
        let errors = self.submit(|encoder| {
            let pass = encoder.begin_render_pass(&descriptor);
            draw(&pass);
            pass.end();
        });
        (errors.await, guests::read_texture(&self.device, &target, 0, 0, SIZE, SIZE).await)
    }

    /// Encodes with `encode`, finishes and submits, each in an error scope: what each caught.
    async fn submit(&self, encode: impl FnOnce(&GpuCommandEncoder)) -> String {
        let encoder = self.device.create_command_encoder(None);
        encode(&encoder);
        let (buffer, finished) = guests::caught(&self.device, || encoder.finish(None)).await;
        let ((), submitted) = guests::caught(&self.device, || self.device.queue().submit(&[&buffer])).await;
        format!("finish {finished}, submit {submitted}")
    }
}

fn report(what: &str, (errors, texels): (String, Vec<u8>), want: &[u32]) {
    println!("{what}: {errors}, {} of {} pixels wrong", wrong(&texels, want), SIZE * SIZE);
}

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let module = guests::shader(&device, SHADER);
        let scene = Scene { device, module };
        let device = &scene.device;
        let all = expected(WHOLE, false);

        let pipeline = scene.pipeline(Kind::list());
        let clip = [5, 9, 55, 49];
        let out = scene
            .render(false, None, |pass| {
                pass.set_pipeline(&pipeline);
                pass.set_viewport(0.0, 0.0, SIZE as f32, SIZE as f32, 0.0, 1.0);
                pass.set_scissor_rect(clip[0], clip[1], clip[2] - clip[0], clip[3] - clip[1]);
                pass.draw(6, Some(SQUARES), None, None);
            })
            .await;
        report("64 instances of a square, scissored", out, &expected(clip, false));

        let pipeline = scene.pipeline(Kind::list());
        let out = scene.render(false, None, |pass| {
            pass.set_pipeline(&pipeline);
            pass.draw(6 * SQUARES, None, None, None);
        });
        report("64 squares of one instance", out.await, &all);

        // Indexed: 3 indices before the square's 6 (first index 3) and 64 squares' after them
        // (first index 9); 4 squares' numbers before the instances' (first instance 4).
        let mut indices = vec![99, 99, 99, 0, 1, 2, 2, 1, 3];
        indices.extend((0..SQUARES).flat_map(|q| [0, 1, 2, 2, 1, 3].map(|c| 4 * q + c)));
        let index_buffer = guests::buffer_with(device, GpuBufferUsage::INDEX, &guests::bytes_of(&indices));
        let numbers: Vec<u32> = [0; 4].into_iter().chain(0..SQUARES).collect();
        let instance_buffer = guests::buffer_with(device, GpuBufferUsage::VERTEX, &guests::bytes_of(&numbers));
        let indexed = || Kind {
            entry: "vs_indexed",
            buffers: Some(vec![Some(GpuVertexBufferLayout {
                array_stride: 4,
                step_mode: Some(GpuVertexStepMode::Instance),
                attributes: vec![GpuVertexAttribute { format: GpuVertexFormat::Uint32, offset: 0, shader_location: 0 }],
            })]),
            ..Kind::list()
        };
        for (what, count, instances, first_index, first_instance) in
            [("64 indexed instances of a square", 6, SQUARES, 3, 4), ("64 indexed squares of one instance", 6 * SQUARES, 1, 9, 0)]
        {
            let pipeline = scene.pipeline(indexed());
            let out = scene.render(false, None, |pass| {
                pass.set_pipeline(&pipeline);
                pass.set_index_buffer(&index_buffer, GpuIndexFormat::Uint32, None, None);
                pass.set_vertex_buffer(0, Some(&instance_buffer), None, None);
                pass.draw_indexed(count, Some(instances), Some(first_index), Some(2), Some(first_instance));
            });
            report(what, out.await, &all);
        }

        let pipeline = scene.pipeline(Kind { entry: "vs_strip", topology: GpuPrimitiveTopology::TriangleStrip, ..Kind::list() });
        let out = scene.render(false, None, |pass| {
            pass.set_pipeline(&pipeline);
            pass.draw(4, Some(SQUARES), None, None);
        });
        report("64 instances of a strip", out.await, &all);

        // Square 27 marks the stencil (reference 1, no color); then every square is drawn
        // where the stencil equals the reference, the nearest first.
        let depth = scene.target(GpuTextureFormat::Depth24plusStencil8, 1, GpuTextureUsage::empty());
        let depth_view = depth.create_view(None);
        let marker = scene.pipeline(Kind {
            depth_stencil: Some(depth_stencil(GpuCompareFunction::Always, false, GpuCompareFunction::Always, GpuStencilOperation::Replace)),
            write: Some(GpuColorWrite::empty()),
            ..Kind::list()
        });
        let pipeline = scene.pipeline(Kind {
            depth_stencil: Some(depth_stencil(GpuCompareFunction::Less, true, GpuCompareFunction::Equal, GpuStencilOperation::Keep)),
            ..Kind::list()
        });
        let out = scene.render(false, Some(&depth_view), |pass| {
            pass.set_stencil_reference(1);
            pass.set_pipeline(&marker);
            pass.draw(6, None, None, Some(27));
            pass.set_pipeline(&pipeline);
            pass.draw(6, Some(SQUARES), None, None);
        });
        report("64 instances, depth-tested where a square marked the stencil", out.await, &expected(square(27), true));

        // Four samples a pixel, resolved: a pixel inside a square has all four covered.
        let samples = scene.target(GpuTextureFormat::Rgba8unorm, 4, GpuTextureUsage::empty());
        let resolved = scene.target(GpuTextureFormat::Rgba8unorm, 1, GpuTextureUsage::COPY_SRC);
        let (samples_view, resolved_view) = (samples.create_view(None), resolved.create_view(None));
        let pipeline = scene.pipeline(Kind { samples: 4, ..Kind::list() });
        let errors = scene
            .submit(|encoder| {
                let mut color = guests::color_attachment(&samples_view);
                color.resolve_target = Some(&resolved_view);
                let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(color)]));
                pass.set_pipeline(&pipeline);
                pass.draw(6, Some(SQUARES), None, None);
                pass.end();
            })
            .await;
        let texels = guests::read_texture(device, &resolved, 0, 0, SIZE, SIZE).await;
        report("64 instances, 4 samples a pixel, resolved", (errors, texels), &all);

        // Not cut: the runtime refuses the draw (indices past the buffer's end).
        let pipeline = scene.pipeline(indexed());
        let out = scene.render(false, None, |pass| {
            pass.set_pipeline(&pipeline);
            pass.set_index_buffer(&index_buffer, GpuIndexFormat::Uint32, None, None);
            pass.set_vertex_buffer(0, Some(&instance_buffer), None, None);
            pass.draw_indexed(6 * SQUARES + 10, Some(1), Some(9), Some(2), None);
        });
        report("indices past the buffer's end", out.await, &[0; (SIZE * SIZE) as usize]);

        // Not cut: a discarded target would be lost at a cut.
        let pipeline = scene.pipeline(Kind::list());
        let (errors, texels) = scene
            .render(true, None, |pass| {
                pass.set_pipeline(&pipeline);
                pass.draw(6, Some(SQUARES), None, None);
            })
            .await;
        println!("a pass that discards its target: {errors}, {} of {} pixels set", texels.chunks(4).filter(|t| t.iter().any(|&b| b != 0)).count(), SIZE * SIZE);

        // A bundle leaves the pass with no pipeline: the draw after it is refused.
        let pipeline = scene.pipeline(Kind::list());
        let bundle = device
            .create_render_bundle_encoder(&GpuRenderBundleEncoderDescriptor {
                depth_read_only: None,
                stencil_read_only: None,
                color_formats: vec![Some(GpuTextureFormat::Rgba8uint)],
                depth_stencil_format: None,
                sample_count: None,
                label: None,
            })
            .finish(None);
        let out = scene.render(false, None, |pass| {
            pass.set_pipeline(&pipeline);
            pass.execute_bundles(&[&bundle]);
            pass.draw(6, Some(SQUARES), None, None);
        });
        report("a draw after a bundle, with no pipeline set", out.await, &[0; (SIZE * SIZE) as usize]);

        let pipeline = scene.pipeline(Kind::list());
        let out = scene.render(false, None, |pass| {
            pass.push_debug_group("squares");
            pass.set_pipeline(&pipeline);
            pass.draw(6, Some(SQUARES), None, None);
            pass.pop_debug_group();
        });
        report("64 instances in a debug group", out.await, &all);
        Ok(())
    }
}

guests::export_command!(Command);
