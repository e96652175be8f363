//! An application that does not finish, for the recorder: after its device, it makes
//! synchronous calls only, never awaiting again, then ends as asked.
//!
//! - `--panic-after N`: writes a buffer N times, then panics.
//! - `--trap-in-pass`: opens a compute pass, sets its pipeline and bind group, dispatches, and
//!   traps (`unreachable`) with the pass still open.
//! - `--forever`: writes a buffer and submits, again and again, until it is killed.
//!
//! Each line it prints names the calls made so far, so a test can tell which reached the trace.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let device = guests::device().await;
        let queue = device.queue();
        let args: Vec<String> = std::env::args().collect();
        let buffer = guests::buffer(&device, 256, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_DST);
        if args.iter().any(|a| a == "--trap-in-pass") {
            let (pipeline, group, _out) = guests::counter_pipeline(&device, 1);
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
            pass.dispatch_workgroups(1, None, None);
            println!("dispatched in an open pass: trapping");
            core::arch::wasm32::unreachable();
        }
        if args.iter().any(|a| a == "--forever") {
            let (pipeline, group, _out) = guests::counter_pipeline(&device, 1);
            for i in 0u64.. {
                queue.write_buffer_with_copy(&buffer, 0, &i.to_le_bytes(), None, None).expect("write-buffer");
                queue.submit(&[&guests::dispatch(&device, &pipeline, &group, 1)]);
                if i % 1000 == 0 {
                    println!("{i} submissions");
                }
            }
        }
        let n = guests::arg_u64("--panic-after", 10);
        for i in 0..n {
            queue.write_buffer_with_copy(&buffer, 0, &i.to_le_bytes(), None, None).expect("write-buffer");
        }
        println!("{n} writes made: panicking");
        panic!("the application gives up after {n} writes");
    }
}

guests::export_command!(Command);
