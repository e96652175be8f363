//! Query sets: occlusion queries around a visible and a scissored-out draw, resolved into a
//! buffer; query set getters; a timestamp query set needs its feature.
use guests::gpu::*;

struct Command;

const SHADER: &str = "
@vertex fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let p = array(vec2<f32>(-1.0, -1.0), vec2<f32>(3.0, -1.0), vec2<f32>(-1.0, 3.0));
    return vec4<f32>(p[i], 0.0, 1.0);
}
@fragment fn fs() -> @location(0) vec4<f32> { return vec4<f32>(1.0); }
";

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let set = device
            .create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Occlusion, count: 2, label: Some("occlusion".into()) })
            .expect("occlusion query set");
        println!("query set: type={:?} count={} label={}", set.type_(), set.count(), set.label());
        let format = GpuTextureFormat::Rgba8unorm;
        let target = guests::texture(&device, guests::extent(16, 16, 1), format, GpuTextureUsage::RENDER_ATTACHMENT, 1);
        let view = target.create_view(None);
        let module = guests::shader(&device, SHADER);
        let pipeline = guests::render_pipeline(&device, &module, format, None);
        let resolved = device.create_buffer(&GpuBufferDescriptor {
            size: 16,
            usage: GpuBufferUsage::QUERY_RESOLVE | GpuBufferUsage::COPY_SRC,
            mapped_at_creation: None,
            label: None,
        });
        let encoder = device.create_command_encoder(None);
        let mut desc = guests::render_pass(vec![Some(guests::color_attachment(&view))]);
        desc.occlusion_query_set = Some(&set);
        let pass = encoder.begin_render_pass(&desc);
        pass.set_pipeline(&pipeline);
        pass.begin_occlusion_query(0);
        pass.draw(3, None, None, None);
        pass.end_occlusion_query();
        pass.set_scissor_rect(0, 0, 0, 0);
        pass.begin_occlusion_query(1);
        pass.draw(3, None, None, None);
        pass.end_occlusion_query();
        pass.end();
        encoder.resolve_query_set(&set, 0, 2, &resolved, 0);
        device.queue().submit(&[&encoder.finish(None)]);
        let bytes = guests::read_buffer(&device, &resolved, 0, 16).await;
        let visible = u64::from_le_bytes(bytes[0..8].try_into().unwrap());
        let hidden = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
        println!("occlusion: visible passed={} hidden passed={}", visible > 0, hidden > 0);
        set.destroy();

        let timestamps = device.create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Timestamp, count: 2, label: None });
        let expected = device.features().has("timestamp-query");
        println!("timestamp query set matches the feature: {}", timestamps.is_ok() == expected);
        if let Err(e) = timestamps {
            assert!(matches!(e.kind, CreateQuerySetErrorKind::TypeError), "a missing feature is a type error");
        }
        Ok(())
    }
}

guests::export_command!(Command);
