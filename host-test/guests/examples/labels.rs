//! Labels: given at creation, read back, changed with set-label, for every labelled object.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let adapter = get_gpu().request_adapter(None).await.expect("adapter");
        let device = adapter
            .request_device(Some(GpuDeviceDescriptor {
                required_features: None,
                required_limits: None,
                default_queue: Some(GpuQueueDescriptor { label: Some("the queue".into()) }),
                label: Some("the device".into()),
            }))
            .await
            .expect("device");
        let l = |s: &str| Some(s.to_string());
        let buffer = device.create_buffer(&GpuBufferDescriptor { size: 4, usage: GpuBufferUsage::VERTEX, mapped_at_creation: None, label: l("buffer") });
        let texture = device.create_texture(&GpuTextureDescriptor {
            size: guests::extent(4, 4, 1), mip_level_count: None, sample_count: None, dimension: None,
            format: GpuTextureFormat::Rgba8unorm, usage: GpuTextureUsage::TEXTURE_BINDING, view_formats: None,
            texture_binding_view_dimension: None, label: l("texture"),
        });
        let view = texture.create_view(Some(&GpuTextureViewDescriptor {
            format: None, dimension: None, usage: None, aspect: None, base_mip_level: None, mip_level_count: None,
            base_array_layer: None, array_layer_count: None, swizzle: None, label: l("view"),
        }));
        let sampler = device.create_sampler(Some(&GpuSamplerDescriptor {
            address_mode_u: None, address_mode_v: None, address_mode_w: None, mag_filter: None, min_filter: None,
            mipmap_filter: None, lod_min_clamp: None, lod_max_clamp: None, compare: None, max_anisotropy: None, label: l("sampler"),
        }));
        let bgl = device.create_bind_group_layout(&GpuBindGroupLayoutDescriptor { entries: vec![], label: l("bind group layout") });
        let group = device.create_bind_group(&GpuBindGroupDescriptor { layout: &bgl, entries: vec![], label: l("bind group") });
        let layout = device.create_pipeline_layout(&GpuPipelineLayoutDescriptor { bind_group_layouts: vec![Some(&bgl)], immediate_size: None, label: l("pipeline layout") });
        let module = device.create_shader_module(&GpuShaderModuleDescriptor {
            code: "@compute @workgroup_size(1) fn main() {}".into(),
            compilation_hints: None,
            label: l("shader"),
        });
        let pipeline = device.create_compute_pipeline(GpuComputePipelineDescriptor {
            compute: GpuProgrammableStage { module: &module, entry_point: None, constants: None },
            layout: GpuLayoutMode::Specific(&layout),
            label: l("compute pipeline"),
        });
        let encoder = device.create_command_encoder(Some(&GpuCommandEncoderDescriptor { label: l("encoder") }));
        let pass = encoder.begin_compute_pass(Some(&GpuComputePassDescriptor { timestamp_writes: None, label: l("compute pass") }));
        println!("pass: {}", pass.label());
        pass.set_label("renamed pass");
        println!("pass: {}", pass.label());
        pass.end();
        let commands = encoder.finish(Some(&GpuCommandBufferDescriptor { label: l("command buffer") }));
        let queries = device.create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Occlusion, count: 1, label: l("query set") }).expect("query set");
        let bundle_encoder = device.create_render_bundle_encoder(&GpuRenderBundleEncoderDescriptor {
            depth_read_only: None, stencil_read_only: None, color_formats: vec![Some(GpuTextureFormat::Rgba8unorm)],
            depth_stencil_format: None, sample_count: None, label: l("bundle encoder"),
        });
        println!("bundle encoder: {}", bundle_encoder.label());
        let bundle = bundle_encoder.finish(Some(&GpuRenderBundleDescriptor { label: l("bundle") }));
        let queue = device.queue();

        macro_rules! show {
            ($($name:literal => $obj:expr),* $(,)?) => {$(
                let before = $obj.label();
                $obj.set_label(concat!("new ", $name));
                println!("{}: {:?} -> {:?}", $name, before, $obj.label());
            )*};
        }
        show! {
            "device" => device, "queue" => queue, "buffer" => buffer, "texture" => texture, "view" => view,
            "sampler" => sampler, "bind group layout" => bgl, "bind group" => group, "pipeline layout" => layout,
            "shader" => module, "compute pipeline" => pipeline, "encoder" => encoder, "command buffer" => commands,
            "query set" => queries, "bundle" => bundle,
        }
        println!("queue label seen from another handle: {:?}", device.queue().label());
        Ok(())
    }
}

guests::export_command!(Command);
