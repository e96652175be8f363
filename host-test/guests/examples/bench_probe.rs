//! Benchmark, for pods: a latency probe. `--probes N` times (default 50) it submits one small
//! dispatch, waits for `on-submitted-work-done` and times it. Prints the median and the 99th
//! percentile of submit-to-done.

struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let probes = guests::arg_u64("--probes", 50) as usize;
        let device = guests::device().await;
        let (pipeline, group, out) = guests::counter_pipeline(&device, 1);
        let queue = device.queue();
        let mut latencies = Vec::with_capacity(probes);
        for _ in 0..probes {
            let start = std::time::Instant::now();
            queue.submit(&[&guests::dispatch(&device, &pipeline, &group, 1)]);
            queue.on_submitted_work_done().await;
            latencies.push(start.elapsed().as_secs_f64() * 1e6);
            // Others run between probes.
            wit_bindgen::yield_async().await;
        }
        let done = guests::u32s(&guests::read_buffer(&device, &out, 0, 4).await)[0];
        println!("result: probes={done}");
        latencies.sort_by(f64::total_cmp);
        let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
        println!("bench probe-p50: {:.0} us", at(0.5));
        println!("bench probe-p99: {:.0} us", at(0.99));
        Ok(())
    }
}

guests::export_command!(Command);
