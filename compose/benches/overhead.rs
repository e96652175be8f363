//! Direct vs through the virt, as ratios in one run.
//!
//! Each benchmark is a guest component that times its own work (so compiling and starting it
//! are not counted) and prints a `bench NAME: VALUE UNIT ...` line. Every guest runs direct on
//! the host and composed with the virt, alternately, `BENCH_REPEAT` times (default 5); the
//! medians and their ratio are printed as a Markdown table.
//!
//! The trivial call (`gpu-buffer.size`) measures the cost of the hop itself: the virt forwards
//! it with nothing else to do, so its extra time over direct is the floor any interposer pays.
//!
//! `WEBGPU_VIRT_BIN` and `WEBGPU_VIRT_GUESTS` (a folder of guest `.wasm` files) override the
//! paths built in, to run the same benchmarks on another machine.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Bench {
    guest: &'static str,
    what: &'static str,
    args: &'static [&'static str],
}

const BENCHES: &[Bench] = &[
    Bench { guest: "bench_trivial", what: "trivial call (buffer.size), ns/call", args: &[] },
    Bench { guest: "bench_calls", what: "call-heavy: 100k set-bind-group + 100k dispatch, ns/call", args: &[] },
    Bench { guest: "bench_data", what: "data-heavy: write-buffer 64 MiB in 1 MiB chunks, ms", args: &[] },
    Bench { guest: "bench_matmul", what: "1024x1024 f32 tiled matmul, ms (median of 5)", args: &[] },
];

fn guest_path(name: &str) -> PathBuf {
    match std::env::var_os("WEBGPU_VIRT_GUESTS") {
        Some(dir) => Path::new(&dir).join(format!("{name}.wasm")),
        None => {
            let (_, path) = host_test::guests::ALL.iter().find(|(n, _)| *n == name).expect("a built guest");
            PathBuf::from(path)
        }
    }
}

/// The first number of the guest's `bench` line.
fn measure(bin: &Path, component: &Path, args: &[&str]) -> f64 {
    let out = Command::new(bin).arg("run").arg(component).args(args).output().expect("running webgpu-virt");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {}", component.display(), String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("bench ")).expect("a bench line");
    let value = line.split(':').nth(1).and_then(|v| v.split_whitespace().next()).expect("a value");
    value.parse().unwrap_or_else(|_| panic!("not a number in `{line}`"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let bin = std::env::var_os("WEBGPU_VIRT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_webgpu-virt")));
    let repeat: usize = std::env::var("BENCH_REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let adapter = Command::new(&bin).arg("adapter").output().expect("webgpu-virt adapter");
    println!("adapter: {}", String::from_utf8_lossy(&adapter.stdout).trim());
    let dir = std::env::temp_dir().join(format!("webgpu-virt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    println!("\n| benchmark | direct | through the virt | ratio |\n|---|---|---|---|");
    let mut floor = None;
    for b in BENCHES {
        let app = guest_path(b.guest);
        let composed = dir.join(format!("{}.virt.wasm", b.guest));
        let bytes = std::fs::read(&app).unwrap_or_else(|e| panic!("reading {}: {e}", app.display()));
        std::fs::write(&composed, webgpu_virt::plug(&bytes, webgpu_virt::VIRT).expect("plug")).unwrap();
        let (mut direct, mut virt) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            direct.push(measure(&bin, &app, b.args));
            virt.push(measure(&bin, &composed, b.args));
        }
        let (d, v) = (median(direct), median(virt));
        println!("| {} | {d:.2} | {v:.2} | {:.3} |", b.what, v / d);
        if b.guest == "bench_trivial" {
            floor = Some(v - d);
        }
        if b.guest == "bench_calls"
            && let Some(floor) = floor
        {
            println!("| call-heavy: extra ns/call over direct, vs the trivial call's ({floor:.1} ns) | | {:.1} | {:.3} |", v - d, (v - d) / floor);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
