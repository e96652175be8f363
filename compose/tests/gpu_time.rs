//! GPU time shared and budgeted: the pool gives two saturating guests GPU time in proportion to
//! their weights though one's submissions are ten times the other's, and a guest over its
//! `max-gpu-share` is held back, even alone. (The time limit: `runaway.rs`.) The bounds here are
//! wide, for a loaded 2-core machine; the figures are in docs/benchmarks.md.

mod common;

use common::{check, guest, output_within, stat, webgpu_virt};

/// guest's GPU time, in microseconds, from `run --stats`.
fn gpu_us(stderr: &str, guest: &str) -> f64 {
    let name = if guest.is_empty() { "gpu-time gpu time us".to_string() } else { format!("gpu-time {guest} gpu time us") };
    stat(stderr, &name) as f64
}

#[test]
fn the_pool_shares_gpu_time_by_weight_whatever_the_size_of_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pod.toml");
    let pod = dir.path().join("pod.wasm");
    let guests = [format!("a={}", guest("bench_flood")), format!("b={}", guest("bench_flood_heavy"))];
    for (weights, text, want) in [("1:1", "", 0.5), ("2:1", "[guests.a]\nweight = 2\n", 2.0 / 3.0)] {
        std::fs::write(&config, format!("[pool]\nmax-in-flight = 2\n{text}")).unwrap();
        let out = webgpu_virt()
            .arg("plug")
            .args(["--guest", &guests[0], "--guest", &guests[1], "--config"])
            .arg(&config)
            .arg("-o")
            .arg(&pod)
            .output()
            .unwrap();
        check(&out, "plug two flooders");
        let out = output_within(webgpu_virt().args(["run", "--stats"]).arg(&pod).args(["--ms", "2500"]), 120);
        check(&out, "two flooders, one ten times heavier");
        let stderr = String::from_utf8(out.stderr).unwrap();
        // While both had work: the heavy guest's last submissions run alone at the end.
        let contended = |guest: &str| stat(&stderr, &format!("quota pool {guest} gpu time us while contended")) as f64;
        let (a, b) = (contended("a"), contended("b"));
        let share = a / (a + b);
        eprintln!(
            "weights {weights}: guest a's share of the GPU time while both had work {share:.3} (a {a} us, b {b} us; in all a {} us, b {} us)",
            gpu_us(&stderr, "a"),
            gpu_us(&stderr, "b")
        );
        // Shares of submissions would give the light guest a tenth of the heavy one's time.
        assert!((share - want).abs() < 0.12, "weights {weights}: a's share {share:.3}, want {want:.3}\n{stderr}");
    }
}

#[test]
fn a_guest_over_its_gpu_share_is_held_back_even_alone() {
    let dir = tempfile::tempdir().unwrap();
    let budgeted = dir.path().join("flood.budgeted.wasm");
    let out = webgpu_virt().arg("plug").arg(guest("bench_flood")).args(["--max-gpu-share", "25%", "-o"]).arg(&budgeted).output().unwrap();
    check(&out, "plug a flooder with a GPU budget");
    let started = std::time::Instant::now();
    let out = output_within(webgpu_virt().args(["run", "--stats"]).arg(&budgeted).args(["--ms", "1000", "--work", "1024"]), 120);
    let wall = started.elapsed().as_secs_f64();
    check(&out, "a flooder over its GPU budget");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let used = gpu_us(&stderr, "") / 1e6;
    eprintln!("a flooder under a 25% budget: {used:.3} s of GPU time in {wall:.3} s");
    assert!(stat(&stderr, "gpu-time held for max-gpu-share") > 0, "{stderr}");
    // Its share of the run, plus its share of one window (1 s), plus what was in flight when
    // it ran dry.
    assert!(used <= 0.25 * wall + 0.25 + 0.3, "{used:.3} s of GPU time in {wall:.3} s\n{stderr}");
}
