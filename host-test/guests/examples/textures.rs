//! Textures with mip levels and array layers: every (layer, mip) gets its own value through
//! write-texture and is read back; views of single subresources are rendered into; getters.
use guests::gpu::*;

struct Command;

const SHADER: &str = "
@vertex fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let p = array(vec2<f32>(-1.0, -1.0), vec2<f32>(3.0, -1.0), vec2<f32>(-1.0, 3.0));
    return vec4<f32>(p[i], 0.0, 1.0);
}
@fragment fn fs() -> @location(0) vec4<f32> { return vec4<f32>(1.0, 0.4, 0.0, 1.0); }
";

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let format = GpuTextureFormat::Rgba8unorm;
        let usage = GpuTextureUsage::COPY_SRC | GpuTextureUsage::COPY_DST | GpuTextureUsage::RENDER_ATTACHMENT | GpuTextureUsage::TEXTURE_BINDING;
        let (layers, mips) = (3, 4);
        let texture = guests::texture(&device, guests::extent(16, 16, layers), format, usage, mips);
        println!(
            "getters: {}x{}x{} mips={} samples={} dimension={:?} format={:?} usage={:?} binding-view={:?}",
            texture.width(),
            texture.height(),
            texture.depth_or_array_layers(),
            texture.mip_level_count(),
            texture.sample_count(),
            texture.dimension(),
            texture.format(),
            texture.usage(),
            texture.texture_binding_view_dimension(),
        );
        let queue = device.queue();
        for layer in 0..layers {
            for mip in 0..mips {
                let side = 16 >> mip;
                let value = (layer * 16 + mip) as u8;
                let data = vec![value; (side * side * 4) as usize];
                queue.write_texture_with_copy(
                    &guests::at(&texture, mip, 0, 0, layer),
                    &data,
                    GpuTexelCopyBufferLayout { offset: None, bytes_per_row: Some(side * 4), rows_per_image: None },
                    guests::extent(side, side, 1),
                );
            }
        }
        // Render into layer 1, mip 2 through a single-subresource view.
        let view = texture.create_view(Some(&GpuTextureViewDescriptor {
            format: None,
            dimension: Some(GpuTextureViewDimension::D2),
            usage: None,
            aspect: None,
            base_mip_level: Some(2),
            mip_level_count: Some(1),
            base_array_layer: Some(1),
            array_layer_count: Some(1),
            swizzle: None,
            label: Some("layer 1 mip 2".into()),
        }));
        let module = guests::shader(&device, SHADER);
        let pipeline = guests::render_pipeline(&device, &module, format, None);
        let encoder = device.create_command_encoder(None);
        let mut attachment = guests::color_attachment(&view);
        attachment.load_op = GpuLoadOp::Load;
        let pass = encoder.begin_render_pass(&guests::render_pass(vec![Some(attachment)]));
        pass.set_pipeline(&pipeline);
        pass.draw(3, None, None, None);
        pass.end();
        queue.submit(&[&encoder.finish(None)]);
        for layer in 0..layers {
            let mut line = format!("layer {layer}:");
            for mip in 0..mips {
                let side = 16 >> mip;
                let texels = guests::read_texture(&device, &texture, mip, layer, side, side).await;
                let uniform = texels.chunks(4).all(|t| t == &texels[0..4]);
                line += &format!(" mip{mip}={:?}{}", &texels[0..4], if uniform { "" } else { "(mixed)" });
            }
            println!("{line}");
        }
        // A 3D texture's depth halves per mip; its getters say so.
        let volume = device.create_texture(&GpuTextureDescriptor {
            size: guests::extent(8, 8, 8),
            mip_level_count: Some(4),
            sample_count: None,
            dimension: Some(GpuTextureDimension::D3),
            format: GpuTextureFormat::R8unorm,
            usage: GpuTextureUsage::COPY_DST,
            view_formats: None,
            texture_binding_view_dimension: None,
            label: None,
        });
        println!("3d: {}x{}x{} mips={} dimension={:?}", volume.width(), volume.height(), volume.depth_or_array_layers(), volume.mip_level_count(), volume.dimension());
        volume.destroy();
        Ok(())
    }
}

guests::export_command!(Command);
