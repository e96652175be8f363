//! Uncaptured errors: with no scope open, an error reaches every `on-uncaptured-error` stream;
//! inside a scope it does not.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let mut first = device.on_uncaptured_error();
        let mut second = device.on_uncaptured_error();
        let bad = GpuBufferDescriptor { size: 16, usage: GpuBufferUsage::MAP_WRITE | GpuBufferUsage::UNIFORM, mapped_at_creation: None, label: Some("unscoped".into()) };

        // Caught by a scope: the streams hear nothing of it.
        let (_, scoped) = guests::scoped(&device, GpuErrorFilter::Validation, || device.create_buffer(&bad)).await;
        println!("in a scope: {scoped:?}");

        // Not in a scope: both streams get it.
        device.create_buffer(&bad);
        let a = first.next().await.expect("first stream");
        let b = second.next().await.expect("second stream");
        println!("first stream: {}", guests::describe(&a));
        println!("second stream: {}", guests::describe(&b));
        println!("same message: {}", a.message() == b.message());

        // A second uncaptured error arrives in order.
        device.create_texture(&GpuTextureDescriptor {
            size: guests::extent(0, 0, 1),
            mip_level_count: None,
            sample_count: None,
            dimension: None,
            format: GpuTextureFormat::Rgba8unorm,
            usage: GpuTextureUsage::empty(),
            view_formats: None,
            texture_binding_view_dimension: None,
            label: None,
        });
        let c = first.next().await.expect("first stream again");
        println!("next error: {}", guests::describe(&c));
        Ok(())
    }
}

guests::export_command!(Command);
