//! Invalid calls: each must come back as a WebGPU error (a validation error in a scope, or the
//! function's own error result), never a trap. The guest prints what each produced.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let queue = device.queue();
        let buffer = |size, usage| guests::buffer(&device, size, usage);

        // Destroyed objects.
        let dead = buffer(16, GpuBufferUsage::COPY_DST | GpuBufferUsage::COPY_SRC);
        dead.destroy();
        dead.destroy();
        let (_, e) = guests::caught(&device, || queue.write_buffer_with_copy(&dead, 0, &[0; 4], None, None)).await;
        println!("write to a destroyed buffer: {e}");
        let (_, e) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            encoder.clear_buffer(&dead, None, None);
            queue.submit(&[&encoder.finish(None)]);
        })
        .await;
        println!("submit using a destroyed buffer: {e}");
        let dead_texture = guests::texture(&device, guests::extent(4, 4, 1), GpuTextureFormat::Rgba8unorm, GpuTextureUsage::COPY_DST, 1);
        dead_texture.destroy();
        let (_, e) = guests::caught(&device, || {
            queue.write_texture_with_copy(&guests::at(&dead_texture, 0, 0, 0, 0), &[0; 64], GpuTexelCopyBufferLayout { offset: None, bytes_per_row: Some(16), rows_per_image: None }, guests::extent(4, 4, 1))
        })
        .await;
        println!("write to a destroyed texture: {e}");

        // Bad usages.
        let vertex_only = buffer(16, GpuBufferUsage::VERTEX);
        let (_, e) = guests::caught(&device, || queue.write_buffer_with_copy(&vertex_only, 0, &[0; 4], None, None)).await;
        println!("write-buffer without copy-dst: {e}");
        println!("map-async without map-read: {:?}", vertex_only.map_async(GpuMapMode::READ, None, None).await.map_err(|e| e.kind));
        println!("map-async with no mode: {:?}", vertex_only.map_async(GpuMapMode::empty(), None, None).await.map_err(|e| e.kind));
        let (_, e) = guests::caught(&device, || guests::texture(&device, guests::extent(4, 4, 1), GpuTextureFormat::Depth32float, GpuTextureUsage::STORAGE_BINDING, 1)).await;
        println!("depth texture as storage: {e}");

        // Bad ranges.
        let small = buffer(16, GpuBufferUsage::COPY_DST | GpuBufferUsage::MAP_READ);
        let (_, e) = guests::caught(&device, || queue.write_buffer_with_copy(&small, 12, &[0; 8], None, None)).await;
        println!("write-buffer past the end: {e}");
        println!("write-buffer data range outside the data: {:?}", queue.write_buffer_with_copy(&small, 0, &[0; 8], Some(4), Some(8)).map_err(|e| e.kind));
        println!("map-async past the end: {:?}", small.map_async(GpuMapMode::READ, Some(8), Some(16)).await.map_err(|e| e.kind));
        println!("map-async unaligned: {:?}", small.map_async(GpuMapMode::READ, Some(2), None).await.map_err(|e| e.kind));
        println!("mapped range when unmapped: {:?}", small.get_mapped_range_get_with_copy(None, None).map_err(|e| e.kind));
        small.map_async(GpuMapMode::READ, None, None).await.expect("map");
        println!("map-async while mapped: {:?}", small.map_async(GpuMapMode::READ, None, None).await.map_err(|e| e.kind));
        println!("unmap twice: {:?} {:?}", small.unmap().is_ok(), small.unmap().is_ok());
        let (_, e) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            encoder.copy_buffer_to_buffer(&small, Some(0), &vertex_only, Some(0), Some(64));
            queue.submit(&[&encoder.finish(None)]);
        })
        .await;
        println!("copy beyond both buffers: {e}");

        // Encoder and pass state.
        let encoder = device.create_command_encoder(None);
        let pass = encoder.begin_compute_pass(None);
        pass.end();
        let (_, e) = guests::caught(&device, || pass.end()).await;
        println!("end a pass twice: {e}");
        let (_, e) = guests::caught(&device, || pass.dispatch_workgroups(1, None, None)).await;
        println!("dispatch on an ended pass: {e}");
        let commands = encoder.finish(None);
        let (_, e) = guests::caught(&device, || encoder.finish(None)).await;
        println!("finish twice: {e}");
        queue.submit(&[&commands]);
        let (_, e) = guests::caught(&device, || queue.submit(&[&commands])).await;
        println!("submit twice: {e}");
        let open = device.create_command_encoder(None);
        let _open_pass = open.begin_compute_pass(None);
        let (_, e) = guests::caught(&device, || open.finish(None)).await;
        println!("finish with a pass open: {e}");

        // Bind groups, dynamic offsets, vertex buffers.
        let pass_encoder = device.create_command_encoder(None);
        let pass = pass_encoder.begin_compute_pass(None);
        let r = pass.set_bind_group(0, None, Some(&[0, 256]), Some(1), Some(4));
        println!("dynamic offsets outside the list: {:?}", r.map_err(|e| e.kind));
        pass.end();
        let (_, e) = guests::caught(&device, || {
            device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor {
                entries: vec![GpuBindGroupLayoutEntry { binding: 0, visibility: GpuShaderStage::COMPUTE, buffer: None, sampler: None, texture: None, storage_texture: None }],
                label: None,
            })
        })
        .await;
        println!("bind group layout entry with no kind: {e}");
        let (_, e) = guests::caught(&device, || {
            let layouts: Vec<GpuBindGroupLayout> = (0..9).map(|_| device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor { entries: vec![], label: None })).collect();
            device.create_pipeline_layout(&GpuPipelineLayoutDescriptor { bind_group_layouts: layouts.iter().map(Some).collect(), immediate_size: None, label: None })
        })
        .await;
        println!("nine bind group layouts: {e}");
        let uniform_layout = device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor {
            entries: vec![GpuBindGroupLayoutEntry {
                binding: 0,
                visibility: GpuShaderStage::COMPUTE,
                buffer: Some(GpuBufferBindingLayout { type_: None, has_dynamic_offset: None, min_binding_size: None }),
                sampler: None,
                texture: None,
                storage_texture: None,
            }],
            label: None,
        });
        let uniform = buffer(256, GpuBufferUsage::UNIFORM);
        let (_, e) = guests::caught(&device, || {
            device.create_bind_group(&GpuBindGroupDescriptor {
                layout: &uniform_layout,
                entries: vec![GpuBindGroupEntry {
                    binding: 0,
                    resource: GpuBindingResource::GpuBufferBinding(GpuBufferBinding { buffer: &uniform, offset: None, size: Some(0) }),
                }],
                label: None,
            })
        })
        .await;
        println!("zero-size buffer binding: {e}");

        // Shaders.
        let broken = guests::shader(&device, "fn main( {");
        let info = broken.get_compilation_info().await;
        let messages = info.messages();
        println!(
            "broken shader: messages={} first-is-error={} has-position={}",
            !messages.is_empty(),
            messages.first().is_some_and(|m| m.type_() == GpuCompilationMessageType::Error),
            messages.first().is_some_and(|m| m.line_num() > 0 && m.length() > 0),
        );
        let (_, e) = guests::caught(&device, || guests::shader(&device, "fn main( {")).await;
        println!("create a broken shader: {e}");
        let good = guests::shader(&device, "@compute @workgroup_size(1) fn main() {}");
        println!("good shader messages: {}", good.get_compilation_info().await.messages().len());
        let (pipeline, e) = guests::caught(&device, || {
            device.create_compute_pipeline(GpuComputePipelineDescriptor {
                compute: GpuProgrammableStage { module: &broken, entry_point: None, constants: None },
                layout: GpuLayoutMode::Auto,
                label: None,
            })
        })
        .await;
        println!("pipeline from a broken shader: {e}");
        // More workgroup storage than maxComputeWorkgroupStorageSize: a validation error, in
        // both forms (left to the driver, the pipeline's creation never returns on an NVIDIA GPU).
        let big = guests::shader(&device, "var<workgroup> big: array<u32, 1000000>; @compute @workgroup_size(1) fn main() { big[0] = 1u; }");
        let too_big = || GpuComputePipelineDescriptor {
            compute: GpuProgrammableStage { module: &big, entry_point: None, constants: None },
            layout: GpuLayoutMode::Auto,
            label: None,
        };
        let (_, e) = guests::caught(&device, || device.create_compute_pipeline(too_big())).await;
        println!("workgroup storage over the limit: {e}");
        let e = device.create_compute_pipeline_async(too_big()).await.err().map(|e| e.kind);
        println!("workgroup storage over the limit, async: {e:?}");
        let (_, e) = guests::caught(&device, || pipeline.get_bind_group_layout(0)).await;
        println!("layout of an invalid pipeline: {e}");
        let (_, e) = guests::caught(&device, || device.create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Occlusion, count: 5000, label: None })).await;
        println!("query set too large: {e}");

        // Render bundles.
        let bundle_encoder = device.create_render_bundle_encoder(&GpuRenderBundleEncoderDescriptor {
            depth_read_only: None, stencil_read_only: None, color_formats: vec![Some(GpuTextureFormat::Rgba8unorm)],
            depth_stencil_format: None, sample_count: None, label: None,
        });
        bundle_encoder.draw(3, None, None, None);
        let (bundle, e) = guests::caught(&device, || bundle_encoder.finish(None)).await;
        println!("bundle drawing with no pipeline: {e}");
        let (_, e) = guests::caught(&device, || bundle_encoder.finish(None)).await;
        println!("finish a bundle twice: {e}");
        let target = guests::texture(&device, guests::extent(4, 4, 1), GpuTextureFormat::Rgba8unorm, GpuTextureUsage::RENDER_ATTACHMENT, 1);
        let view = target.create_view(None);
        let (_, e) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(guests::color_attachment(&view))]));
            pass.execute_bundles(&[&bundle]);
            pass.end();
            queue.submit(&[&encoder.finish(None)]);
        })
        .await;
        println!("execute an invalid bundle: {e}");
        let (_, e) = guests::caught(&device, || {
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(guests::color_attachment(&view))]));
            pass.set_vertex_buffer(0, Some(&vertex_only), Some(32), None);
            pass.draw(3, None, None, None);
            pass.end();
            encoder.finish(None)
        })
        .await;
        println!("vertex buffer offset past the end: {e}");
        println!("still alive: {}", device.pop_error_scope().await.is_err());
        Ok(())
    }
}

guests::export_command!(Command);
