//! Services under load on the loopback: `webgpu-virt serve` of the `service` guest (a compute job
//! with read-back per request), direct, through the plain virt, through a virt with a quota, and
//! as a pod of two. Bounded in requests and in time.
//!
//! For each count of concurrent clients (`LOAD_CLIENTS`, default `1,8,64`; empty: none), the settings take
//! turns for `LOAD_ROUNDS` rounds (default 3); in each, every client makes `LOAD_REQUESTS`
//! requests (default 20) on a connection it keeps, each for `/squares?n=LOAD_N` (default 4096),
//! stopping early after `LOAD_SECONDS` (default 60). Every answer is checked: nothing lost,
//! nothing wrong. Printed as a Markdown table: the median throughput of the rounds, p50 and p99
//! latency over all of them, and throughput against direct.
//!
//! Then the quota under concurrency: a virt with `--max-memory 1MiB`, 8 clients asking in turn
//! for a job that fits (4096 values, 32 KiB) and one that does not (200,000 values, 1.6 MB):
//! each answer must be the right result or a clean WebGPU out-of-memory error, and each is
//! counted.
//!
//! Last the server's memory: resident set size after a warm-up of 200 requests and then after
//! every `LOAD_SOAK_STEP` (default 2,500) up to `LOAD_SOAK` (default 10,000), 8 clients, through
//! the virt with a quota.
//!
//! `WEBGPU_VIRT_BIN` and `WEBGPU_VIRT_GUESTS` (a folder of guest `.wasm` files) override the
//! paths built in, to run the same benchmark on another machine.

#[path = "../tests/common/mod.rs"]
mod common;

use common::http::{Client, Server, squares};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bin() -> PathBuf {
    std::env::var_os("WEBGPU_VIRT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_webgpu-virt")))
}

fn cli() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("MESA_SHADER_CACHE_DIR", std::env::temp_dir().join("webgpu-virt-mesa-cache"));
    cmd
}

fn service() -> PathBuf {
    match std::env::var_os("WEBGPU_VIRT_GUESTS") {
        Some(dir) => Path::new(&dir).join("service.wasm"),
        None => PathBuf::from(common::guest("service")),
    }
}

/// `plug` with `args` into `dir/name.wasm`.
fn plug(dir: &Path, name: &str, args: &[String]) -> PathBuf {
    let out = dir.join(format!("{name}.wasm"));
    let done = cli().arg("plug").args(args).arg("-o").arg(&out).output().unwrap();
    assert!(done.status.success(), "plug {args:?}: {}", String::from_utf8_lossy(&done.stderr));
    out
}

/// What one load run measured.
struct Load {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Load {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        l[((l.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
    }
}

/// `clients` clients at once, each making up to `requests` requests to the paths `path(c, r)`
/// gives, each answer checked by `check`, until `deadline`.
fn load(server: &Server, clients: usize, requests: usize, deadline: Duration, path: impl Fn(usize, usize) -> String + Sync, check: impl Fn(&str, u16, &str) + Sync) -> Load {
    let start = Instant::now();
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (path, check) = (&path, &check);
                scope.spawn(move || {
                    let mut client = Client::connect(server.addr);
                    let mut latencies = Vec::new();
                    for r in 0..requests {
                        if start.elapsed() > deadline {
                            break;
                        }
                        let path = path(c, r);
                        let sent = Instant::now();
                        let (status, body) = client.get(&path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
                        latencies.push(sent.elapsed());
                        check(&path, status, &body);
                    }
                    latencies
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a client failed")).collect::<Vec<_>>()
    });
    Load { requests: latencies.len(), seconds: start.elapsed().as_secs_f64(), latencies }
}

/// The right answer to `/squares?n=N` (after any guest prefix).
fn right(path: &str, status: u16, body: &str) {
    let n: u32 = path.rsplit_once("n=").unwrap().1.parse().unwrap();
    assert_eq!((status, body), (200, squares(n).as_str()), "GET {path}");
}

fn main() {
    // An empty LOAD_CLIENTS skips the throughput table.
    let clients: Vec<usize> = std::env::var("LOAD_CLIENTS")
        .unwrap_or("1,8,64".into())
        .split(',')
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().parse().expect("LOAD_CLIENTS: numbers joined by commas"))
        .collect();
    let requests: usize = var("LOAD_REQUESTS", 20);
    let n: u32 = var("LOAD_N", 4096);
    let deadline = Duration::from_secs(var("LOAD_SECONDS", 60));
    let soak: usize = var("LOAD_SOAK", 10_000);
    let rounds: usize = var("LOAD_ROUNDS", 3);
    let soak_step: usize = var("LOAD_SOAK_STEP", 2500);
    let adapter = cli().arg("adapter").output().expect("webgpu-virt adapter");
    println!("adapter: {}", String::from_utf8_lossy(&adapter.stdout).trim());
    println!("cores: {}", std::thread::available_parallelism().map_or(0, |n| n.get()));
    let dir = tempfile::tempdir().unwrap();
    let service = service();
    let s = service.display().to_string();
    let settings: Vec<(&str, PathBuf, bool)> = vec![
        ("direct", service.clone(), false),
        ("plain virt", plug(dir.path(), "plain", std::slice::from_ref(&s)), false),
        ("quota (64MiB, buffers=64)", plug(dir.path(), "quota", &[s.clone(), "--max-memory".into(), "64MiB".into(), "--max-objects".into(), "buffers=64".into()]), false),
        ("pod of two (a, b)", plug(dir.path(), "pod", &["--guest".into(), format!("a={s}"), "--guest".into(), format!("b={s}")]), true),
    ];

    println!("\n## Throughput and latency: /squares?n={n}, {requests} requests a client, {rounds} rounds\n");
    // Every setting's server at once; the settings take turns, round after round, so that a
    // drift of the machine reaches them all alike.
    let servers: Vec<Server> = settings.iter().map(|(_, component, _)| Server::start(cli(), component.to_str().unwrap()).unwrap()).collect();
    let path = |pod: bool| {
        move |c: usize, r: usize| match pod {
            true => format!("/{}/squares?n={n}", if (c + r).is_multiple_of(2) { "a" } else { "b" }),
            false => format!("/squares?n={n}"),
        }
    };
    for (server, (_, _, pod)) in servers.iter().zip(&settings) {
        // Warm: the first requests compile shaders and fill caches.
        load(server, 2, 10, deadline, path(*pod), right);
    }
    println!("| setting | clients | requests | req/s (median of rounds) | p50 ms | p99 ms | req/s vs direct |");
    println!("|---|---|---|---|---|---|---|");
    for &c in &clients {
        let mut runs: Vec<Vec<Load>> = settings.iter().map(|_| Vec::new()).collect();
        for _ in 0..rounds {
            for ((server, (_, _, pod)), runs) in servers.iter().zip(&settings).zip(&mut runs) {
                runs.push(load(server, c, requests, deadline, path(*pod), right));
            }
        }
        let throughput = |runs: &[Load]| {
            let mut t: Vec<f64> = runs.iter().map(Load::throughput).collect();
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        };
        let direct = throughput(&runs[0]);
        for ((name, _, _), runs) in settings.iter().zip(&runs) {
            let all = Load { requests: runs.iter().map(|l| l.requests).sum(), seconds: 0.0, latencies: runs.iter().flat_map(|l| l.latencies.clone()).collect() };
            let t = throughput(runs);
            println!("| {name} | {c} | {} | {t:.1} | {:.1} | {:.1} | {:.2} |", all.requests, all.percentile(0.5), all.percentile(0.99), t / direct);
        }
    }
    drop(servers);

    println!("\n## A quota under concurrency: --max-memory 1MiB, 8 clients, jobs of 32 KiB and 1.6 MB in turn\n");
    let limited = plug(dir.path(), "limited", &[s.clone(), "--max-memory".into(), "1MiB".into()]);
    let server = Server::start(cli(), limited.to_str().unwrap()).unwrap();
    let refused = std::sync::atomic::AtomicUsize::new(0);
    let l = load(
        &server,
        8,
        requests.max(10),
        deadline,
        |c, r| format!("/squares?n={}", if (c + r).is_multiple_of(2) { 4096 } else { 200_000 }),
        |path, status, body| {
            if path.ends_with("n=200000") {
                assert_eq!(status, 503, "GET {path}: {body}");
                assert!(body.starts_with("webgpu: out of memory: webgpu-virt quota: a buffer of 800000 bytes refused"), "GET {path}: {body}");
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            } else {
                right(path, status, body);
            }
        },
    );
    let refused = refused.into_inner();
    println!("{} requests answered, none lost: {} computed right, {refused} refused with a WebGPU out-of-memory error naming the quota", l.requests, l.requests - refused);
    drop(server);

    println!("\n## Server memory over {soak} requests (quota setting, 8 clients, /squares?n={n})\n");
    let server = Server::start(cli(), settings[2].1.to_str().unwrap()).unwrap();
    let path = |_: usize, _: usize| format!("/squares?n={n}");
    load(&server, 8, 25, Duration::MAX, path, right);
    let warm = server.resident_bytes();
    println!("| requests | resident MiB |\n|---|---|\n| 200 (warm) | {:.1} |", warm as f64 / 1048576.0);
    let start = Instant::now();
    let mut done = 0;
    while done < soak {
        let step = soak_step.min(soak - done);
        let l = load(&server, 8, step.div_ceil(8), Duration::MAX, path, right);
        done += l.requests;
        println!("| {} | {:.1} |", 200 + done, server.resident_bytes() as f64 / 1048576.0);
    }
    let last = server.resident_bytes();
    println!(
        "\n{done} requests in {:.0} s; resident memory {:.1} MiB warm, {:.1} MiB after ({:+.1} MiB)",
        start.elapsed().as_secs_f64(),
        warm as f64 / 1048576.0,
        last as f64 / 1048576.0,
        (last as f64 - warm as f64) / 1048576.0
    );
}
