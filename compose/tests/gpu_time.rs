//! GPU time shared, budgeted and recorded: the pool gives two saturating guests GPU time in
//! proportion to their weights though one's submissions are ten times the other's; a guest over
//! its `max-gpu-share` is held back, even alone; a trace holds each guest's GPU time. (The time
//! limit: `runaway.rs`.) The bounds here are wide, for a loaded 2-core machine; the figures are
//! in docs/gpu-time.md.

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
    let guests = [("a", guest("bench_flood")), ("b", guest("bench_flood_heavy"))];
    for (weights, text, want) in [("1:1", "", 0.5), ("2:1", "[guests.a]\nweight = 2\n", 2.0 / 3.0)] {
        std::fs::write(&config, format!("[pool]\nmax-in-flight = 2\n{text}")).unwrap();
        common::plug_pod(&guests, &["--config", config.to_str().unwrap()], &pod);
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
    common::plug(guest("bench_flood"), &["--max-gpu-share", "25%"], &budgeted);
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

#[test]
fn a_trace_holds_each_guests_gpu_time_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let pod = dir.path().join("pod.wasm");
    let guests = [format!("a={}", guest("compute")), format!("b={}", guest("render"))];
    let out = webgpu_virt()
        .current_dir(dir.path())
        .arg("plug")
        .args(["--guest", &guests[0], "--guest", &guests[1], "--gpu-time", "--record", "pod.wgvt", "-o"])
        .arg(&pod)
        .output()
        .unwrap();
    check(&out, "plug a recorded pod measuring GPU time");
    check(&webgpu_virt().arg("run").arg("--dir").arg(dir.path()).arg(&pod).output().unwrap(), "the recorded pod");
    let trace = dir.path().join("pod.wgvt");
    let svg = dir.path().join("pod.svg");
    let out = webgpu_virt().args(["trace", "stats"]).arg(&trace).arg("--plot").arg(&svg).output().unwrap();
    check(&out, "trace stats");
    let stats = String::from_utf8(out.stdout).unwrap();
    // Each guest's submissions and writes, timed; the whole is the sum of the guests'.
    let timed = |line: &str| -> (f64, u64) {
        let (ms, rest) = line.split_once(" ms in ").unwrap_or_else(|| panic!("{line}"));
        let ms = ms.rsplit(' ').next().unwrap().parse().unwrap();
        (ms, rest.split(' ').next().unwrap().parse().unwrap())
    };
    let whole = stats.lines().find(|l| l.starts_with("gpu time (as the virt measured it): ")).unwrap_or_else(|| panic!("{stats}"));
    let per_guest: Vec<(f64, u64)> = stats.lines().filter(|l| l.starts_with("  gpu time: ")).map(timed).collect();
    assert_eq!(per_guest.len(), 2, "{stats}");
    let (ms, operations) = timed(whole);
    assert!(per_guest.iter().all(|(ms, ops)| *ms > 0.0 && *ops > 0), "{stats}");
    assert_eq!(operations, per_guest.iter().map(|g| g.1).sum::<u64>(), "{stats}");
    assert!((ms - per_guest.iter().map(|g| g.0).sum::<f64>()).abs() < 0.01, "{stats}");
    let dump = String::from_utf8(webgpu_virt().args(["trace", "dump"]).arg(&trace).output().unwrap().stdout).unwrap();
    assert_eq!(dump.lines().filter(|l| l.ends_with(" ms on the GPU")).count() as u64, operations, "{dump}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("GPU time, pod.wgvt"));
    // A measurement, not a result: the trace replays, and verifies, as any other.
    let out = webgpu_virt().arg("replay").arg(&trace).output().unwrap();
    check(&out, "replaying a trace with GPU time");
    assert!(String::from_utf8(out.stdout).unwrap().contains("no divergence"));
}
