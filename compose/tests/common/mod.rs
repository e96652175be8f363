//! What the integration tests share: running `webgpu-virt` and finding the guests.

#![allow(dead_code)]

pub mod http;

use built_guests as guests;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// The `webgpu-virt` binary, with Mesa's shader cache and the cache of compiled components kept
/// out of `$HOME`.
pub fn webgpu_virt() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webgpu-virt"));
    cmd.env("MESA_SHADER_CACHE_DIR", std::env::temp_dir().join("webgpu-virt-mesa-cache"));
    cmd.env("WEBGPU_VIRT_CACHE_DIR", std::env::temp_dir().join("webgpu-virt-test-cache"));
    cmd
}

/// The guests that use the GPU and print what they saw (every guest but `cli`, the benchmarks
/// and the sandboxing guests, whose output depends on the policy).
pub const GPU_GUESTS: [&str; 18] = [
    "compute", "render", "mapping", "copies", "textures", "bundles", "queries", "errors", "uncaptured", "lost", "labels", "limits", "invalid", "flood",
    "devices", "loops", "chunks", "draws",
];

/// A built guest's path.
pub fn guest(name: &str) -> &'static str {
    guests::ALL.iter().find(|(n, _)| *n == name).expect("a built guest").1
}

/// Fails unless the run exited cleanly, without a host panic.
pub fn check(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: the host panicked:\n{stderr}");
    assert!(out.status.success(), "{what} exited with {}:\n{stderr}", out.status);
}

/// Plugs the virt, configured by `flags` (`plug`'s own), in front of `app` into `out`; fails the
/// test with plug's words unless it did.
pub fn plug(app: impl AsRef<OsStr>, flags: &[&str], out: &Path) {
    let app = app.as_ref();
    let plugged = webgpu_virt().arg("plug").arg(app).args(flags).arg("-o").arg(out).output().unwrap();
    check(&plugged, &format!("plug {} {}", Path::new(app).display(), flags.join(" ")));
}

/// Plugs a pod of `guests` (each a name and its app), configured by `flags`, into `out`; fails
/// the test with plug's words unless it did.
pub fn plug_pod(guests: &[(&str, &str)], flags: &[&str], out: &Path) {
    let mut cmd = webgpu_virt();
    cmd.arg("plug");
    for (name, app) in guests {
        cmd.arg("--guest").arg(format!("{name}={app}"));
    }
    let plugged = cmd.args(flags).arg("-o").arg(out).output().unwrap();
    check(&plugged, &format!("plug a pod of {} {}", guests.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "), flags.join(" ")));
}

/// Whether a per-guest test list covers `name`: `cli` uses no GPU, and the benchmarks, the
/// sandboxing guests (`quota`, `sandbox`, `caps`), the pods' noisy neighbour and device loss and
/// the call-sequence fuzzer, the crashing application, the device churn, the runaway guest and
/// the HTTP service (`serve.rs`) have tests of their own.
pub fn covered(name: &str, tested: &[&str]) -> bool {
    tested.contains(&name)
        || ["cli", "quota", "sandbox", "caps", "noisy", "loss", "fuzz", "crash", "churn", "runaway", "service"].contains(&name)
        || name.starts_with("bench_")
}

/// `plug` composed in front of `socket` with `wac_graph::plug`, for components that have nothing
/// to do with wasi:webgpu (the benchmarks' bare forwarder).
pub fn wac_plug_any(socket: &[u8], plug: &[u8]) -> Vec<u8> {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let mut graph = CompositionGraph::new();
    let mut add = |name: &str, bytes: &[u8]| {
        let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut()).unwrap();
        graph.register_package(package).unwrap()
    };
    let plug = add("bench:plug", plug);
    let socket = add("bench:socket", socket);
    wac_graph::plug(&mut graph, vec![plug], socket).unwrap();
    graph.encode(EncodeOptions::default()).unwrap()
}

/// A counter printed by `webgpu-virt run --stats` (`POLICY NAME  VALUE`), by its policy and name.
pub fn stat(stderr: &str, name: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().strip_prefix(name).is_some_and(|rest| rest.starts_with("  ")))
        .unwrap_or_else(|| panic!("no counter `{name}` in:\n{stderr}"));
    line.split_whitespace().last().unwrap().parse().unwrap()
}

/// Records `app` through a virt with `flags` into a fresh directory: the run's output, its
/// stderr and the trace's bytes.
pub fn record(app: &str, flags: &[&str]) -> (String, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded.wasm");
    let out = webgpu_virt().arg("plug").arg(app).args(["--record", "trace.wgvt"]).args(flags).arg("-o").arg(&recorded).output().unwrap();
    check(&out, "plug --record");
    let out = webgpu_virt().arg("run").arg("--stats").arg("--dir").arg(dir.path()).arg(&recorded).output().unwrap();
    check(&out, &format!("{app}, recorded"));
    let trace = std::fs::read(dir.path().join("trace.wgvt")).expect("the trace was written");
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), trace)
}

/// `webgpu-virt trace SUBCOMMAND` on `trace`: stdout, stderr.
pub fn trace_tool(subcommand: &str, trace: &[u8]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wgvt");
    std::fs::write(&path, trace).unwrap();
    let out = webgpu_virt().args(["trace", subcommand]).arg(&path).output().unwrap();
    check(&out, &format!("trace {subcommand}"));
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// Runs `cmd` to its end, failing the test if it takes more than `seconds` (a hang). Its output
/// goes to files, so that a child that prints much never waits on a full pipe.
pub fn output_within(cmd: &mut Command, seconds: u64) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            let stderr = std::fs::read_to_string(&stderr).unwrap_or_default();
            panic!("{cmd:?} did not finish within {seconds} s; its stderr:\n{stderr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output { status, stdout: std::fs::read(&stdout).unwrap(), stderr: std::fs::read(&stderr).unwrap() }
}

/// A small, seeded pseudo-random sequence (xorshift64), for the fuzzing tests.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
