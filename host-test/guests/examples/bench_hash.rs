//! Benchmark: the blob hashes of the trace format over 64 MiB (`--mib`) in 1 MiB chunks (what the
//! recorder hashes for `bench_data`): the hash of format versions 1 and 2, XXH3-128 (version 3)
//! and BLAKE3. Build it as the virt is built (`--profile virt`), with and without
//! `-C target-feature=+simd128`, to see what each costs in Wasm.
use std::time::Instant;

struct Command;

fn time(name: &str, chunks: &[Vec<u8>], hash: impl Fn(&[u8]) -> [u8; 16]) {
    let start = Instant::now();
    let mut fold = 0u8;
    for chunk in chunks {
        fold ^= hash(chunk)[0];
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let mib = chunks.iter().map(Vec::len).sum::<usize>() as f64 / f64::from(1 << 20);
    println!("bench hash-{name}: {ms:.2} ms ({:.0} MiB/s; {fold:02x})", mib / ms * 1e3);
}

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let simd = cfg!(target_feature = "simd128");
        println!("simd128: {}", if simd { "on" } else { "off" });
        // The published XXH3-128 of the empty input, as this build computes it.
        println!("result: XXH3-128 of nothing: {:032x}", u128::from_le_bytes(webgpu_virt_trace::hash::hash128(b"")));
        let mib = guests::arg_u64("--mib", 64) as u32;
        let chunks: Vec<Vec<u8>> = (0..mib).map(|c| (0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) ^ c) as u8).collect()).collect();
        time("legacy", &chunks, webgpu_virt_trace::hash::legacy128);
        time("xxh3", &chunks, webgpu_virt_trace::hash::hash128);
        time("blake3", &chunks, |d| blake3::hash(d).as_bytes()[..16].try_into().unwrap());
        Ok(())
    }
}

guests::export_command!(Command);
