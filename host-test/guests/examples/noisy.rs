//! A noisy neighbour, for pods: it floods validation errors with no scope open and no one
//! listening, allocates 1 MiB buffers until the quota refuses one (at most 64), floods
//! submissions without waiting, destroys its device, and, given `--trap`, traps last.
use guests::gpu::*;

struct Command;

const MIB: u64 = 1 << 20;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let bad = GpuBufferDescriptor { size: 16, usage: GpuBufferUsage::MAP_WRITE | GpuBufferUsage::UNIFORM, mapped_at_creation: None, label: None };
        for _ in 0..200 {
            device.create_buffer(&bad);
        }

        let mut held = Vec::new();
        let refused = loop {
            device.push_error_scope(GpuErrorFilter::OutOfMemory);
            let buffer = guests::buffer(&device, MIB, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_DST);
            if device.pop_error_scope().await.expect("a scope was pushed").is_some() {
                break true;
            }
            held.push(buffer);
            if held.len() == 64 {
                break false;
            }
        };
        println!("noisy: allocated {} MiB, refused: {refused}", held.len());

        let queue = device.queue();
        for (i, buffer) in held.iter().cycle().take(256).enumerate() {
            let encoder = device.create_command_encoder(None);
            encoder.clear_buffer(buffer, None, None);
            queue.submit(&[&encoder.finish(None)]);
            queue.write_buffer_with_copy(buffer, 0, &(i as u32).to_le_bytes(), None, None).expect("write-buffer");
        }

        device.destroy();
        println!("noisy: lost, reason {:?}", device.lost().await.reason());
        if std::env::args().any(|a| a == "--trap") {
            // What a guest's bug looks like to its pod: a trap.
            core::arch::wasm32::unreachable();
        }
        Ok(())
    }
}

guests::export_command!(Command);
