//! Tries every way past a 1 MiB memory quota (run through `webgpu-virt plug --max-memory 1MiB`):
//! one huge buffer, exactly the quota, many small buffers, mapped-at-creation, textures with
//! mips, array layers, 3D depth, MSAA and compressed formats, query sets, re-creating after
//! destroy and after a drop, a second device and destroying the first. Prints what each attempt
//! met: an out-of-memory error, or none.
use guests::gpu::*;

struct Command;

const MIB: u64 = 1 << 20;

/// What an out-of-memory scope around `f` caught.
async fn oom<R>(device: &GpuDevice, f: impl FnOnce() -> R) -> (R, String) {
    let (r, e) = guests::scoped(device, GpuErrorFilter::OutOfMemory, f).await;
    (r, e.unwrap_or_else(|| "no error".into()))
}

fn buffer(device: &GpuDevice, size: u64) -> GpuBuffer {
    guests::buffer(device, size, GpuBufferUsage::COPY_DST)
}

fn texture(device: &GpuDevice, size: [u32; 3], dimension: GpuTextureDimension, format: GpuTextureFormat, mips: u32, samples: u32) -> GpuTexture {
    let depth = matches!(format, GpuTextureFormat::Depth24plusStencil8 | GpuTextureFormat::Depth32float);
    let usage = if samples > 1 || depth { GpuTextureUsage::RENDER_ATTACHMENT } else { GpuTextureUsage::COPY_DST };
    device.create_texture(&GpuTextureDescriptor {
        size: guests::extent(size[0], size[1], size[2]),
        mip_level_count: Some(mips),
        sample_count: Some(samples),
        dimension: Some(dimension),
        format,
        usage,
        view_formats: None,
        texture_binding_view_dimension: None,
        label: None,
    })
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let queue = device.queue();

        // One buffer a byte over: refused, yet an object that answers what was asked for and
        // whose use is a validation error.
        let (over, e) = oom(&device, || buffer(&device, MIB + 1)).await;
        println!("buffer of 1 MiB + 1: {e}; its size: {}", over.size());
        let (_, e) = guests::caught(&device, || queue.write_buffer_with_copy(&over, 0, &[0; 4], None, None)).await;
        println!("writing to it: {e}");
        drop(over);

        // Exactly the quota, then a byte more, then again after destroy.
        let (full, e) = oom(&device, || buffer(&device, MIB)).await;
        println!("buffer of 1 MiB: {e}");
        let (_, e) = oom(&device, || buffer(&device, 4)).await;
        println!("4 bytes more: {e}");
        full.destroy();
        let (small, e) = oom(&device, || buffer(&device, 4)).await;
        println!("4 bytes after destroying it: {e}");
        drop((full, small));

        // Many small buffers: 256 of 4 KiB fill the quota; dropping one (no destroy) frees it.
        let mut many = Vec::new();
        let mut refused = 0;
        for _ in 0..257 {
            let (b, e) = oom(&device, || buffer(&device, 4096)).await;
            refused += usize::from(e != "no error");
            many.push(b);
        }
        println!("257 buffers of 4 KiB: {refused} refused");
        many.truncate(255);
        let (last, e) = oom(&device, || buffer(&device, 4096)).await;
        println!("one more after dropping two (one refused): {e}");
        drop((many, last));

        // Mapped at creation.
        let mapped = |size| GpuBufferDescriptor { size, usage: GpuBufferUsage::MAP_WRITE, mapped_at_creation: Some(true), label: None };
        let (refused, e) = oom(&device, || device.create_buffer(&mapped(MIB + 4))).await;
        println!("mapped-at-creation 1 MiB + 4: {e}");
        // Mapped even when refused (WebGPU maps an invalid buffer at creation): its range works
        // until unmap.
        let written = refused.get_mapped_range_set_with_copy(&[7; 16], Some(8), None).is_ok();
        let read = refused.get_mapped_range_get_with_copy(Some(8), Some(24)).map(|d| d[..16] == [7; 16] && d[16..] == [0; 8]);
        let unmapped = refused.unmap().is_ok();
        println!("mapped-at-creation 1 MiB + 4, its range: written {written}, read back {read:?}, unmapped {unmapped}");
        drop(refused);
        let (b, e) = oom(&device, || device.create_buffer(&mapped(MIB))).await;
        b.get_mapped_range_set_with_copy(&[7; 16], None, None).expect("write the mapped range");
        b.unmap().expect("unmap");
        println!("mapped-at-creation 1 MiB: {e}");
        drop(b);

        // Textures: exact sizes by format, mips, layers, depth and samples.
        use GpuTextureDimension::{D2, D3};
        use GpuTextureFormat::*;
        for (what, size, dim, format, mips, samples) in [
            ("512x512 rgba8unorm", [512, 512, 1], D2, Rgba8unorm, 1, 1),
            ("512x512 rgba8unorm, 2 mips", [512, 512, 1], D2, Rgba8unorm, 2, 1),
            ("256x256 rgba8unorm, 4 samples", [256, 256, 1], D2, Rgba8unorm, 1, 4),
            ("256x256 rgba8unorm, 4 samples + 1 row", [256, 257, 1], D2, Rgba8unorm, 1, 4),
            ("64x64x200 r8unorm 3D, 7 mips", [64, 64, 200], D3, R8unorm, 7, 1),
            ("64x64 r8unorm, 200 layers, 7 mips", [64, 64, 200], D2, R8unorm, 7, 1),
            ("512x512 rg16float", [512, 512, 1], D2, Rg16float, 1, 1),
            ("512x512 rgba16float", [512, 512, 1], D2, Rgba16float, 1, 1),
            ("512x410 depth24plus-stencil8", [512, 410, 1], D2, Depth24plusStencil8, 1, 1),
            ("512x512 depth32float", [512, 512, 1], D2, Depth32float, 1, 1),
        ] {
            let (t, e) = oom(&device, || texture(&device, size, dim, format, mips, samples)).await;
            println!("texture {what}: {e}");
            if e != "no error" {
                let got = [t.width(), t.height(), t.depth_or_array_layers(), t.mip_level_count(), t.sample_count()];
                println!("  it answers {got:?}");
            }
            t.destroy();
        }
        // Compressed: by block. The device may lack the feature (then a validation error too,
        // not printed): the quota is checked first.
        for (what, format, width, height) in [
            ("etc2-rgb8unorm 2048x1032", Etc2Rgb8unorm, 2048, 1032),
            ("bc7-rgba-unorm 1024x1028", Bc7RgbaUnorm, 1024, 1028),
            ("astc12x12-unorm 3072x3084", Astc12x12Unorm, 3072, 3084),
        ] {
            device.push_error_scope(GpuErrorFilter::Validation);
            let (t, e) = oom(&device, || texture(&device, [width, height, 1], D2, format, 1, 1)).await;
            let _ = device.pop_error_scope().await;
            println!("texture {what}: {e}");
            drop(t);
        }

        // Query sets at 8 bytes a query.
        let (filler, _) = oom(&device, || buffer(&device, MIB - 16384)).await;
        let query_set = |count| device.create_query_set(&GpuQuerySetDescriptor { type_: GpuQueryType::Occlusion, count, label: None });
        let (q, e) = oom(&device, || query_set(4096).expect("create-query-set")).await;
        println!("query set of 4096 with 16 KiB left: {e}; its count: {}", q.count());
        let (_, e) = oom(&device, || query_set(2048).expect("create-query-set")).await;
        println!("query set of 2048: {e}");
        drop((filler, q));

        // A second device shares the quota; destroying the first gives its memory back.
        let second = guests::device().await;
        let (on_first, e) = oom(&device, || buffer(&device, MIB)).await;
        println!("1 MiB on the first device: {e}");
        let (_, e) = oom(&second, || buffer(&second, 4)).await;
        println!("4 bytes on a second device: {e}");
        device.destroy();
        let (kept, e) = oom(&second, || buffer(&second, MIB)).await;
        println!("1 MiB on the second after destroying the first: {e}");
        // What is made on a destroyed device is invalid and takes nothing: not refused, not charged.
        let (_, e) = oom(&device, || buffer(&device, MIB)).await;
        println!("1 MiB on the destroyed first device, the quota full: {e}");

        // With no scope, the error goes to the uncaptured-error stream, before the validation
        // error that follows it (which ends the wait when there is no quota).
        let mut uncaptured = second.on_uncaptured_error();
        let _ = buffer(&second, 4);
        let dead = buffer(&second, 4);
        dead.destroy();
        let _ = second.queue().write_buffer_with_copy(&dead, 0, &[0; 4], None, None);
        let error = uncaptured.next().await.expect("an uncaptured error");
        println!("4 bytes more with no scope: uncaptured {} first", guests::describe(&error));
        // The first device's buffer was released with its device: dropping it now must not
        // release it again (the whole quota would then not fit).
        drop(on_first);
        drop(kept);
        let (_, e) = oom(&second, || buffer(&second, MIB)).await;
        println!("1 MiB again after dropping both: {e}");
        Ok(())
    }
}

guests::export_command!(Command);
