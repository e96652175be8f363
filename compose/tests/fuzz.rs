//! The call-sequence fuzzer: the `fuzz` guest's seeded random sequences of mostly misused calls
//! print the same lines direct on the host, through the virt, under generous GPU-time limits and
//! in a pod (two guests on virtual devices of one host device); they run to their end under a tight quota; recorded, they print
//! what they print direct and replay with no divergence.
//! Every run has a time limit (a hang fails the test), and none may trap or panic.
//!
//! `FUZZ_SEEDS` sets how many sequences (24 by default), `FUZZ_STEPS` their length (300) and
//! `FUZZ_FIRST_SEED` the first seed (1).

mod common;

use common::{check, guest, output_within, plug, plug_pod, webgpu_virt};
use std::path::Path;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))).unwrap_or(default)
}

/// The guest's arguments and a time limit for one run of all the sequences.
struct Sequences {
    args: Vec<String>,
    seconds: u64,
}

impl Sequences {
    fn from_env() -> Self {
        let (first, seeds, steps) = (env("FUZZ_FIRST_SEED", 1), env("FUZZ_SEEDS", 24), env("FUZZ_STEPS", 300));
        let args = ["--seed", &first.to_string(), "--seeds", &seeds.to_string(), "--steps", &steps.to_string()].map(String::from).to_vec();
        // A sequence of 300 steps takes well under a second; a hang takes for ever.
        Sequences { args, seconds: 60 + seeds * steps.div_ceil(100) }
    }

    /// Runs `app` (with `run`'s `flags`) on every sequence: its stdout and stderr.
    fn run(&self, app: &Path, flags: &[&str], what: &str) -> (String, String) {
        let out = output_within(webgpu_virt().arg("run").args(flags).arg(app).args(&self.args), self.seconds);
        check(&out, what);
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    }
}

/// Fails at the first line where `got` differs from `want`, naming its sequence and step.
fn same_lines(want: &str, got: &str, what: &str) {
    let mut seed = "";
    let (mut want_lines, mut got_lines) = (want.lines(), got.lines());
    loop {
        match (want_lines.next(), got_lines.next()) {
            (None, None) => return,
            (w, g) if w == g => {
                if let Some(s) = w.filter(|l| l.starts_with("seed ")) {
                    seed = s;
                }
            }
            (w, g) => panic!("{what}: {seed}, first difference:\n  direct: {w:?}\n  {what}: {g:?}"),
        }
    }
}

/// The lines of steps (`STEP dDEVICE ACTION...`).
fn step_lines(out: &str) -> u64 {
    out.lines().filter(|l| l.split(' ').next().is_some_and(|step| step.parse::<u64>().is_ok())).count() as u64
}

#[test]
fn fuzzed_call_sequences_agree_direct_through_the_virt_under_limits_in_a_pod_under_a_quota_and_in_replay() {
    let sequences = Sequences::from_env();
    let app = guest("fuzz");
    let dir = tempfile::tempdir().unwrap();
    let (direct, _) = sequences.run(app.as_ref(), &[], "direct");
    let steps = env("FUZZ_SEEDS", 24) * env("FUZZ_STEPS", 300);
    assert_eq!(step_lines(&direct), steps, "every step printed its line");

    let virt = dir.path().join("virt.wasm");
    plug(app, &[], &virt);
    let (out, stderr) = sequences.run(&virt, &["--stats"], "through the virt");
    same_lines(&direct, &out, "through the virt");
    // Every device the sequences made and dropped was given back to the runtime (the virt kept
    // none: an NVIDIA driver refuses new devices after some 60).
    assert!(common::stat(&stderr, "host devices") >= env("FUZZ_SEEDS", 24), "{stderr}");
    assert_eq!(common::stat(&stderr, "host devices held"), 0, "the virt still holds host devices the application dropped");

    // Every GPU-time limit, generously: time limited (dispatches cut), budgeted and loops
    // bounded, and nothing the application sees changes.
    let limited = dir.path().join("limited.wasm");
    plug(app, &["--max-submission-time", "60s", "--max-gpu-share", "100%", "--max-loop-iterations", "1000000"], &limited);
    same_lines(&direct, &sequences.run(&limited, &[], "under generous GPU-time limits").0, "under generous GPU-time limits");

    // Two guests in a pod, on virtual devices of one host device, each print what they print
    // alone (the same sequences, so the pod's lines are twice the direct ones, interleaved).
    let pod = dir.path().join("pod.wasm");
    plug_pod(&[("a", app), ("b", app)], &[], &pod);
    let (out, _) = sequences.run(&pod, &[], "in a pod");
    twice_the_lines(&direct, &out, "in a pod");

    // Under a quota too tight for most of what the sequences make, they still run to their end.
    let quota = dir.path().join("quota.wasm");
    let tight = ["--max-memory", "1KiB", "--max-in-flight", "1", "--max-write-size", "32"];
    let objects = "buffers=4,textures=2,query-sets=2,shader-modules=2,command-encoders=3,bind-groups=2,pipelines=2";
    plug(app, &[&tight[..], &["--max-objects", objects]].concat(), &quota);
    let (out, stderr) = sequences.run(&quota, &["--stats"], "under a tight quota");
    assert!(out.contains("[out-of-memory-error]"), "the quota refused nothing:\n{stderr}");
    assert_eq!(step_lines(&out), steps, "under a tight quota, every step printed its line");

    // Recorded: the same lines, and a trace that replays them all with no divergence.
    let recorded = dir.path().join("recorded.wasm");
    plug(app, &["--record", "fuzz.wgvt"], &recorded);
    let dir_flag = dir.path().to_str().unwrap();
    same_lines(&direct, &sequences.run(&recorded, &["--dir", dir_flag], "recorded").0, "recorded");
    let replayed = output_within(webgpu_virt().arg("replay").arg(dir.path().join("fuzz.wgvt")), sequences.seconds);
    check(&replayed, "replay");
    let report = String::from_utf8(replayed.stdout).unwrap();
    assert!(report.starts_with("replayed ") && report.contains("no divergence"), "{report}");
}

/// Sequences that once differed, each checked on its own whatever `FUZZ_SEEDS` is, under
/// generous GPU-time limits: seed 191 (a write-texture with a texture of a destroyed device is
/// the virt's error, reported into a validation scope under a newer internal one: the virt split
/// that scope on the runtime above the newer one, whose pop then took the split); seed 110 (a
/// dispatch set apart in a pass while a second pass was open on its encoder: the part finished
/// at the cut left that second pass on a finished runtime encoder, whose `end` then reported an
/// error the application never made); seed 210 (a command buffer submitted again after a
/// submission refused for another one: WebGPU uses up every command buffer of a refused
/// submission, and the host left them whole where it refused one of another device itself);
/// seed 245 (a copy within an indirect buffer that was destroyed: the virt copied from the
/// buffer's stand-in, another buffer, and the runtime refused that only at submission).
#[test]
fn sequences_that_once_differed_agree() {
    let app = guest("fuzz");
    let dir = tempfile::tempdir().unwrap();
    let limits = ["--max-submission-time", "60s", "--max-gpu-share", "100%", "--max-loop-iterations", "1000000"];
    for (seed, flags) in [(191, &limits[..]), (110, &limits[..]), (210, &limits[..]), (245, &limits[..])] {
        let plugged = dir.path().join(format!("seed-{seed}.wasm"));
        plug(app, flags, &plugged);
        same_lines(&one_sequence(app.as_ref(), seed), &one_sequence(&plugged, seed), &format!("seed {seed} under {flags:?}"));
    }
    // In a pod of two guests sharing one host device, each prints what it prints alone: seed
    // 577 (a bind group made with another device's layout was valid on the shared host device,
    // and a dispatch with it ran where WebGPU refuses it); seed 636 (a buffer made on a lost
    // device was a destroyed stand-in, so a copy with it on another device's encoder was
    // refused only at submission, where WebGPU's invalid buffer is refused at `finish`).
    let pod = dir.path().join("pod.wasm");
    plug_pod(&[("a", app), ("b", app)], &[], &pod);
    for seed in [577, 636] {
        twice_the_lines(&one_sequence(app.as_ref(), seed), &one_sequence(&pod, seed), &format!("seed {seed} in a pod"));
    }
}

/// Fails unless `in_pod`, what a pod of two guests running the same sequences printed, is
/// `alone`'s lines twice, in any order.
fn twice_the_lines(alone: &str, in_pod: &str, what: &str) {
    let mut got: Vec<&str> = in_pod.lines().collect();
    let mut want: Vec<&str> = alone.lines().chain(alone.lines()).collect();
    got.sort_unstable();
    want.sort_unstable();
    if got != want {
        let missing = want.iter().find(|l| !got.contains(l));
        let extra = got.iter().find(|l| !want.contains(l));
        panic!("{what}, the guests' lines differ from twice the direct ones: missing {missing:?}, extra {extra:?}");
    }
}

/// What `app` prints for the sequence of `seed`.
fn one_sequence(app: &Path, seed: u64) -> String {
    let sequence = ["--seed", &seed.to_string(), "--seeds", "1", "--steps", "300"].map(String::from);
    let out = output_within(webgpu_virt().arg("run").arg(app).args(&sequence), 60);
    check(&out, &format!("seed {seed}"));
    String::from_utf8(out.stdout).unwrap()
}
