//! Benchmark: the cheapest call there is, `gpu-buffer.size`, N times (default 100,000): the cost
//! of a call crossing into the runtime, or through the virt as well.
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let n = guests::arg_u64("--n", 100_000);
        let device = guests::device().await;
        let buffer = guests::buffer(&device, 256, GpuBufferUsage::COPY_DST);
        let start = std::time::Instant::now();
        let mut sum = 0u64;
        for _ in 0..n {
            sum += buffer.size();
        }
        let elapsed = start.elapsed();
        println!("result: sum={sum}");
        println!("bench trivial: {:.1} ns/call", elapsed.as_nanos() as f64 / n as f64);
        Ok(())
    }
}

guests::export_command!(Command);
