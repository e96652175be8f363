//! Runaway GPU work: a guest that submits a dispatch running for hours (on any driver: a
//! never-ending loop, 65535 workgroups wide) and returns without waiting for it. The run must
//! still end, at once, and say what it left running, direct and through the virt. Under
//! `--max-submission-time`, work over the limit loses its device, and only its own.

mod common;

use common::{check, guest, output_within, plug, webgpu_virt};

#[test]
fn a_run_that_leaves_work_running_on_the_gpu_ends_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let virt = dir.path().join("runaway.virt.wasm");
    plug(guest("runaway"), &[], &virt);
    for app in [std::path::PathBuf::from(guest("runaway")), virt] {
        let started = std::time::Instant::now();
        let out = output_within(webgpu_virt().arg("run").arg(&app).arg("--wide"), 120);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", app.display());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "submitted a runaway dispatch\n");
        assert!(stderr.contains("1 device(s) still ran submitted work 2 s after the component was done: left running"), "{stderr}");
        eprintln!("{}: ended after {:.1} s", app.display(), started.elapsed().as_secs_f64());
    }
}

/// The line the runaway guest prints when its device is lost for its one submission.
const LOST_TO_THE_LIMIT: &str = "the device was lost (GpuDeviceLostReason::Unknown): webgpu-virt: the device's submission 1 ran on \
     the GPU for longer than max-submission-time (1s): the device is lost";

/// Plugs the runaway guest under `--max-submission-time 1s` and runs it wide, with `--stats`
/// (`backend`: `WGPU_BACKEND`): it must exit 0, its device lost to the limit once its wait for
/// the work ended. Its stderr.
fn wide_runaway_under_one_second(backend: Option<&str>, seconds: u64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join("runaway.limited.wasm");
    plug(guest("runaway"), &["--max-submission-time", "1s"], &limited);
    let mut run = webgpu_virt();
    if let Some(backend) = backend {
        run.env("WGPU_BACKEND", backend);
    }
    let out = output_within(run.arg("run").arg("--stats").arg(&limited).args(["--wide", "--wait", "--lost"]), seconds);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("submitted a runaway dispatch\nthe wait for the work ended\n{LOST_TO_THE_LIMIT}\n"),
        "{stderr}"
    );
    stderr
}

#[test]
fn a_submission_over_the_time_limit_loses_its_device_and_the_run_ends() {
    // Hours of work on any driver: the run ends only because the limit stops it.
    let started = std::time::Instant::now();
    let stderr = wide_runaway_under_one_second(None, 120);
    // The operator hears of it as it happens and in the stats; the time it ran is its GPU time.
    assert!(stderr.starts_with("webgpu-virt: the device's submission 1 ran on the GPU for longer than max-submission-time (1s)"), "{stderr}");
    assert_eq!(common::stat(&stderr, "gpu-time devices lost to max-submission-time"), 1);
    assert!(common::stat(&stderr, "gpu-time gpu time us") >= 1_000_000, "{stderr}");
    eprintln!("stopped and ended after {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_runaway_on_a_runtime_that_runs_work_inside_its_submit_is_stopped_too() {
    // wgpu's GL backend on llvmpipe runs a submission's work before `submit` returns, and the
    // virt's thread with it: the watchdog hears each chunk done only after it ran. The limit
    // counts what the chunks ran (from before each `submit`), and loses the device once they
    // ran past it (before, they ran on for hours, the device never lost).
    let stderr = wide_runaway_under_one_second(Some("gl"), 60);
    assert_eq!(common::stat(&stderr, "gpu-time devices lost to max-submission-time"), 1, "{stderr}");
    assert!(common::stat(&stderr, "gpu-time dispatch chunks") >= 2, "{stderr}");
}

/// The runaway guest beside `compute` in a pod under a time limit of `limit` (with `plug`'s
/// flags too), sharing the host device and then with a device per guest, run with `args`: each
/// run exits 0 within 60 s, the runaway sees its device lost to the limit, `compute` prints
/// what it prints alone, and only the runaway's device is lost. Each run's flags and stats.
fn runaway_beside_compute(limit: &str, plug: &[&str], args: &[&str]) -> Vec<(&'static [&'static str], String)> {
    let alone = webgpu_virt().arg("run").arg(guest("compute")).output().unwrap();
    common::check(&alone, "compute alone");
    let mut runs = Vec::new();
    for flags in [&[][..], &["--device-per-guest"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let pod = dir.path().join("pod.wasm");
        common::plug_pod(&[("a", guest("runaway")), ("b", guest("compute"))], &[&["--max-submission-time", limit], plug, flags].concat(), &pod);
        let out = output_within(webgpu_virt().arg("run").arg("--stats").arg(&pod).args(args), 60);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {stderr}");
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
        lines.sort();
        let mut want = vec![
            "submitted a runaway dispatch".to_string(),
            "the wait for the work ended".into(),
            LOST_TO_THE_LIMIT.replace("(1s)", &format!("({limit})")),
            String::from_utf8_lossy(&alone.stdout).trim_end().into(),
        ];
        want.sort();
        assert_eq!(lines, want, "{flags:?}: {stderr}");
        assert!(stderr.contains("a webgpu-virt: the device's submission 1 ran on the GPU"), "{stderr}");
        assert_eq!(common::stat(&stderr, "gpu-time a devices lost to max-submission-time"), 1);
        assert_eq!(common::stat(&stderr, "gpu-time b devices lost to max-submission-time"), 0);
        runs.push((flags, stderr));
    }
    runs
}

#[test]
fn a_guest_over_the_time_limit_loses_its_device_and_its_neighbour_runs_on() {
    // A dispatch of hours (a never-ending loop, 65535 workgroups wide) beside the neighbour's:
    // the virt runs it in chunks, so the neighbour's work goes in between on a shared host
    // device (and on lavapipe, whose devices share its threads, with a device per guest too),
    // and the chunks stop when the limit is reached. Time spent waiting behind the runaway's
    // work is not the neighbour's. The small loop budget keeps llvmpipe's first chunk (64
    // workgroups, before their time is known) well within the limit on a slow machine: at the
    // limit's own budget it takes 0.5 to 1.3 s on 2 cores.
    for (_, stderr) in runaway_beside_compute("2s", &["--max-loop-iterations", "10000"], &["--wide", "--wait", "--lost"]) {
        assert!(common::stat(&stderr, "gpu-time b queue operations timed") >= 1, "{stderr}");
        assert!(common::stat(&stderr, "gpu-time a dispatch chunks") >= 2, "{stderr}");
    }
}

#[test]
fn a_runaway_in_many_small_dispatches_of_one_submission_is_stopped_too() {
    // One pass of 2000 dispatches of 64 workgroups, none larger than a chunk: minutes of work on
    // any driver (about 0.1 s a dispatch on lavapipe), that without the dispatches set apart ran
    // as one submission after the device was lost, the neighbour's work queued behind it.
    for (flags, stderr) in runaway_beside_compute("1s", &[], &["--workgroups", "64", "--dispatches", "2000", "--wait", "--lost"]) {
        // Every second dispatch is set apart (one of 64 workgroups not measured yet may take a
        // slice), and few of them ran before the loss.
        assert_eq!(common::stat(&stderr, "gpu-time a dispatches set apart"), 1000, "{flags:?}: {stderr}");
        assert!(common::stat(&stderr, "gpu-time a dispatch chunks") < 100, "{flags:?}: {stderr}");
        assert_eq!(common::stat(&stderr, "gpu-time b dispatches set apart"), 0, "{flags:?}: {stderr}");
    }
}

#[test]
fn small_dispatches_teach_their_pipelines_time_and_later_steps_set_none_apart() {
    // The inference-like job at a size where no dispatch is larger than a first chunk: its
    // embedding (64 workgroups of a pipeline not measured yet) may cost a slice, so the first
    // layer's dispatch after it is set apart, and waits for it. That part's time teaches the
    // embedding's pipeline its rate: later steps set nothing apart (before, every step did).
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join("bench_infer.limited.wasm");
    plug(guest("bench_infer"), &["--max-submission-time", "60s"], &limited);
    let set_apart = |steps: &str| {
        let args = ["--hidden", "64", "--layers", "16", "--batch", "64", "--steps", steps];
        let out = webgpu_virt().arg("run").arg("--stats").arg(&limited).args(args).output().unwrap();
        check(&out, &format!("bench_infer --steps {steps} under a time limit"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("first row's pick right"), "{stdout}");
        common::stat(&String::from_utf8_lossy(&out.stderr), "gpu-time dispatches set apart")
    };
    let (first, many) = (set_apart("2"), set_apart("20"));
    assert!(first >= 1, "the first step sets the first layer apart: {first}");
    assert_eq!(many, first, "20 steps set as many dispatches apart as 2");
}

#[test]
fn a_runaway_in_an_indirect_dispatch_is_stopped_too() {
    // 65535 workgroups of the never-ending loop, their number in an indirect buffer: the virt
    // reads it back, then runs the dispatch in chunks (before, it ran whole: nothing of the
    // neighbour's in 60 s).
    for (flags, stderr) in runaway_beside_compute("1s", &[], &["--wide", "--indirect", "--wait", "--lost"]) {
        assert_eq!(common::stat(&stderr, "gpu-time a dispatches cut"), 1, "{flags:?}: {stderr}");
        assert!(common::stat(&stderr, "gpu-time a dispatch chunks") >= 2, "{flags:?}: {stderr}");
    }
}

#[test]
fn a_runaway_in_many_large_dispatches_of_one_submission_is_stopped_too() {
    // One pass of 100 dispatches of 300 workgroups, each cut (larger than a first chunk): each
    // one's first chunk and its rest, once measured, need no wait of their own, and before the
    // work queued ahead was bounded, all of them went to the runtime at once (lavapipe ran on
    // for 4 s after the loss).
    for (flags, stderr) in runaway_beside_compute("1s", &[], &["--workgroups", "300", "--dispatches", "100", "--wait", "--lost"]) {
        assert_eq!(common::stat(&stderr, "gpu-time a dispatches cut"), 100, "{flags:?}: {stderr}");
        assert!(common::stat(&stderr, "gpu-time a dispatch chunks") < 50, "{flags:?}: {stderr}");
    }
}

#[test]
fn a_runaway_in_a_huge_draw_is_stopped_too() {
    // 65535 instances of a triangle whose fragments run the never-ending loop: the virt runs
    // the draw in chunks of instances, each a render pass of its own.
    for (flags, stderr) in runaway_beside_compute("1s", &[], &["--draw", "--wide", "--wait", "--lost"]) {
        assert_eq!(common::stat(&stderr, "gpu-time a draws cut"), 1, "{flags:?}: {stderr}");
        assert!(common::stat(&stderr, "gpu-time a draw chunks") >= 2, "{flags:?}: {stderr}");
    }
    // The same work as 2000 draws of 64 instances in one pass: each cut (its pipeline not
    // measured yet when it was encoded), and few ran before the loss.
    for (flags, stderr) in runaway_beside_compute("1s", &[], &["--draw", "--workgroups", "64", "--dispatches", "2000", "--wait", "--lost"]) {
        assert_eq!(common::stat(&stderr, "gpu-time a draws cut"), 2000, "{flags:?}: {stderr}");
        assert!(common::stat(&stderr, "gpu-time a draw chunks") < 100, "{flags:?}: {stderr}");
    }
}

/// Runs guest `name` direct and through a virt under a generous time limit (`60s`): it prints
/// the same both ways. The limited run's stats.
fn the_same_under_a_generous_limit(name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join(format!("{name}.limited.wasm"));
    plug(guest(name), &["--max-submission-time", "60s"], &limited);
    let direct = webgpu_virt().arg("run").arg(guest(name)).output().unwrap();
    check(&direct, &format!("{name} direct"));
    let out = webgpu_virt().arg("run").arg("--stats").arg(&limited).output().unwrap();
    check(&out, &format!("{name} under a time limit"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&direct.stdout), "{stderr}");
    stderr
}

#[test]
fn large_draws_run_in_chunks_in_passes_that_load_what_the_pass_before_stored() {
    // Every pixel is what the whole draw makes (the guest checks each against the CPU;
    // `guests.rs` checks what it prints).
    let stderr = the_same_under_a_generous_limit("draws");
    // The seven large draws and the stencil's marker (6 vertices, of a pipeline not measured
    // yet: more than its first chunk's triangle) were cut; the draws the runtime refuses, in a
    // pass that discards its target, after a bundle and in a debug group were not.
    assert_eq!(common::stat(&stderr, "gpu-time draws cut"), 8, "{stderr}");
    let chunks = common::stat(&stderr, "gpu-time draw chunks");
    assert!(chunks >= 16, "{chunks} chunks\n{stderr}");
}

#[test]
fn large_dispatches_run_in_chunks_that_see_the_whole_dispatchs_ids() {
    // Every invocation saw the ids of the whole dispatch, ran once, and in order with the
    // commands around it (the guest checks each; `guests.rs` checks what it prints).
    let stderr = the_same_under_a_generous_limit("chunks");
    // Both passes of 600 workgroups (automatic layout and explicit), the 5000 workgroups of a
    // pipeline not measured yet, the 600 after a small dispatch's pass, the two invalid encoders'
    // and the 5000 beside an invalid command buffer, the three indirect dispatches and
    // the one whose bound buffer is destroyed before its submission were cut (the first chunk
    // of a pipeline has 64 workgroups; an indirect dispatch is a job whatever its size, read
    // back first); the one inside a debug group and the one with another pipeline's bind
    // groups were not.
    assert_eq!(common::stat(&stderr, "gpu-time dispatches cut"), 11, "{stderr}");
    let chunks = common::stat(&stderr, "gpu-time dispatch chunks");
    assert!(chunks >= 6, "{chunks} chunks\n{stderr}");
}

#[test]
fn a_loop_budget_ends_every_loop_and_keeps_loops_with_barriers_valid() {
    let dir = tempfile::tempdir().unwrap();
    // Each loop runs at most the budget's iterations per call of its function: the nested loop
    // across all of its outer loop's iterations; a `loop` that can only return returns zero. The
    // loops of a constant trip count have no counter where they fit: the loop of 4 takes 4 from
    // the outer loop's counter at each of its iterations (100: 25 of them). At 20 the 50 barrier
    // rounds do not fit, and every loop of the function has a counter.
    for (budget, want) in [
        ("20", "outer loop 20 (its loop of 4: 20), inner loop 20, barrier rounds 20 (arrivals 1280), steps of a returning loop 0"),
        ("100", "outer loop 25 (its loop of 4: 100), inner loop 100, barrier rounds 50 (arrivals 3200), steps of a returning loop 60"),
        ("1200", "outer loop 30 (its loop of 4: 120), inner loop 1200, barrier rounds 50 (arrivals 3200), steps of a returning loop 60"),
    ] {
        let bounded = dir.path().join(format!("loops.{budget}.wasm"));
        plug(guest("loops"), &["--max-loop-iterations", budget], &bounded);
        let out = output_within(webgpu_virt().arg("run").arg(&bounded), 120);
        check(&out, "loops under a loop budget");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), want, "--max-loop-iterations {budget}");
    }
    // The runtime compiled the bounded shader; a trace holds the application's own.
    let (output, _, trace) = common::record(guest("loops"), &["--max-loop-iterations", "20"]);
    assert!(output.starts_with("outer loop 20 "), "{output}");
    let has = |text: &str| trace.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(has("fn steps(to: u32) -> u32 {\n    var n = 0u;") && !has("wv_loop"));
}
