//! Replay: every guest's trace replays on the host with no divergence; a trace whose recorded
//! results were altered is caught at the call whose result it is, with the place and the values;
//! a cut trace replays up to the cut; the replayer component gives the same report on another
//! `wasi:webgpu` (the host through a virt); bad traces are named.

mod common;

use common::{check, guest, record, trace_tool, webgpu_virt};
use std::path::{Path, PathBuf};
use webgpu_virt_trace::{Reader, Record, hash::hash128, header, push};

/// `webgpu-virt replay` on `trace` (written to a fresh directory) with `flags`: exit code and
/// stdout.
fn replay(trace: &[u8], flags: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wgvt");
    std::fs::write(&path, trace).unwrap();
    let out = webgpu_virt().arg("replay").arg(&path).args(flags).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "the host panicked:\n{stderr}");
    (out.status.code().expect("an exit code"), String::from_utf8(out.stdout).unwrap())
}

/// The number of `Call` records in `trace`.
fn calls(trace: &[u8]) -> usize {
    Reader::new(trace).unwrap().records().filter(|r| matches!(r, Ok((_, Record::Call { .. })))).count()
}

/// `trace` with each record passed through `edit` (its number among records of its kind, and
/// the record): what it returns is written instead (hashes of blobs recomputed).
fn rewrite(trace: &[u8], mut edit: impl FnMut(usize, &Record<'_>) -> Option<Vec<u8>>) -> Vec<u8> {
    let reader = Reader::new(trace).unwrap();
    let mut out = header(&reader.header);
    let mut seen = std::collections::HashMap::new();
    for record in reader.records() {
        let (_, record) = record.unwrap();
        let kind = std::mem::discriminant(&record);
        let n = *seen.entry(kind).and_modify(|n| *n += 1).or_insert(0usize);
        let Some(bytes) = edit(n, &record) else {
            push(&mut out, &record);
            continue;
        };
        let changed = match record {
            Record::Blob { .. } => Record::Blob { hash: hash128(&bytes), data: &bytes },
            Record::Call { function, .. } => Record::Call { function, args: &bytes },
            Record::Return { call, .. } => Record::Return { call, value: &bytes },
            Record::Resolve { handle, .. } => Record::Resolve { handle, value: &bytes },
            Record::Drop { .. } | Record::Guest { .. } | Record::Tenant { .. } | Record::End { .. } | Record::GpuTime { .. } => {
                panic!("rewrite changes values, not drops, guests, ends or GPU times")
            }
        };
        push(&mut out, &changed);
    }
    out
}

/// The number and dump line of the first call whose line contains `what`.
fn find_call(trace: &[u8], what: &str) -> (usize, String) {
    let (dump, _) = trace_tool("dump", trace);
    let line = dump.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("no call of {what} in:\n{dump}"));
    let number = line.strip_prefix('#').and_then(|l| l.split(' ').next()).unwrap().parse().unwrap();
    (number, line.to_string())
}

#[test]
fn every_guest_replays_with_no_divergence() {
    // The benchmarks replay in the benchmark run (`cargo bench`), where replay is timed; `cli`
    // does not use the GPU, `crash` does not finish, `churn` makes 10,000 devices (a pod's test
    // of its own), `runaway` leaves its work running (its own test) and `service` is served, not
    // run (`serve.rs`).
    let own = ["cli", "crash", "churn", "runaway", "service"];
    let all = built_guests::ALL.iter().map(|(name, _)| *name).filter(|name| !name.starts_with("bench_") && !own.contains(name));
    for name in all {
        let (_, _, trace) = record(guest(name), &[]);
        let (code, report) = replay(&trace, &[]);
        assert_eq!(code, 0, "{name}:\n{report}");
        let first = report.lines().next().unwrap();
        assert!(first.starts_with(&format!("replayed {} calls of t.wgvt (", calls(&trace))), "{name}: {report}");
        assert!(report.ends_with("no divergence\n"), "{name}: {report}");
        assert!(!report.contains("cut off"), "{name}: {report}");
    }
}

#[test]
fn altered_read_back_data_is_caught_at_its_call() {
    let (_, _, trace) = record(guest("compute"), &[]);
    // The compute guest reads back its output once: the blob of that result.
    let (call, line) = find_call(&trace, "get-mapped-range-get-with-copy(");
    let blob: usize = line.rsplit("blob#").next().unwrap().split(' ').next().unwrap().parse().unwrap();
    let altered = rewrite(&trace, |n, r| match r {
        Record::Blob { data, .. } if n == blob => {
            let mut data = data.to_vec();
            data[12] ^= 0x40;
            Some(data)
        }
        _ => None,
    });
    let (code, report) = replay(&altered, &[]);
    assert_eq!(code, 1, "{report}");
    let at = format!("divergence at call #{call} ([method]gpu-buffer.get-mapped-range-get-with-copy), at ok\n");
    assert!(report.contains(&at), "{report}");
    let expected = report.lines().find_map(|l| l.strip_prefix("  expected: ")).unwrap();
    let got = report.lines().find_map(|l| l.strip_prefix("  got:      ")).unwrap();
    assert!(expected.ends_with(" at byte 12 of 4096"), "{report}");
    assert!(got.ends_with("(the first byte that differs)"), "{report}");
    assert_ne!(expected.split(' ').next(), got.split(' ').next(), "{report}");
    // The command line shows the call whole, as `trace dump` does.
    assert!(report.contains(&format!("  the call: {}", line.split(" -> ").next().unwrap())), "{report}");
    // Without verification, the calls are made and nothing is compared.
    let (code, report) = replay(&altered, &["--no-verify"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("results not compared (--no-verify)"), "{report}");
}

#[test]
fn an_altered_error_is_caught_at_its_call() {
    let (_, _, trace) = record(guest("errors"), &[]);
    // The first scope pop caught a validation error: `ok(some(gpu-error{kind, message}))`.
    let (call, line) = find_call(&trace, "pop-error-scope(");
    assert!(trace_tool("dump", &trace).0.contains(&format!("#{call} -> ok(some(gpu-error{{validation-error, ")), "{line}");
    let altered = rewrite(&trace, |_, r| match r {
        Record::Return { call: c, value } if *c == call as u64 => {
            let mut value = value.to_vec();
            assert_eq!(value[..3], [0, 1, 0], "ok, some, validation-error");
            value[2] = 1;
            Some(value)
        }
        _ => None,
    });
    let (code, report) = replay(&altered, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(&format!("divergence at call #{call} ([method]gpu-device.pop-error-scope), at ok.some.kind\n  expected: out-of-memory-error\n  got:      validation-error\n")), "{report}");
    // A different message is not a divergence: messages are the host's words.
    let (_, _, again) = record(guest("errors"), &[]);
    let reworded = rewrite(&again, |_, r| match r {
        Record::Return { call: c, value } if *c == call as u64 => {
            let mut value = value[..3].to_vec();
            value.extend([2 * 5, b'o', b't', b'h', b'e', b'r']);
            Some(value)
        }
        _ => None,
    });
    assert_eq!(replay(&reworded, &[]).0, 0);
}

#[test]
fn a_cut_trace_replays_up_to_the_cut() {
    let (_, _, trace) = record(guest("mapping"), &[]);
    // Cut inside a record (a cut between two records leaves a whole, shorter trace): a quarter
    // of the way, half way, and in the last record.
    let offsets: Vec<u64> = Reader::new(&trace).unwrap().records().map(|r| r.unwrap().0).collect();
    let inside = |i: usize| offsets[i] as usize + 1;
    for cut in [inside(offsets.len() / 4), inside(offsets.len() / 2), inside(offsets.len() - 1)] {
        let short = &trace[..cut];
        let (code, report) = replay(short, &[]);
        assert_eq!(code, 0, "cut at {cut}: {report}");
        assert!(report.starts_with(&format!("replayed {} calls of t.wgvt (", calls(short))), "cut at {cut}: {report}");
        assert!(report.contains("the trace is cut off at byte "), "cut at {cut}: {report}");
        assert!(report.contains("no divergence; the recording had no end: the application stopped after call #"), "cut at {cut}: {report}");
    }
    // `--until` stops after the call named.
    let (code, report) = replay(&trace, &["--until", "12"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.starts_with("replayed 13 calls of t.wgvt ("), "{report}");
    assert!(report.contains("stopped after call #12, as asked\n"), "{report}");
    // A compressed trace replays as the original.
    let packed = webgpu_virt::trace::compress(&trace).unwrap();
    assert_eq!(replay(&packed, &[]), replay(&trace, &[]));
}

/// Writes `bytes` to `dir/name`.
fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs `component` with `args` and `dir` preopened: exit code, stdout.
fn run_in(dir: &Path, component: &Path, args: &[&str]) -> (i32, String) {
    let out = webgpu_virt().arg("run").arg("--dir").arg(dir).arg(component).args(args).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn the_replayer_component_reports_the_same_on_another_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let replayer = dir.join("replayer.wasm");
    check(&webgpu_virt().arg("replayer").arg("-o").arg(&replayer).output().unwrap(), "replayer -o");
    // The same replayer on the host through a virt: another implementation of wasi:webgpu.
    let through = dir.join("replayer.virt.wasm");
    common::plug(&replayer, &[], &through);
    let (_, _, trace) = record(guest("uncaptured"), &[]);
    let (_, _, cut) = record(guest("render"), &[]);
    let (_, _, compute) = record(guest("compute"), &[]);
    let (call, _) = find_call(&compute, "get-mapped-range-get-with-copy(");
    let altered = rewrite(&compute, |_, r| match r {
        // `ok(blob#0)`: the guest's input, not its output.
        Record::Return { call: c, value } if *c == call as u64 => Some([&value[..1], &[0]].concat()),
        _ => None,
    });
    for (name, bytes) in [("ok.wgvt", &trace[..]), ("cut.wgvt", &cut[..cut.len() * 2 / 3]), ("altered.wgvt", &altered[..])] {
        save(dir, name, bytes);
        let out = webgpu_virt().arg("replay").arg(dir.join(name)).output().unwrap();
        let by_cli = String::from_utf8(out.stdout).unwrap();
        // The command line adds the call's dump line to a divergence; the component's report is
        // the rest.
        let report: String = by_cli.lines().filter(|l| !l.starts_with("  the call: ")).map(|l| format!("{l}\n")).collect();
        for component in [&replayer, &through] {
            let (code, text) = run_in(dir, component, &[name]);
            assert_eq!(text, report, "{name} on {}", component.display());
            assert_eq!(Some(code), out.status.code(), "{name} on {}", component.display());
        }
    }
}

#[test]
fn a_trace_recorded_under_a_quota_replays_under_the_same_quota() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_, _, trace) = record(guest("quota"), &["--max-memory", "1MiB"]);
    save(dir, "quota.wgvt", &trace);
    // Straight on the host, the refusals do not happen: the first is a divergence.
    let (code, report) = replay(&trace, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("divergence at call #"), "{report}");
    // Through the same quota, the replay is the recording.
    let replayer = dir.join("replayer.wasm");
    check(&webgpu_virt().arg("replayer").arg("-o").arg(&replayer).output().unwrap(), "replayer -o");
    let limited = dir.join("replayer.quota.wasm");
    common::plug(&replayer, &["--max-memory", "1MiB"], &limited);
    let (code, report) = run_in(dir, &limited, &["quota.wgvt"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.ends_with("no divergence\n"), "{report}");
}

#[test]
fn bad_traces_are_named() {
    let (_, _, trace) = record(guest("compute"), &[]);
    let (code, report) = replay(b"not a trace", &[]);
    assert_eq!(code, 1);
    assert_eq!(report, "cannot replay t.wgvt: not a webgpu-virt trace (it does not start with `WGVTRACE`)\n");
    // Recorded with another WIT: the header's hash is the WIT's.
    let mut other = trace.clone();
    let hash_at = 12 + 1 + "wasi:webgpu/webgpu@0.3.0-rc.2".len();
    other[hash_at] ^= 1;
    let (code, report) = replay(&other, &[]);
    assert_eq!(code, 1);
    assert!(report.contains("it was recorded with another WIT of `wasi:webgpu/webgpu@0.3.0-rc.2`"), "{report}");
    // A call on an object the trace never made: named with the call and the byte.
    let (call, line) = find_call(&trace, "[method]gpu-device.create-command-encoder(gpu-device#");
    let device: u64 = line.split("gpu-device#").nth(1).unwrap().split([',', ')']).next().unwrap().parse().unwrap();
    let dropped = {
        let reader = Reader::new(&trace).unwrap();
        let mut out = header(&reader.header);
        let mut n = 0;
        for record in reader.records() {
            let (_, record) = record.unwrap();
            if let Record::Call { .. } = record {
                if n == call {
                    push(&mut out, &Record::Drop { object: device });
                }
                n += 1;
            }
            push(&mut out, &record);
        }
        out
    };
    let (code, report) = replay(&dropped, &[]);
    assert_eq!(code, 1);
    assert!(
        report.contains(&format!("cannot replay call #{call} ([method]gpu-device.create-command-encoder) (trace byte ")),
        "{report}"
    );
    assert!(report.contains(&format!("object #{device} (a `gpu-device`) is not in the replay")), "{report}");
    // An end record that miscounts the calls before it: refused by the replayer as by the tools.
    let miscounted = {
        let reader = Reader::new(&trace).unwrap();
        let mut out = header(&reader.header);
        for record in reader.records() {
            match record.unwrap().1 {
                Record::End { calls } => push(&mut out, &Record::End { calls: calls + 1 }),
                record => push(&mut out, &record),
            }
        }
        out
    };
    let (code, report) = replay(&miscounted, &[]);
    assert_eq!(code, 1);
    let calls = calls(&trace);
    let said = format!("an end record after {calls} calls says {}", calls + 1);
    assert!(report.contains(&said), "{report}");
    let path = tempfile::tempdir().unwrap();
    let path = save(path.path(), "t.wgvt", &miscounted);
    let out = webgpu_virt().args(["trace", "stats"]).arg(&path).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(&said), "{out:?}");
}

/// Damaged traces: bytes changed, removed or added inside the payloads of whole records (the
/// framing kept, so that the damage reaches the decoding of arguments and results, the calls the
/// replay makes with what it decoded, and the checks). Replay ends with a report every time,
/// whether it diverged, found the trace corrupt or did not notice: never a trap of the replayer,
/// a panic of the host, or a hang. `REPLAY_FUZZ_ROUNDS` sets how many (40 by default).
#[test]
fn damaged_traces_replay_to_a_report_never_a_trap() {
    let rounds: usize = std::env::var("REPLAY_FUZZ_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(40);
    let traces: Vec<Vec<u8>> = ["compute", "errors", "lost", "uncaptured"].iter().map(|g| record(guest(g), &[]).2).collect();
    let mut next = common::xorshift(0x9e37_79b9_7f4a_7c15u64);
    let mut caught = 0;
    for round in 0..rounds {
        let trace = &traces[round % traces.len()];
        // A record with a payload of values (not a blob, whose hash would give the damage away).
        let payloads = Reader::new(trace).unwrap().records().filter(|r| matches!(r, Ok((_, Record::Call { .. } | Record::Return { .. } | Record::Resolve { .. })))).count();
        let target = next() as usize % payloads;
        let (op, pick, byte) = (next() % 3, next() as usize, next() as u8);
        let mut seen = 0;
        let damaged = rewrite(trace, |_, r| {
            let payload = match r {
                Record::Call { args, .. } => args,
                Record::Return { value, .. } | Record::Resolve { value, .. } => value,
                _ => return None,
            };
            seen += 1;
            if seen - 1 != target {
                return None;
            }
            let mut p = payload.to_vec();
            match (op, p.len()) {
                (0, n) if n > 0 => p[pick % n] = byte,
                (1, n) if n > 0 => {
                    p.remove(pick % n);
                }
                (_, n) => p.insert(pick % (n + 1), byte),
            }
            Some(p)
        });
        let (code, report) = replay(&damaged, &["--wait", "5"]);
        assert!(code == 0 || code == 1, "round {round}: exit {code}:\n{report}");
        assert!(report.starts_with("replayed ") || report.starts_with("cannot replay "), "round {round}:\n{report}");
        caught += usize::from(code == 1);
    }
    // Most damage is noticed (a value the calls decide, a shape, an object, the encoding).
    assert!(caught * 2 > rounds, "only {caught} of {rounds} damaged traces were noticed");
}

#[test]
fn the_compiled_replayer_is_cached_and_a_bad_entry_compiled_afresh() {
    let (_, _, trace) = record(guest("compute"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wgvt");
    std::fs::write(&path, &trace).unwrap();
    let cache = dir.path().join("cache");
    let replay = || {
        let out = webgpu_virt().env("WEBGPU_VIRT_CACHE_DIR", &cache).arg("replay").arg(&path).output().unwrap();
        check(&out, "replay");
        assert!(String::from_utf8_lossy(&out.stdout).ends_with("no divergence\n"));
    };
    let entry = || {
        let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(entries.len(), 1, "one entry, no temporary file left: {entries:?}");
        (entries[0].clone(), std::fs::read(&entries[0]).unwrap())
    };
    replay();
    let (file, good) = entry();
    assert!(good.starts_with(b"webgpu-virt-cc1\n"));
    replay();
    assert_eq!(entry().1, good, "loaded, not written again");
    // A damaged entry (a flipped byte in the compiled code), a cut one and a foreign one are
    // compiled afresh and written over.
    let mut damaged = good.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    for bad in [damaged, good[..good.len() / 3].to_vec(), b"\x7fELF not ours".to_vec()] {
        std::fs::write(&file, &bad).unwrap();
        replay();
        assert_eq!(entry().1, good);
    }
    // `run --cache` keeps any component there, and runs it the same from its entry.
    let runs = dir.path().join("runs");
    let run = |cache: bool| {
        let mut cmd = webgpu_virt();
        cmd.env("WEBGPU_VIRT_CACHE_DIR", &runs).arg("run");
        if cache {
            cmd.arg("--cache");
        }
        let out = cmd.arg(guest("compute")).output().unwrap();
        check(&out, "run");
        out.stdout
    };
    let plain = run(false);
    assert!(!runs.exists(), "nothing cached without --cache");
    assert_eq!(run(true), plain);
    assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 1);
    assert_eq!(run(true), plain, "from the cache");
}
