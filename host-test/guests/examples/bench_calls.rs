//! Benchmark: a call-heavy loop. `set-bind-group` and `dispatch-workgroups` N times (default
//! 100,000 each) in compute passes of 1,000, then one submit. Prints the time per call.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let n = guests::arg_u64("--n", 100_000);
        let device = guests::device().await;
        let out = guests::buffer(&device, 4, GpuBufferUsage::STORAGE | GpuBufferUsage::COPY_SRC);
        let code = "@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn main() { o[0] += 1u; }";
        let (pipeline, group) = guests::compute_pipeline(&device, code, &out);
        let start = std::time::Instant::now();
        let encoder = device.create_command_encoder(None);
        let mut left = n;
        while left > 0 {
            let pass = encoder.begin_compute_pass(None);
            pass.set_pipeline(&pipeline);
            for _ in 0..left.min(1000) {
                pass.set_bind_group(0, Some(&group), None, None, None).expect("set-bind-group");
                pass.dispatch_workgroups(1, None, None);
            }
            pass.end();
            left -= left.min(1000);
        }
        let queue = device.queue();
        queue.submit(&[&encoder.finish(None)]);
        let encoded = start.elapsed();
        queue.on_submitted_work_done().await;
        let total = start.elapsed();
        let dispatched = guests::u32s(&guests::read_buffer(&device, &out, 0, 4).await)[0];
        println!("result: dispatches={dispatched}");
        println!("bench calls: {:.1} ns/call encoding, {:.3} ms total", encoded.as_nanos() as f64 / (2 * n) as f64, total.as_secs_f64() * 1e3);
        Ok(())
    }
}

guests::export_command!(Command);
