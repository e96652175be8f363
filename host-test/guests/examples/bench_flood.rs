//! Benchmark, for pods: a flooding guest. For `--ms T` milliseconds (default 3000) it submits
//! heavy dispatches (`--work N` loop iterations an invocation, default 4096) in bursts of
//! `--burst B` (default 32) without waiting for them, yielding between bursts and waiting for its
//! queue only every 256 submissions. Prints how many submissions it made, and how long a burst's
//! calls took on average (the time no other guest of its pod can run: they share one thread).
use guests::gpu::*;

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let ms = guests::arg_u64("--ms", 3000);
        let work = guests::arg_u64("--work", 4096) as u32;
        let burst = guests::arg_u64("--burst", 32).clamp(1, 256);
        let device = guests::device().await;
        let (pipeline, group, out) = guests::counter_pipeline(&device, work);
        let queue = device.queue();
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        let (mut submitted, mut bursts, mut busy) = (0u64, 0u32, std::time::Duration::ZERO);
        while std::time::Instant::now() < deadline {
            let start = std::time::Instant::now();
            for _ in 0..burst {
                queue.submit(&[&guests::dispatch(&device, &pipeline, &group, 64)]);
                submitted += 1;
            }
            busy += start.elapsed();
            bursts += 1;
            if submitted / 256 > (submitted - burst) / 256 {
                queue.on_submitted_work_done().await;
            } else {
                wit_bindgen::yield_async().await;
            }
        }
        queue.on_submitted_work_done().await;
        let counted = guests::u32s(&guests::read_buffer(&device, &out, 0, 4).await)[0];
        println!("result: flood dispatched={}", counted > 0);
        println!("bench flood: {submitted} submissions");
        println!("bench flood-burst: {:.0} us", busy.as_secs_f64() * 1e6 / f64::from(bursts.max(1)));
        Ok(())
    }
}

guests::export_command!(Command);
