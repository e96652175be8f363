//! Benchmark floor: `webgpu-virt:worlds/hop`'s calls with nothing to do, N times each (default
//! 100,000): a plain call, and a method of a host object carrying a handle to another; then
//! `--mib` MiB (default 64) passed in 1 MiB chunks. Run direct on the host and through
//! `bench_hop_forwarder`, it measures one bare component hop.
wit_bindgen::generate!({
    path: "../../wit",
    world: "webgpu-virt:worlds/hop-command",
    generate_all,
});

use webgpu_virt::worlds::hop;

struct Command;

/// The number after `flag` on the command line, or `default`.
fn arg(flag: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == flag).map_or(default, |i| args[i + 1].parse().expect("a number"))
}

impl exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let n = arg("--n", 100_000);
        let mib = arg("--mib", 64);
        let start = std::time::Instant::now();
        let mut sum = 0u64;
        for _ in 0..n {
            sum += hop::trivial();
        }
        let calls = start.elapsed();
        let (a, b) = (hop::Thing::new(), hop::Thing::new());
        let start = std::time::Instant::now();
        for _ in 0..n {
            sum += a.poke(Some(&b));
        }
        let methods = start.elapsed();
        let chunk: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
        let start = std::time::Instant::now();
        let mut bytes = 0u64;
        for _ in 0..mib {
            bytes += hop::bytes(&chunk);
        }
        let data = start.elapsed();
        println!("result: sum={sum} bytes={bytes}");
        println!("bench hop: {:.1} ns/call", calls.as_nanos() as f64 / n as f64);
        println!("bench hop-method: {:.1} ns/call", methods.as_nanos() as f64 / n as f64);
        println!("bench hop-data: {:.3} ms", data.as_secs_f64() * 1e3);
        Ok(())
    }
}

export!(Command);
