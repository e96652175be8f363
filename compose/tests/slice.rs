//! `trace slice`: slices of recorded traces replay with no divergence, and hold what they must.
//!
//! - The `jobs` guest's 100 independent jobs, a validation error in job 73: `--first-error`
//!   keeps that job's calls and the adapter, device and queue, at most 2% of the trace, and the
//!   slice replays, its error found again. The same inside a pod, with `--guest`.
//! - The fuzzer's recorded sequences (`SLICE_SEEDS`, 2 by default, of 300 steps): a slice at
//!   every `SLICE_EVERY`-th call (10) and over random windows replays with no divergence.
//! - What cannot be sliced is refused with the reason.

mod common;

use common::{check, guest, output_within, webgpu_virt, xorshift};
use std::path::Path;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))).unwrap_or(default)
}

/// Records `app` (plugged with `plug` flags, run with `args`) into `dir/trace.wgvt`.
fn record(dir: &Path, plug: &[&str], args: &[&str]) -> std::path::PathBuf {
    let recorded = dir.join("recorded.wasm");
    check(&webgpu_virt().arg("plug").args(plug).args(["--record", "trace.wgvt", "-o"]).arg(&recorded).output().unwrap(), "plug --record");
    let out = output_within(webgpu_virt().arg("run").arg("--dir").arg(dir).arg(&recorded).args(args), 600);
    check(&out, "the recorded run");
    dir.join("trace.wgvt")
}

/// `trace slice TRACE CHOICE... -o OUT`: (kept, of) as it prints them.
fn slice(trace: &Path, choice: &[&str], out: &Path) -> (u64, u64, String) {
    let sliced = webgpu_virt().args(["trace", "slice"]).arg(trace).args(choice).arg("-o").arg(out).output().unwrap();
    check(&sliced, &format!("trace slice {choice:?}"));
    let said = String::from_utf8(sliced.stdout).unwrap();
    let line = said.lines().find_map(|l| l.strip_prefix("kept ")).unwrap_or_else(|| panic!("{said}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[0].parse().unwrap(), words[2].parse().unwrap(), said)
}

/// Replays `trace`: it must end in its report, with no divergence.
fn replays(trace: &Path, what: &str) -> String {
    let out = output_within(webgpu_virt().arg("replay").arg(trace), 120);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && report.contains("no divergence"), "{what}: {report}\n{}", String::from_utf8_lossy(&out.stderr));
    report
}

fn dump(trace: &Path) -> String {
    let out = webgpu_virt().args(["trace", "dump"]).arg(trace).output().unwrap();
    check(&out, "trace dump");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_first_error_of_100_jobs_is_one_jobs_calls_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record(dir.path(), &[guest("jobs")], &[]);
    let out = dir.path().join("first-error.wgvt");
    let (kept, of, said) = slice(&trace, &["--first-error"], &out);
    assert!(said.contains("pop-error-scope") && said.contains("validation-error"), "{said}");
    assert!(kept * 50 <= of, "{kept} of {of} calls kept: more than 2%\n{said}");
    // Job 73's objects and the adapter, device and queue; nothing of another job.
    let text = dump(&out);
    assert!(text.contains("\"job 73 output\"") && text.contains("\"job 73 pipeline\""), "{text}");
    assert!(!text.lines().any(|l| l.contains("\"job ") && !l.contains("\"job 73 ")), "{text}");
    // The scope's error comes again in the replay, which checks every result.
    let report = replays(&out, "the first error's slice");
    assert!(report.starts_with(&format!("replayed {kept} calls")), "{report}");

    // One call: the last job's read-back, with what wrote its buffer.
    let (_, _, said) = slice(&trace, &["--call", &(of - 2).to_string()], &dir.path().join("one.wgvt"));
    assert!(said.contains("get-mapped-range-get-with-copy"), "{said}");
    let text = dump(&dir.path().join("one.wgvt"));
    assert!(text.contains("\"job 99 output\"") && text.contains("dispatch-workgroups") && text.contains("submit"), "{text}");
    replays(&dir.path().join("one.wgvt"), "the last read-back's slice");
}

#[test]
fn a_pods_trace_is_sliced_within_one_guest() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record(dir.path(), &["--guest", &format!("a={}", guest("compute")), "--guest", &format!("b={}", guest("jobs"))], &["--jobs", "20", "--bad", "13"]);
    let out = dir.path().join("b.wgvt");
    let (kept, of, said) = slice(&trace, &["--first-error", "--guest", "b"], &out);
    assert!(said.contains("validation-error") && kept * 10 <= of, "{said}");
    let text = dump(&out);
    assert!(text.contains("\"job 13 output\"") && !text.contains("[a]"), "{text}");
    replays(&out, "guest b's slice");
    // Guest a's calls are not guest b's.
    let (kept, _, _) = slice(&trace, &["--call", "0", "--guest", "a"], &dir.path().join("a.wgvt"));
    assert_eq!(kept, 1);
}

#[test]
fn every_slice_of_fuzzed_sequences_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (seeds, every) = (env("SLICE_SEEDS", 2), env("SLICE_EVERY", 10));
    let trace = record(dir.path(), &[guest("fuzz")], &["--seed", "1", "--seeds", &seeds.to_string(), "--steps", "300"]);
    let out = dir.path().join("slice.wgvt");
    let (_, calls, _) = slice(&trace, &["--call", "0"], &out);
    let mut kept_in_all = 0;
    for call in (0..calls).step_by(every as usize) {
        let (kept, _, said) = slice(&trace, &["--call", &call.to_string()], &out);
        replays(&out, &format!("the slice of call #{call} ({said})"));
        kept_in_all += kept;
    }
    let mut random = xorshift(0x5eed);
    for _ in 0..10 {
        let a = random() % calls;
        let b = (a + random() % 200).min(calls - 1);
        let (_, _, said) = slice(&trace, &["--calls", &format!("{a}..={b}")], &out);
        replays(&out, &format!("the slice of calls {a}..={b} ({said})"));
    }
    let (_, _, said) = slice(&trace, &["--first-error"], &out);
    replays(&out, &format!("the first error's slice ({said})"));
    // Slices are a small part of the sequences (each call's own, not the whole sequence's).
    assert!(kept_in_all * every < calls * calls / 10, "slices kept {kept_in_all} calls in all, of {calls}");
}

#[test]
fn what_cannot_be_sliced_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record(dir.path(), &[guest("compute")], &[]);
    let out = dir.path().join("x.wgvt");
    let refused = |args: &[&str], why: &str| {
        let o = webgpu_virt().args(["trace", "slice"]).arg(&trace).args(args).arg("-o").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && stderr.contains(why), "{args:?}: {stderr}");
    };
    refused(&["--call", "1000"], "call #1000 is not in the trace: it holds 31 calls");
    refused(&["--first-error"], "the trace reports no error");
    refused(&["--call", "3", "--guest", "a"], "it is not a pod's");
    refused(&["--calls", "5..5"], "holds no call");
    refused(&["--calls", "5-9"], "is not a range of calls");
    refused(&["--call", "1", "--first-error"], "cannot be used with");
    let garbage = dir.path().join("garbage.wgvt");
    std::fs::write(&garbage, b"not a trace").unwrap();
    let o = webgpu_virt().args(["trace", "slice"]).arg(&garbage).args(["--call", "0", "-o"]).arg(&out).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not a webgpu-virt trace"));
    assert!(!out.exists(), "nothing written for a refused slice");
}
