//! Direct vs through the virt, as ratios in one run, against the floor of a bare component hop.
//!
//! Each benchmark is a guest component that times its own work (so compiling and starting it
//! are not counted) and prints `bench NAME: VALUE UNIT` lines. Every guest runs direct on the
//! host, through the pass-through virt, and through virts with the `noop` policy, the call
//! counter, a quota on memory, objects and submissions in flight that every benchmark fits in,
//! and the recorder (writing its trace into a preopened directory; each call handed over before
//! it returns, and `record-batched`), alternately, `BENCH_REPEAT` times (default 5); the medians are printed as a Markdown table, then the size of each trace
//! against the measure the format aims at: the data the calls carried plus 32 bytes a call, and
//! last how long replaying each trace (`webgpu-virt replay`, verifying) takes against the
//! original run direct on the host, each as the wall time of the whole process (start-up,
//! compiling the component, the device, the work).
//!
//! The floor: `bench_hop` calls `webgpu-virt:worlds/hop` (a host function with nothing to do, a
//! method of a host object carrying a handle, and a function taking a `list<u8>`) direct and
//! through `bench_hop_forwarder`, a hand-written component that only forwards (wrapping the
//! object as the virt wraps every resource). Its extra time is what one component hop costs on
//! this runtime; the "virt extra / hop extra" column compares the virt's own extra time with the
//! hop of the same shape: the trivial call with the plain call, the call-heavy loop (methods
//! carrying handles) with the method, the data with the bytes.
//!
//! Pods come last: each benchmark guest alone in a pod, beside a neighbour sharing its host
//! device (every call's errors attributed by the virt), and beside it with a device per guest,
//! against the plain virt. `BENCH_ONLY=pods` runs only those; `BENCH_ONLY=data,infer` (the
//! benchmarks' `bench` lines) only the benchmarks named, without pods.
//!
//! `WEBGPU_VIRT_BIN` and `WEBGPU_VIRT_GUESTS` (a folder of guest `.wasm` files) override the
//! paths built in, to run the same benchmarks on another machine.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Bench {
    guest: &'static str,
    /// The `bench` line to read.
    line: &'static str,
    what: &'static str,
    /// The `bench_hop` line whose extra time is this benchmark's floor.
    floor: Option<&'static str>,
    /// The environment variable holding the guest's arguments, if it takes any.
    args: Option<&'static str>,
}

impl Bench {
    fn args(&self) -> Vec<String> {
        self.args.and_then(|var| std::env::var(var).ok()).map(|a| a.split_whitespace().map(String::from).collect()).unwrap_or_default()
    }
}

const BENCHES: &[Bench] = &[
    Bench { guest: "bench_trivial", line: "trivial", what: "trivial call (buffer.size), ns/call", floor: Some("hop"), args: None },
    Bench {
        guest: "bench_calls",
        line: "calls",
        what: "call-heavy: 100k set-bind-group + 100k dispatch, ns/call",
        floor: Some("hop-method"),
        args: None,
    },
    Bench { guest: "bench_data", line: "data", what: "data-heavy: write-buffer 64 MiB in 1 MiB chunks, ms", floor: Some("hop-data"), args: None },
    Bench { guest: "bench_matmul", line: "matmul", what: "1024x1024 f32 tiled matmul, ms (median of 5)", floor: None, args: None },
    // Its size: `BENCH_INFER_ARGS` (for example `--hidden 1024 --layers 16 --batch 512` on a GPU).
    Bench {
        guest: "bench_infer",
        line: "infer",
        what: "inference-like: dense layers, upload and read-back every step, ms a step",
        floor: None,
        args: Some("BENCH_INFER_ARGS"),
    },
];

fn guest_path(name: &str) -> PathBuf {
    match std::env::var_os("WEBGPU_VIRT_GUESTS") {
        Some(dir) => Path::new(&dir).join(format!("{name}.wasm")),
        None => PathBuf::from(common::guest(name)),
    }
}

/// The first number of each of the guest's `bench NAME:` lines, by NAME, run with `args`.
/// `dir` is preopened (the recording virt writes its trace there).
fn measure_args(bin: &Path, component: &Path, dir: &Path, args: &[&str]) -> HashMap<String, f64> {
    let out = Command::new(bin).arg("run").arg("--dir").arg(dir).arg(component).args(args).output().expect("running webgpu-virt");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {}", component.display(), String::from_utf8_lossy(&out.stderr));
    let mut values = HashMap::new();
    for line in stdout.lines().filter_map(|l| l.strip_prefix("bench ")) {
        let (name, rest) = line.split_once(':').expect("`bench NAME: VALUE`");
        let value = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        values.insert(name.to_string(), value.unwrap_or_else(|| panic!("not a number in `{line}`")));
    }
    values
}

/// Seconds `command` takes to run to a clean exit.
fn wall(command: &mut Command) -> f64 {
    let start = std::time::Instant::now();
    let out = command.output().expect("running webgpu-virt");
    let seconds = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{command:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    seconds
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs each component `repeat` times with `args`, alternating; the median of each bench
/// line of each.
fn medians(bin: &Path, components: &[&Path], repeat: usize, dir: &Path, args: &[String]) -> Vec<HashMap<String, f64>> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut runs: Vec<Vec<HashMap<String, f64>>> = vec![Vec::new(); components.len()];
    for _ in 0..repeat {
        for (c, runs) in components.iter().zip(&mut runs) {
            runs.push(measure_args(bin, c, dir, &args));
        }
    }
    runs.into_iter()
        .map(|runs| {
            let names = runs[0].keys().cloned().collect::<Vec<_>>();
            names.into_iter().map(|n| (n.clone(), median(runs.iter().map(|r| r[&n]).collect()))).collect()
        })
        .collect()
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
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    if std::env::var("BENCH_ONLY").as_deref() == Ok("pods") {
        pods(&bin, repeat, &dir);
        fairness(&bin, repeat, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // The floor.
    let hop = guest_path("bench_hop");
    let forwarded = dir.join("bench_hop.forwarded.wasm");
    std::fs::write(&forwarded, common::wac_plug_any(&read(&hop), &read(&guest_path("bench_hop_forwarder")))).unwrap();
    let [hop_direct, hop_forwarded] = <[_; 2]>::try_from(medians(&bin, &[&hop, &forwarded], repeat, &dir, &[])).unwrap();
    let hop_extra = |line: &str| hop_forwarded[line] - hop_direct[line];
    println!("\n| floor: bare component hop | direct | through a bare forwarder | extra |\n|---|---|---|---|");
    println!("| trivial call, ns/call | {:.1} | {:.1} | {:.1} |", hop_direct["hop"], hop_forwarded["hop"], hop_extra("hop"));
    println!(
        "| method call carrying a handle, ns/call | {:.1} | {:.1} | {:.1} |",
        hop_direct["hop-method"],
        hop_forwarded["hop-method"],
        hop_extra("hop-method")
    );
    println!("| 64 MiB in 1 MiB chunks, ms | {:.2} | {:.2} | {:.2} |", hop_direct["hop-data"], hop_forwarded["hop-data"], hop_extra("hop-data"));

    // The virt as built (no policy: the chain is off), and with a policy that does nothing and
    // with the call counter: what the chain and a real policy cost.
    let virts = [
        ("virt", webgpu_virt::VIRT.to_vec()),
        ("noop", webgpu_virt::configure(webgpu_virt::VIRT, &webgpu_virt::Config { noop: true, ..Default::default() }).unwrap()),
        ("count", webgpu_virt::configure(webgpu_virt::VIRT, &webgpu_virt::Config { count_calls: true, ..Default::default() }).unwrap()),
        // A quota every benchmark fits in (memory, object counts, submissions in flight): what
        // the bookkeeping costs, with nothing refused or held back.
        ("quota", webgpu_virt::configure(webgpu_virt::VIRT, &roomy_quota()).unwrap()),
        // Recording every call to a file in the preopened directory.
        ("record", webgpu_virt::configure(webgpu_virt::VIRT_RECORD, &recording()).unwrap()),
        // The same, handing records over in batches.
        ("batched", webgpu_virt::configure(webgpu_virt::VIRT_RECORD, &webgpu_virt::Config { record_batched: true, ..recording() }).unwrap()),
    ];
    println!(
        "\n| benchmark | direct | virt | virt / direct | virt extra / hop extra | + noop policy / virt | + count-calls / virt | + quota / virt | + record / virt | + record batched / virt |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut sizes = Vec::new();
    let mut replays = Vec::new();
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY").ok().map(|o| o.split(',').map(String::from).collect());
    for b in BENCHES.iter().filter(|b| only.as_ref().is_none_or(|o| o.iter().any(|n| n == b.line))) {
        let app = guest_path(b.guest);
        let bytes = read(&app);
        let mut components = vec![app.clone()];
        for (name, virt) in &virts {
            let composed = dir.join(format!("{}.{name}.wasm", b.guest));
            std::fs::write(&composed, webgpu_virt::plug(&bytes, virt).expect("plug")).unwrap();
            components.push(composed);
        }
        let m = medians(&bin, &components.iter().map(PathBuf::as_path).collect::<Vec<_>>(), repeat, &dir, &b.args());
        let [d, v, noop, count, quota, record, batched] = [0, 1, 2, 3, 4, 5, 6].map(|i| m[i][b.line]);
        let vs_floor = b.floor.map_or("".into(), |f| format!("{:.2} ({:.1} / {:.1})", (v - d) / hop_extra(f), v - d, hop_extra(f)));
        println!(
            "| {} | {d:.2} | {v:.2} | {:.3} | {vs_floor} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            b.what,
            v / d,
            noop / v,
            count / v,
            quota / v,
            record / v,
            batched / v
        );
        // The trace of the last recorded run, kept for the replay's timing.
        let kept = dir.join(format!("{}.wgvt", b.guest));
        std::fs::rename(dir.join(TRACE), &kept).unwrap();
        replays.push((b, app, kept.clone()));
        let trace = read(&kept);
        let t = webgpu_virt::trace::decode(&webgpu_virt::trace::Catalog::built_in(), &trace).expect("the benchmark's trace reads back");
        let calls: u64 = t.calls.values().sum();
        let budget = t.data_bytes + 32 * calls;
        sizes.push(format!(
            "| {} | {calls} | {} | {} | {} | {:.3} |",
            b.guest,
            t.data_bytes,
            t.blobs.iter().map(|(len, _)| len).sum::<usize>(),
            t.bytes,
            t.bytes as f64 / budget as f64
        ));
    }
    println!("\n| trace of | calls | data carried, bytes | blobs, bytes | trace, bytes | trace / (data + 32 x calls) |\n|---|---|---|---|---|---|");
    for line in sizes {
        println!("{line}");
    }

    // Replay against the original run, whole processes, alternately; replay loads the replayer
    // compiled from its cache (a cache of this run's own), or compiles it (`--no-cache`).
    let cache = dir.join("cache");
    println!("\n| replay of | original run (direct), s | replay, s | replay / original | replay compiling the replayer, s |\n|---|---|---|---|---|");
    for (b, app, trace) in replays {
        let (mut original, mut replay, mut compiling) = (Vec::new(), Vec::new(), Vec::new());
        let replay_with = |flags: &[&str]| wall(Command::new(&bin).env("WEBGPU_VIRT_CACHE_DIR", &cache).arg("replay").args(flags).arg(&trace));
        for _ in 0..repeat {
            original.push(wall(Command::new(&bin).arg("run").arg(&app).args(b.args())));
            replay.push(replay_with(&[]));
            compiling.push(replay_with(&["--no-cache"]));
        }
        let (o, r, c) = (median(original), median(replay), median(compiling));
        println!("| {} | {o:.3} | {r:.3} | {:.3} | {c:.3} |", b.guest, r / o);
    }
    if only.is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    pods(&bin, repeat, &dir);
    fairness(&bin, repeat, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pods against the plain virt: the benchmark guest alone in a pod (one hop, its host device its
/// own), beside a neighbour holding a device on the same host device (the virt attributes every
/// call's errors), and beside it with a host device per guest.
fn pods(bin: &Path, repeat: usize, dir: &Path) {
    println!(
        "\n| benchmark (pods) | virt | pod, alone / virt | pod, sharing the host device with a neighbour / virt | pod, device per guest, with a neighbour / virt |\n|---|---|---|---|---|"
    );
    let neighbour = std::fs::read(guest_path("bench_neighbour")).unwrap();
    let shared = webgpu_virt::pod::pod_config(&webgpu_virt::Config::default(), &["neighbour", "bench"]).unwrap();
    let dedicated = webgpu_virt::Config { pool: webgpu_virt::Pool { device_per_guest: true, ..Default::default() }, ..Default::default() };
    let dedicated = webgpu_virt::pod::pod_config(&dedicated, &["neighbour", "bench"]).unwrap();
    let alone = webgpu_virt::pod::pod_config(&webgpu_virt::Config::default(), &["bench"]).unwrap();
    let configure = |config: &webgpu_virt::Config| webgpu_virt::configure(webgpu_virt::VIRT, config).unwrap();
    for b in BENCHES.iter().filter(|b| !["bench_matmul", "bench_infer"].contains(&b.guest)) {
        let bytes = std::fs::read(guest_path(b.guest)).unwrap();
        let guest = |name| webgpu_virt::pod::Guest { name, component: &bytes };
        let next_door = webgpu_virt::pod::Guest { name: "neighbour", component: &neighbour };
        let composed = [
            webgpu_virt::plug(&bytes, webgpu_virt::VIRT).unwrap(),
            webgpu_virt::pod::plug_pod(&[guest("bench")], &configure(&alone)).unwrap(),
            webgpu_virt::pod::plug_pod(&[next_door, guest("bench")], &configure(&shared)).unwrap(),
            webgpu_virt::pod::plug_pod(&[webgpu_virt::pod::Guest { name: "neighbour", component: &neighbour }, guest("bench")], &configure(&dedicated)).unwrap(),
        ];
        let paths: Vec<PathBuf> = composed
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let path = dir.join(format!("{}.pod{i}.wasm", b.guest));
                std::fs::write(&path, c).unwrap();
                path
            })
            .collect();
        let m = medians(bin, &paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(), repeat, dir, &[]);
        let [v, alone, shared, dedicated] = [0, 1, 2, 3].map(|i| m[i][b.line]);
        println!("| {} | {v:.2} | {:.3} | {:.3} | {:.3} |", b.what, alone / v, shared / v, dedicated / v);
    }
}

/// Fairness: a probing guest's submit-to-done latency (200 probes) alone, beside a flooding
/// guest with no cap, with the flooder capped to 2 in flight, and under a pool cap of 2
/// (the pool's fair queuing); then the shares of GPU time of two flooding guests, one's
/// submissions ten times the other's, under the pool cap, while both had work.
/// `FLOOD_WORK` sets the flooder's loop iterations an invocation (default 4096).
fn fairness(bin: &Path, repeat: usize, dir: &Path) {
    let probe = std::fs::read(guest_path("bench_probe")).unwrap();
    let flood = std::fs::read(guest_path("bench_flood")).unwrap();
    let heavy = std::fs::read(guest_path("bench_flood_heavy")).unwrap();
    let work = std::env::var("FLOOD_WORK").unwrap_or_else(|_| "4096".into());
    let pod = |guests: &[(&str, &[u8])], config: webgpu_virt::Config| {
        let names: Vec<&str> = guests.iter().map(|(n, _)| *n).collect();
        let config = webgpu_virt::pod::pod_config(&config, &names).unwrap();
        let virt = webgpu_virt::configure(webgpu_virt::virt_for(&config), &config).unwrap();
        let guests: Vec<_> = guests.iter().map(|(name, component)| webgpu_virt::pod::Guest { name, component }).collect();
        webgpu_virt::pod::plug_pod(&guests, &virt).unwrap()
    };
    let in_flight = |n| std::num::NonZeroU32::new(n);
    let capped_flooder = webgpu_virt::Config {
        guests: vec![webgpu_virt::GuestPolicy {
            name: "flood".into(),
            policy: webgpu_virt::Config { max_in_flight: in_flight(2), ..Default::default() },
        }],
        ..Default::default()
    };
    let pool = webgpu_virt::Config { pool: webgpu_virt::Pool { max_in_flight: in_flight(2), ..Default::default() }, ..Default::default() };
    let cases = [
        ("alone", pod(&[("probe", &probe)], Default::default())),
        ("beside a flooder, no cap", pod(&[("probe", &probe), ("flood", &flood)], Default::default())),
        ("beside a flooder capped to 2 in flight", pod(&[("probe", &probe), ("flood", &flood)], capped_flooder)),
        ("beside a flooder, pool cap 2 (fair queuing)", pod(&[("probe", &probe), ("flood", &flood)], pool.clone())),
    ];
    println!("\n| probing guest's submit-to-done (pods) | p50, us | p99, us | flooder's submissions |\n|---|---|---|---|");
    for (what, composed) in cases {
        let path = dir.join("fairness.wasm");
        std::fs::write(&path, composed).unwrap();
        let (mut p50, mut p99, mut flooded) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeat {
            let m = measure_args(bin, &path, dir, &["--ms", "4000", "--work", &work, "--probes", "200"]);
            p50.push(m["probe-p50"]);
            p99.push(m["probe-p99"]);
            flooded.push(m.get("flood").copied().unwrap_or(0.0));
        }
        println!("| {what} | {:.0} | {:.0} | {:.0} |", median(p50), median(p99), median(flooded));
    }
    // Two saturating guests under the pool cap, b's submissions ten times a's: a's share of the
    // GPU time while both had work, with equal weights and with guest a's weight 2.
    let weighted = webgpu_virt::Config {
        guests: vec![webgpu_virt::GuestPolicy { name: "a".into(), policy: webgpu_virt::Config { weight: in_flight(2), ..Default::default() } }],
        ..pool.clone()
    };
    println!("\n| a light and a heavy flooder, pool cap 2 | a's share of the GPU time while both had work (median of {repeat}) |\n|---|---|");
    for (what, config) in [("equal weights", pool), ("guest a's weight 2", weighted)] {
        let path = dir.join("shares.wasm");
        std::fs::write(&path, pod(&[("a", &flood), ("b", &heavy)], config)).unwrap();
        let mut shares = Vec::new();
        for _ in 0..repeat {
            let out = Command::new(bin).args(["run", "--stats"]).arg(&path).args(["--ms", "3000", "--work", &work]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let stderr = String::from_utf8_lossy(&out.stderr);
            let contended = |guest: &str| -> f64 {
                let name = format!("quota pool {guest} gpu time us while contended");
                let line = stderr.lines().find(|l| l.trim_start().starts_with(&name)).unwrap_or_else(|| panic!("no `{name}` in {stderr}"));
                line.split_whitespace().last().unwrap().parse().unwrap()
            };
            let (a, b) = (contended("a"), contended("b"));
            shares.push(a / (a + b));
        }
        println!("| {what} | {:.3} |", median(shares));
    }
}

/// A quota on everything it counts, so large that nothing is refused or held back.
fn roomy_quota() -> webgpu_virt::Config {
    let all = Some(u32::MAX);
    webgpu_virt::Config {
        max_memory: Some(webgpu_virt::Size(1 << 40)),
        max_objects: webgpu_virt::MaxObjects {
            buffers: all,
            textures: all,
            query_sets: all,
            shader_modules: all,
            command_encoders: all,
            bind_groups: all,
            pipelines: all,
        },
        max_in_flight: std::num::NonZeroU32::new(1 << 20),
        ..Default::default()
    }
}

/// Where the recording virt writes its trace, in the preopened directory.
const TRACE: &str = "trace.wgvt";

/// Recording every call.
fn recording() -> webgpu_virt::Config {
    webgpu_virt::Config { record: Some(TRACE.into()), ..Default::default() }
}
