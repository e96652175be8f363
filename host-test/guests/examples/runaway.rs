//! A runaway guest: a compute shader of two nested loops whose bounds come from a storage buffer
//! holding `u32::MAX`. One invocation never ends on a GPU without a watchdog; Mesa's llvmpipe
//! cuts every loop after a fixed count, so there `--wide` (65535 workgroups of 64) makes the
//! dispatch run for hours (`--workgroups N`: N workgroups, for work that ends after a while).
//! `--dispatches N` makes N such dispatches in one pass, `--submissions N` N such submissions:
//! the same work, in pieces; `--indirect` makes them indirect dispatches.
//! It submits the dispatch and returns without waiting for it, unless `--wait` (then it waits
//! for the work and says when the wait ended; with `--lost`, it then waits for its device's
//! loss and prints it).
use guests::gpu::*;

const SHADER: &str = "
@group(0) @binding(0) var<storage, read_write> data: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var acc = id.x;
    for (var i = 0u; i < data[0]; i++) {
        for (var j = 0u; j < data[1]; j++) {
            acc = acc * 1664525u + 1013904223u + j;
        }
    }
    data[2u + id.x % 64u] = acc;
}
";

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().collect();
        let wide = args.iter().any(|a| a == "--wide");
        let workgroups = match args.iter().position(|a| a == "--workgroups") {
            Some(i) => args[i + 1].parse().expect("--workgroups N"),
            None if wide => 65535,
            None => 1,
        };
        let device = guests::device().await;
        let mut bounds = vec![0u8; 66 * 4];
        bounds[..8].fill(0xff);
        let data = guests::buffer_with(&device, GpuBufferUsage::STORAGE, &bounds);
        let (pipeline, group) = guests::compute_pipeline(&device, SHADER, &data);
        let count = |name: &str| args.iter().position(|a| a == name).map_or(1, |i| args[i + 1].parse::<u32>().expect("a count"));
        let (dispatches, submissions) = (count("--dispatches"), count("--submissions"));
        let indirect = args.iter().any(|a| a == "--indirect").then(|| guests::buffer_with(&device, GpuBufferUsage::INDIRECT, &guests::bytes_of(&[workgroups, 1, 1])));
        for _ in 0..submissions {
            let encoder = device.create_command_encoder(None);
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
            for _ in 0..dispatches {
                match &indirect {
                    Some(args) => pass.dispatch_workgroups_indirect(args, 0),
                    None => pass.dispatch_workgroups(workgroups, None, None),
                }
            }
            pass.end();
            device.queue().submit(&[&encoder.finish(None)]);
        }
        println!("submitted a runaway dispatch");
        if args.iter().any(|a| a == "--wait") {
            let lost = device.lost();
            device.queue().on_submitted_work_done().await;
            println!("the wait for the work ended");
            if args.iter().any(|a| a == "--lost") {
                let info = lost.await;
                println!("the device was lost ({:?}): {}", info.reason(), info.message());
            }
        }
        Ok(())
    }
}

guests::export_command!(Command);
