//! Benchmark: a data-heavy loop. `write-buffer` of N MiB (default 64) in 1 MiB chunks, then
//! waits for the queue. Prints the time and the rate; checks a sample of what arrived.
use guests::gpu::*;

struct Command;

const MIB: u64 = 1 << 20;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let n = guests::arg_u64("--n", 64);
        let device = guests::device().await;
        let target = guests::buffer(&device, n * MIB, GpuBufferUsage::COPY_DST | GpuBufferUsage::COPY_SRC);
        let chunk: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
        let queue = device.queue();
        let start = std::time::Instant::now();
        for i in 0..n {
            queue.write_buffer_with_copy(&target, i * MIB, &chunk, None, None).expect("write-buffer");
        }
        queue.on_submitted_work_done().await;
        let elapsed = start.elapsed();
        let last = guests::read_buffer(&device, &target, (n - 1) * MIB, 256).await;
        println!("result: last chunk starts {:?}", &last[..8]);
        println!("bench data: {:.3} ms for {n} MiB, {:.2} GiB/s", elapsed.as_secs_f64() * 1e3, n as f64 / 1024.0 / elapsed.as_secs_f64());
        Ok(())
    }
}

guests::export_command!(Command);
