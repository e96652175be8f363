//! Render bundles: a bundle records a draw (pipeline, vertex buffer, bind group with a dynamic
//! offset) and two render passes execute it; the guest prints the pixels.
use guests::gpu::*;

struct Command;

const SHADER: &str = "
struct Tint { color: vec4<f32> };
@group(0) @binding(0) var<uniform> tint: Tint;
@vertex fn vs(@location(0) p: vec2<f32>) -> @builtin(position) vec4<f32> { return vec4<f32>(p, 0.0, 1.0); }
@fragment fn fs() -> @location(0) vec4<f32> { return tint.color; }
";

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let format = GpuTextureFormat::Rgba8unorm;
        let target = guests::texture(&device, guests::extent(8, 8, 1), format, GpuTextureUsage::RENDER_ATTACHMENT | GpuTextureUsage::COPY_SRC, 1);
        let view = target.create_view(None);
        // The left half of the target, as two triangles.
        let quad: Vec<f32> = vec![-1.0, -1.0, 0.0, -1.0, 0.0, 1.0, -1.0, -1.0, 0.0, 1.0, -1.0, 1.0];
        let bytes: Vec<u8> = quad.iter().flat_map(|f| f.to_le_bytes()).collect();
        let vbuf = guests::buffer_with(&device, GpuBufferUsage::VERTEX, &bytes);
        // Two colors 256 bytes apart, picked with a dynamic offset.
        let mut uniforms = vec![0u8; 512];
        for (i, c) in [[0.0f32, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]].iter().enumerate() {
            let bytes: Vec<u8> = c.iter().flat_map(|f| f.to_le_bytes()).collect();
            uniforms[i * 256..i * 256 + 16].copy_from_slice(&bytes);
        }
        let ubuf = guests::buffer_with(&device, GpuBufferUsage::UNIFORM, &uniforms);
        let bgl = device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor {
            entries: vec![GpuBindGroupLayoutEntry {
                binding: 0,
                visibility: GpuShaderStage::FRAGMENT,
                buffer: Some(GpuBufferBindingLayout { type_: Some(GpuBufferBindingType::Uniform), has_dynamic_offset: Some(true), min_binding_size: Some(16) }),
                sampler: None,
                texture: None,
                storage_texture: None,
            }],
            label: None,
        });
        let layout = device.create_pipeline_layout(&GpuPipelineLayoutDescriptor { bind_group_layouts: vec![Some(&bgl)], immediate_size: None, label: None });
        let group = device.create_bind_group(&GpuBindGroupDescriptor {
            layout: &bgl,
            entries: vec![GpuBindGroupEntry {
                binding: 0,
                resource: GpuBindingResource::GpuBufferBinding(GpuBufferBinding { buffer: &ubuf, offset: None, size: Some(16) }),
            }],
            label: None,
        });
        let module = guests::shader(&device, SHADER);
        let pipeline = device.create_render_pipeline(GpuRenderPipelineDescriptor {
            vertex: GpuVertexState {
                buffers: Some(vec![Some(GpuVertexBufferLayout {
                    array_stride: 8,
                    step_mode: None,
                    attributes: vec![GpuVertexAttribute { format: GpuVertexFormat::Float32x2, offset: 0, shader_location: 0 }],
                })]),
                module: &module,
                entry_point: Some("vs".into()),
                constants: None,
            },
            primitive: None,
            depth_stencil: None,
            multisample: None,
            fragment: Some(GpuFragmentState {
                targets: vec![Some(GpuColorTargetState { format, blend: None, write_mask: None })],
                module: &module,
                entry_point: Some("fs".into()),
                constants: None,
            }),
            layout: GpuLayoutMode::Specific(&layout),
            label: None,
        });
        let bundle_for = |offset: u32| {
            let encoder = device.create_render_bundle_encoder(&GpuRenderBundleEncoderDescriptor {
                depth_read_only: None,
                stencil_read_only: None,
                color_formats: vec![Some(format)],
                depth_stencil_format: None,
                sample_count: None,
                label: Some("bundle".into()),
            });
            encoder.set_pipeline(&pipeline);
            encoder.set_vertex_buffer(0, Some(&vbuf), None, None);
            encoder.set_bind_group(0, Some(&group), Some(&[0, offset]), Some(1), Some(1)).expect("set-bind-group");
            encoder.push_debug_group("draw");
            encoder.draw(6, None, None, None);
            encoder.pop_debug_group();
            encoder.finish(Some(&GpuRenderBundleDescriptor { label: Some("half".into()) }))
        };
        let green = bundle_for(0);
        let blue = bundle_for(256);
        println!("bundle labels: {} {}", green.label(), blue.label());
        for (name, bundle) in [("green", &green), ("blue", &blue)] {
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(guests::color_attachment(&view))]));
            pass.execute_bundles(&[bundle]);
            pass.end();
            device.queue().submit(&[&encoder.finish(None)]);
            let pixels = guests::read_texture(&device, &target, 0, 0, 8, 8).await;
            println!("{name}: left={:?} right={:?}", &pixels[(4 * 8 + 1) * 4..(4 * 8 + 1) * 4 + 4], &pixels[(4 * 8 + 6) * 4..(4 * 8 + 6) * 4 + 4]);
        }
        Ok(())
    }
}

guests::export_command!(Command);
