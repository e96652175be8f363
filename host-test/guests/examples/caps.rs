//! Runs into each cap of a sandboxing virt (run through `webgpu-virt plug --max-buffer-size 64KiB
//! --max-texture-dimension 256 --max-objects buffers=3,textures=2,query-sets=1,shader-modules=1,
//! command-encoders=1,bind-groups=1,pipelines=4 --max-write-size 1KiB`): the limits it reports, a buffer and
//! a texture above them, one object too many of each kind (and what using it does), and writes
//! and mapped range copies a byte over.
use guests::gpu::*;

struct Command;

/// What an error scope of `filter` around `f` caught.
async fn scope<R>(device: &GpuDevice, filter: GpuErrorFilter, f: impl FnOnce() -> R) -> (R, String) {
    let (r, e) = guests::scoped(device, filter, f).await;
    (r, e.unwrap_or_else(|| "no error".into()))
}

fn texture(device: &GpuDevice, width: u32) -> GpuTexture {
    guests::texture(device, guests::extent(width, 4, 1), GpuTextureFormat::Rgba8unorm, GpuTextureUsage::COPY_DST, 1)
}

/// A compute pipeline over `module`'s `main`.
fn compute<'a>(module: &'a GpuShaderModule, layout: GpuLayoutMode<'a>) -> GpuComputePipelineDescriptor<'a> {
    GpuComputePipelineDescriptor {
        compute: GpuProgrammableStage { module, entry_point: Some("main".into()), constants: None },
        layout,
        label: None,
    }
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let adapter = get_gpu().request_adapter(None).await.expect("no GPU adapter");
        let device = adapter.request_device(None).await.expect("request-device");
        let queue = device.queue();
        let l = device.limits();
        println!(
            "limits: buffer={} storage-binding={} texture-1d={} 2d={} 3d={}",
            l.max_buffer_size(),
            l.max_storage_buffer_binding_size(),
            l.max_texture_dimension1_d(),
            l.max_texture_dimension2_d(),
            l.max_texture_dimension3_d()
        );
        let limits = RecordOptionGpuSize64::new();
        limits.add("maxTextureDimension2D", Some(257));
        let descriptor = GpuDeviceDescriptor { required_features: None, required_limits: Some(limits), default_queue: None, label: None };
        println!("require maxTextureDimension2D 257: {:?}", adapter.request_device(Some(descriptor)).await.err().map(|e| e.kind));

        // Sizes above the caps are validation errors, as above a limit.
        let usage = GpuBufferUsage::COPY_DST | GpuBufferUsage::MAP_READ;
        let (big, e) = scope(&device, GpuErrorFilter::Validation, || guests::buffer(&device, 65540, usage)).await;
        println!("buffer of 65540: {e}; its size: {}", big.size());
        let (wide, e) = scope(&device, GpuErrorFilter::Validation, || texture(&device, 257)).await;
        println!("texture 257 wide: {e}; its width: {}", wide.width());
        drop((big, wide));

        // One object too many of each kind, then room again after a destroy.
        let mut buffers = Vec::new();
        for i in 0..4 {
            let (b, e) = scope(&device, GpuErrorFilter::OutOfMemory, || guests::buffer(&device, 1024, usage)).await;
            println!("buffer {}: {e}", i + 1);
            buffers.push(b);
        }
        buffers[0].destroy();
        let (again, e) = scope(&device, GpuErrorFilter::OutOfMemory, || guests::buffer(&device, 1024, usage)).await;
        println!("a buffer after destroying one: {e}");
        let mut textures = Vec::new();
        for i in 0..3 {
            let (t, e) = scope(&device, GpuErrorFilter::OutOfMemory, || texture(&device, 256)).await;
            println!("texture {}: {e}", i + 1);
            textures.push(t);
        }
        let query_set = || device.create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Occlusion, count: 8, label: None }).expect("create-query-set");
        let (first, e) = scope(&device, GpuErrorFilter::OutOfMemory, query_set).await;
        println!("query set 1: {e}");
        let (_, e) = scope(&device, GpuErrorFilter::OutOfMemory, query_set).await;
        println!("query set 2: {e}");
        drop(first);

        // Writes and mapped range copies a byte over the cap.
        drop((again, buffers));
        let target = device.create_buffer(&GpuBufferDescriptor { size: 2048, usage, mapped_at_creation: Some(true), label: None });
        println!("set 1028 bytes of a mapped range: {:?}", target.get_mapped_range_set_with_copy(&[3; 1028], None, None).map_err(|e| e.kind));
        println!("set 1024 bytes of a mapped range: {:?}", target.get_mapped_range_set_with_copy(&[3; 1024], None, None).map_err(|e| e.kind));
        target.unmap().expect("unmap");
        println!("write-buffer 1024: {:?}", queue.write_buffer_with_copy(&target, 0, &[1; 1024], None, None).map_err(|e| e.kind));
        println!("write-buffer 1028: {:?}", queue.write_buffer_with_copy(&target, 0, &[1; 1028], None, None).map_err(|e| e.kind));
        let layout = GpuTexelCopyBufferLayout { offset: None, bytes_per_row: Some(1024), rows_per_image: None };
        let write = |bytes: usize| queue.write_texture_with_copy(&guests::at(&textures[0], 0, 0, 0, 0), &vec![2; bytes], layout, guests::extent(256, 1, 1));
        let (_, e) = guests::caught(&device, || write(1024)).await;
        println!("write-texture 1024: {e}");
        let (_, e) = guests::caught(&device, || write(1028)).await;
        println!("write-texture 1028: {e}");
        target.map_async(GpuMapMode::READ, None, None).await.expect("map-async");
        let read = |size| target.get_mapped_range_get_with_copy(None, size).map(|d| d.len()).map_err(|e| e.kind);
        println!("read all 2048 of the mapped range: {:?}", read(None));
        println!("read 1024 of it: {:?}", read(Some(1024)));
        target.unmap().expect("unmap");
        drop((textures, target));

        // Shader modules, command encoders and bind groups: one too many, and what using it does.
        let code = "@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(1) fn main() { o[0] = 7u; }
@vertex fn vs() -> @builtin(position) vec4<f32> { return vec4<f32>(0.0, 0.0, 0.0, 1.0); }
@fragment fn fs() -> @location(0) vec4<f32> { return vec4<f32>(1.0); }";
        let (module, e) = scope(&device, GpuErrorFilter::OutOfMemory, || guests::shader(&device, code)).await;
        println!("shader module 1: {e}");
        let (extra, e) = scope(&device, GpuErrorFilter::OutOfMemory, || guests::shader(&device, code)).await;
        println!("shader module 2: {e}");
        let (_, e) = guests::caught(&device, || device.create_compute_pipeline(compute(&extra, GpuLayoutMode::Auto))).await;
        println!("a pipeline of shader module 2: {e}");
        let pipeline = device.create_compute_pipeline(compute(&module, GpuLayoutMode::Auto));
        let out = guests::buffer(&device, 4, GpuBufferUsage::STORAGE);
        let group = || {
            device.create_bind_group(&GpuBindGroupDescriptor {
                layout: &pipeline.get_bind_group_layout(0),
                entries: vec![GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBuffer(&out) }],
                label: None,
            })
        };
        let (group1, e) = scope(&device, GpuErrorFilter::OutOfMemory, group).await;
        println!("bind group 1: {e}");
        let (group2, e) = scope(&device, GpuErrorFilter::OutOfMemory, group).await;
        println!("bind group 2: {e}");
        let (encoder1, e) = scope(&device, GpuErrorFilter::OutOfMemory, || device.create_command_encoder(None)).await;
        println!("command encoder 1: {e}");
        let (encoder2, e) = scope(&device, GpuErrorFilter::OutOfMemory, || device.create_command_encoder(None)).await;
        println!("command encoder 2: {e}");
        let dispatch = |encoder: &GpuCommandEncoder, group: &GpuBindGroup| {
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, Some(group), None, None, None).expect("set-bind-group");
            pass.dispatch_workgroups(1, None, None);
            pass.end();
            queue.submit(&[&encoder.finish(None)]);
        };
        let (_, e) = guests::caught(&device, || dispatch(&encoder2, &group1)).await;
        println!("dispatching with command encoder 2: {e}");
        let (_, e) = guests::caught(&device, || dispatch(&encoder1, &group2)).await;
        println!("dispatching with bind group 2: {e}");
        drop((encoder1, encoder2));
        let (encoder, e) = scope(&device, GpuErrorFilter::OutOfMemory, || device.create_command_encoder(None)).await;
        println!("a command encoder after dropping both: {e}");
        let (_, e) = guests::caught(&device, || dispatch(&encoder, &group1)).await;
        println!("dispatching with it and bind group 1: {e}");
        drop(encoder);

        // Pipelines (4 with the one above): one too many of each kind, what using it does, the
        // async form, and room again after a drop. The compute pipelines share one layout, so
        // that one bind group fits them all.
        drop((group1, group2));
        let storage = GpuBufferBindingLayout { type_: Some(GpuBufferBindingType::Storage), has_dynamic_offset: None, min_binding_size: None };
        let entry = GpuBindGroupLayoutEntry { binding: 0, visibility: GpuShaderStage::COMPUTE, buffer: Some(storage), sampler: None, texture: None, storage_texture: None };
        let group_layout = device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor { entries: vec![entry], label: None });
        let layout = device.create_pipeline_layout(&GpuPipelineLayoutDescriptor { bind_group_layouts: vec![Some(&group_layout)], immediate_size: None, label: None });
        let group = device.create_bind_group(&GpuBindGroupDescriptor {
            layout: &group_layout,
            entries: vec![GpuBindGroupEntry { binding: 0, resource: GpuBindingResource::GpuBuffer(&out) }],
            label: None,
        });
        let shared = || compute(&module, GpuLayoutMode::Specific(&layout));
        let format = GpuTextureFormat::Rgba8unorm;
        let (render, e) = scope(&device, GpuErrorFilter::Internal, || guests::render_pipeline(&device, &module, format, None)).await;
        println!("pipeline 2, render: {e}");
        let (third, e) = scope(&device, GpuErrorFilter::Internal, || device.create_compute_pipeline(shared())).await;
        println!("pipeline 3, compute: {e}");
        let (fourth, e) = scope(&device, GpuErrorFilter::Internal, || device.create_compute_pipeline(shared())).await;
        println!("pipeline 4, compute: {e}");
        let (refused, e) = scope(&device, GpuErrorFilter::Internal, || device.create_compute_pipeline(shared())).await;
        println!("pipeline 5, compute: {e}");
        let (refused_render, e) = scope(&device, GpuErrorFilter::Internal, || guests::render_pipeline(&device, &module, format, None)).await;
        println!("pipeline 5, render: {e}");
        let rejected = device.create_compute_pipeline_async(shared()).await.err();
        println!("pipeline 5, async: {:?}", rejected.map(|e| e.kind));
        let dispatch = |pipeline: &GpuComputePipeline| {
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
            pass.dispatch_workgroups(1, None, None);
            pass.end();
            queue.submit(&[&encoder.finish(None)]);
        };
        let (_, e) = guests::caught(&device, || dispatch(&refused)).await;
        println!("dispatching with compute pipeline 5: {e}");
        let (_, e) = guests::caught(&device, || dispatch(&fourth)).await;
        println!("dispatching with compute pipeline 4: {e}");
        let target = guests::texture(&device, guests::extent(4, 4, 1), format, GpuTextureUsage::RENDER_ATTACHMENT, 1);
        let view = target.create_view(None);
        let draw = |pipeline: &GpuRenderPipeline| {
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(guests::color_attachment(&view))]));
            pass.set_pipeline(pipeline);
            pass.draw(1, None, None, None);
            pass.end();
            queue.submit(&[&encoder.finish(None)]);
        };
        let (_, e) = guests::caught(&device, || draw(&refused_render)).await;
        println!("drawing with render pipeline 5: {e}");
        let (_, e) = guests::caught(&device, || draw(&render)).await;
        println!("drawing with render pipeline 2: {e}");
        drop((third, refused));
        let again = device.create_compute_pipeline_async(shared()).await;
        println!("a pipeline after dropping one, async: {:?}", again.as_ref().err().map(|e| &e.kind));
        let (_, e) = guests::caught(&device, || dispatch(&again.expect("create-compute-pipeline-async"))).await;
        println!("dispatching with it: {e}");
        Ok(())
    }
}

guests::export_command!(Command);
