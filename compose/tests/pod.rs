//! Pods: several guests composed with one shared virt (`webgpu-virt plug --guest`), run at once
//! by `webgpu-virt run`, each isolated from the others on one host GPU device.

mod common;

use common::{GPU_GUESTS, check, guest, output_within, stat, webgpu_virt};
use std::path::{Path, PathBuf};
use std::process::Output;

/// `webgpu-virt plug --guest NAME=GUEST ... FLAGS -o pod.wasm` in `dir`: the pod's path.
fn plug(dir: &Path, guests: &[(&str, &str)], flags: &[&str]) -> PathBuf {
    let pod = dir.join("pod.wasm");
    let guests: Vec<(&str, &str)> = guests.iter().map(|(name, app)| (*name, guest(app))).collect();
    common::plug_pod(&guests, flags, &pod);
    pod
}

fn run(pod: &Path, args: &[&str]) -> Output {
    webgpu_virt().arg("run").arg("--stats").arg(pod).args(args).output().unwrap()
}

/// What `guest` prints alone, direct on the host.
fn solo(app: &str) -> String {
    let out = webgpu_virt().arg("run").arg(guest(app)).output().unwrap();
    check(&out, app);
    String::from_utf8(out.stdout).unwrap()
}

/// Fails unless every guest's solo output is in `pod`'s output, its lines in their order, and the
/// pod printed nothing else.
fn each_printed_its_solo_output(pod: &str, solos: &[(&str, String)]) {
    let lines: Vec<&str> = pod.lines().collect();
    let expected: usize = solos.iter().map(|(_, s)| s.lines().count()).sum();
    assert_eq!(lines.len(), expected, "the pod printed {} lines, its guests alone {expected}:\n{pod}", lines.len());
    for (name, solo) in solos {
        let mut rest = lines.iter();
        for line in solo.lines() {
            assert!(rest.any(|l| *l == line), "guest {name}'s line `{line}` is missing or out of order in the pod's output:\n{pod}");
        }
    }
}

#[test]
fn every_gpu_guest_in_one_pod_prints_its_solo_output() {
    let guests: Vec<(&str, &str)> = GPU_GUESTS.iter().map(|g| (*g, *g)).collect();
    let solos: Vec<(&str, String)> = guests.iter().map(|(name, app)| (*name, solo(app))).collect();
    let mut host_devices = Vec::new();
    for flags in [&[][..], &["--device-per-guest"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let pod = plug(dir.path(), &guests, flags);
        let out = run(&pod, &[]);
        check(&out, &format!("the pod {flags:?}"));
        each_printed_its_solo_output(&String::from_utf8(out.stdout).unwrap(), &solos);
        let stderr = String::from_utf8(out.stderr).unwrap();
        for (name, _) in &guests {
            assert!(stderr.contains(&format!("guest {name}: exited with 0")), "{flags:?}: no exit status of {name}:\n{stderr}");
        }
        host_devices.push(stat(&stderr, "host devices"));
    }
    // Shared, the guests asking for the same features and limits got one host device (a
    // guest asking for other limits gets one of its own); dedicated, each device its own.
    let [shared, dedicated] = host_devices[..] else { unreachable!() };
    assert!(shared < 5, "{shared} host devices for {} guests sharing", guests.len());
    assert!(dedicated >= guests.len() as u64, "{dedicated} host devices for {} guests, each with its own", guests.len());
}

#[test]
fn a_noisy_guest_leaves_its_neighbours_untouched() {
    // Beside it: a guest listening to uncaptured errors, one using error scopes, one that
    // destroys its own device.
    let quiet = ["uncaptured", "errors", "lost", "compute"];
    let solos: Vec<(&str, String)> = quiet.iter().map(|g| (*g, solo(g))).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut guests = vec![("noisy", "noisy")];
    guests.extend(quiet.iter().map(|g| (*g, *g)));
    let pod = plug(dir.path(), &guests, &["--max-memory", "8MiB", "--max-in-flight", "4"]);
    let out = run(&pod, &[]);
    check(&out, "the pod with a noisy guest");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (noisy, theirs): (Vec<&str>, Vec<&str>) = stdout.lines().partition(|l| l.starts_with("noisy: "));
    assert_eq!(noisy, ["noisy: allocated 8 MiB, refused: true", "noisy: lost, reason GpuDeviceLostReason::Destroyed"]);
    each_printed_its_solo_output(&theirs.join("\n"), &solos);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stat(&stderr, "quota noisy memory peak"), 8 << 20);
    assert!(stat(&stderr, "quota compute memory peak") < 1 << 20);
}

#[test]
fn per_guest_and_pool_quotas_both_hold() {
    let dir = tempfile::tempdir().unwrap();
    let pod = plug(dir.path(), &[("a", "noisy"), ("b", "noisy")], &["--max-memory", "16MiB", "--pool-max-memory", "24MiB"]);
    let out = run(&pod, &[]);
    check(&out, "two noisy guests");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let (a, b) = (stat(&stderr, "quota a memory peak"), stat(&stderr, "quota b memory peak"));
    assert!(a <= 16 << 20 && b <= 16 << 20, "a guest took more than its quota: {a}, {b}");
    assert!(stat(&stderr, "quota pool memory peak") <= 24 << 20);
    assert_eq!(a + b, 24 << 20, "together they filled the pool");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("refused: true").count(), 2, "{stdout}");
    // Both destroyed their devices: nothing is left charged.
    assert_eq!(stat(&stderr, "quota pool memory"), 0);
}

#[test]
fn a_trapping_guest_is_named_and_stops_its_pod() {
    let dir = tempfile::tempdir().unwrap();
    let pod = plug(dir.path(), &[("noisy", "noisy"), ("calm", "compute")], &[]);
    let out = run(&pod, &["--trap"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("guest noisy: trapped"), "{stderr}");
    // The other guest either finished first or was stopped with it, and is told so.
    assert!(
        stderr.contains("guest calm: exited with 0") || stderr.contains("guest calm: stopped: guest noisy trapped, and a trap ends every guest of a pod"),
        "{stderr}"
    );
}

#[test]
fn bad_pods_are_refused_with_one_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("pod.wasm");
    let cli = guest("cli");
    let compute = guest("compute");
    let service = guest("service");
    let not_a_component = dir.path().join("junk.wasm");
    std::fs::write(&not_a_component, b"\0asm\x01\0\0\0").unwrap();
    let junk = not_a_component.to_str().unwrap();
    for (guests, expected) in [
        (vec![format!("a={compute}"), format!("a={compute}")], "the guest name `a` is given twice".to_string()),
        (vec![format!("A={compute}")], "`A` is not a valid guest name".to_string()),
        (vec![format!("a-={compute}")], "`a-` is not a valid guest name".to_string()),
        (vec![format!("a={compute}"), format!("b={junk}")], "guest `b` is not a WebAssembly component".to_string()),
        (vec![format!("a={compute}"), format!("b={cli}")], "guest `b` does not import wasi:webgpu/webgpu@0.3.0-rc.2".to_string()),
        (vec![format!("a={compute}"), "b".to_string()], "`b` is not NAME=APP.wasm".to_string()),
        (vec![format!("a={service}"), format!("b={compute}")], "guest `b` is a command (it exports wasi:cli/run@0.3.0) and guest `a` a service".to_string()),
        ((0..17).map(|i| format!("s{i}={service}")).collect(), "a pod serves at most 16 services, and 17 were given".to_string()),
    ] {
        let mut cmd = webgpu_virt();
        cmd.arg("plug");
        for g in &guests {
            cmd.arg("--guest").arg(g);
        }
        let out = cmd.arg("-o").arg(&out_path).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{guests:?}: {stderr}");
        assert!(stderr.contains(&expected), "{guests:?}: expected `{expected}` in:\n{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{guests:?}: more than one line:\n{stderr}");
        assert!(!out_path.exists(), "{guests:?}: a pod was written");
    }
}

#[test]
fn a_config_file_gives_guests_their_own_policies() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pod.toml");
    std::fs::write(&config, "max-memory = \"4MiB\"\n[pool]\nmax-memory = \"64MiB\"\n[guests.b]\nmax-memory = \"2MiB\"\n").unwrap();
    let pod = plug(dir.path(), &[("a", "noisy"), ("b", "noisy")], &["--config", config.to_str().unwrap()]);
    let out = run(&pod, &[]);
    check(&out, "a pod with a config file");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stat(&stderr, "quota a memory peak"), 4 << 20);
    assert_eq!(stat(&stderr, "quota b memory peak"), 2 << 20);
    assert_eq!(stat(&stderr, "quota pool memory limit"), 64 << 20);

    // A policy for a guest the pod does not have, and a pod-wide setting in a guest's policy.
    for (text, expected) in [
        ("[guests.c]\nmax-memory = 1\n", "the configuration has a policy for guest `c`, which is not one of the pod's guests"),
        ("[guests.a]\nrecord = \"t.wgvt\"\n", "`record` is set for the whole pod, not for one guest (found in the policy of guest `a`)"),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = webgpu_virt()
            .args(["plug", "--guest", &format!("a={}", guest("compute")), "--config", config.to_str().unwrap(), "-o"])
            .arg(dir.path().join("bad.wasm"))
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(expected), "expected `{expected}` in:\n{stderr}");
        assert!(!dir.path().join("bad.wasm").exists());
    }
}

#[test]
fn a_pod_holds_one_virt_and_a_small_shim_per_guest() {
    // The pod holds the virt once and one small shim per guest: no stacked virt.
    let dir = tempfile::tempdir().unwrap();
    let pod = std::fs::read(plug(dir.path(), &[("a", "compute"), ("b", "compute"), ("c", "compute")], &[])).unwrap();
    let virt = webgpu_virt::VIRT;
    let slots = pod.windows(16).filter(|w| *w == &webgpu_virt_config::slot::MAGIC[..]).count();
    assert_eq!(slots, 1, "the pod holds one virt");
    let guest_size = std::fs::read(guest("compute")).unwrap().len();
    let overhead = pod.len() - virt.len() - 3 * guest_size;
    assert!(overhead < 3 * 100_000, "three shims and the wiring take {overhead} bytes");
}

#[test]
fn wac_builds_the_same_pod_from_the_configured_virt_and_the_shims() {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let cli = |args: &[&str]| check(&webgpu_virt().args(args).output().unwrap(), &format!("{args:?}"));
    cli(&["configure", "--pod", "a,b", "--max-memory", "3MiB", "-o", path("virt.wasm").to_str().unwrap()]);
    cli(&["shim", "0", "-o", path("shim-a.wasm").to_str().unwrap()]);
    cli(&["shim", "1", "-o", path("shim-b.wasm").to_str().unwrap()]);

    // What a WAC file says (see docs/pods.md): the virt, a shim per guest wired to the virt's
    // two exports, each guest given its shim's instance as its wasi:webgpu.
    let mut graph = CompositionGraph::new();
    let add = |graph: &mut CompositionGraph, name: &str, bytes: Vec<u8>| {
        let package = Package::from_bytes(name, None, bytes, graph.types_mut()).unwrap();
        graph.register_package(package).unwrap()
    };
    let virt = add(&mut graph, "webgpu-virt:virt", std::fs::read(path("virt.wasm")).unwrap());
    let virt = graph.instantiate(virt);
    let webgpu = graph.alias_instance_export(virt, webgpu_virt::WEBGPU).unwrap();
    let tenancy = graph.alias_instance_export(virt, webgpu_virt::TENANCY).unwrap();
    for name in ["a", "b"] {
        let shim = add(&mut graph, &format!("webgpu-virt:shim-{name}"), std::fs::read(path(&format!("shim-{name}.wasm"))).unwrap());
        let shim = graph.instantiate(shim);
        graph.set_instantiation_argument(shim, webgpu_virt::WEBGPU, webgpu).unwrap();
        graph.set_instantiation_argument(shim, webgpu_virt::TENANCY, tenancy).unwrap();
        let app = add(&mut graph, &format!("app:{name}"), std::fs::read(guest("noisy")).unwrap());
        let app = graph.instantiate(app);
        graph.set_instantiation_argument(app, webgpu_virt::WEBGPU, shim).unwrap();
        let run = graph.alias_instance_export(app, webgpu_virt::pod::RUN).unwrap();
        graph.export(run, name).unwrap();
    }
    let stats = graph.alias_instance_export(virt, webgpu_virt::STATS).unwrap();
    graph.export(stats, webgpu_virt::STATS).unwrap();
    std::fs::write(path("pod.wasm"), graph.encode(EncodeOptions::default()).unwrap()).unwrap();

    let out = run(&path("pod.wasm"), &[]);
    check(&out, "the pod wac built");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stat(&stderr, "quota a memory peak"), 3 << 20);
    assert_eq!(stat(&stderr, "quota b memory peak"), 3 << 20);
    assert_eq!(String::from_utf8(out.stdout).unwrap().matches("noisy: allocated 3 MiB, refused: true").count(), 2);
}

#[test]
fn no_more_than_the_caps_are_ever_in_flight() {
    // Two guests that hold work in order and check it, and a flooding one, under a cap of 2 in
    // flight per guest and 3 for the pod: each prints what it prints alone, and the virt's
    // figures show the caps were never passed.
    let dir = tempfile::tempdir().unwrap();
    let pod = plug(dir.path(), &[("a", "flood"), ("b", "flood"), ("c", "bench_flood")], &["--max-in-flight", "2", "--pool-max-in-flight", "3"]);
    let out = run(&pod, &["--ms", "300", "--work", "64"]);
    check(&out, "a pod of floods under caps");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let flood = solo("flood");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.contains("flood")).collect();
    each_printed_its_solo_output(&lines.join("\n"), &[("a", flood.clone()), ("b", flood)]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let pool = stat(&stderr, "quota pool most in flight");
    assert!((1..=3).contains(&pool), "the pool had {pool} in flight at most:\n{stderr}");
    let mut devices = 0;
    for line in stderr.lines().filter(|l| l.contains(" device ") && l.contains("most in flight")) {
        let most: u64 = line.split_whitespace().last().unwrap().parse().unwrap();
        assert!(most <= 2, "{line}");
        devices += 1;
    }
    assert_eq!(devices, 3, "{stderr}");
    for guest in ["a", "b", "c"] {
        let held: u64 = stderr
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("quota {guest} device")) && l.contains("submissions held"))
            .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
            .sum();
        assert!(held > 0, "guest {guest} never waited: the caps did nothing\n{stderr}");
    }
}

#[test]
fn a_pod_records_one_trace_that_replays_whole_and_guest_by_guest() {
    let dir = tempfile::tempdir().unwrap();
    let guests = [("a", "compute"), ("b", "errors"), ("c", "uncaptured")];
    let pod = plug(dir.path(), &guests, &["--record", "pod.wgvt"]);
    let out = webgpu_virt().arg("run").arg("--dir").arg(dir.path()).arg(&pod).output().unwrap();
    check(&out, "the recorded pod");
    let solos: Vec<(&str, String)> = guests.iter().map(|(name, app)| (*name, solo(app))).collect();
    each_printed_its_solo_output(&String::from_utf8(out.stdout).unwrap(), &solos);
    let trace = dir.path().join("pod.wgvt");

    // Every call is shown with its guest; the stats count each guest's calls.
    let dump = String::from_utf8(webgpu_virt().args(["trace", "dump"]).arg(&trace).output().unwrap().stdout).unwrap();
    for (name, _) in guests {
        assert!(dump.contains(&format!("[{name}] get-gpu()")) && dump.contains(&format!("[{name}] [method]gpu.request-adapter(")), "{name}:\n{dump}");
    }
    let stats = String::from_utf8(webgpu_virt().args(["trace", "stats"]).arg(&trace).output().unwrap().stdout).unwrap();
    let total: u64 = stats.lines().find_map(|l| l.strip_prefix("calls: ")).unwrap().parse().unwrap();
    let per_guest: Vec<u64> = guests
        .iter()
        .map(|(name, _)| {
            let line = stats.lines().find(|l| l.starts_with(&format!("guest {name}: "))).unwrap_or_else(|| panic!("no line for guest {name}:\n{stats}"));
            line.split_whitespace().nth(2).unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(per_guest.iter().sum::<u64>(), total, "{stats}");
    // Memory over time, drawn: a line per guest, named in the legend.
    let svg = dir.path().join("memory.svg");
    check(&webgpu_virt().args(["trace", "stats", "--plot"]).arg(&svg).arg(&trace).output().unwrap(), "trace stats --plot");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("GPU memory held, pod.wgvt"), "{svg}");
    for (name, _) in guests {
        assert!(svg.contains(&format!(">\n{name}\n</text>")), "no legend for guest {name}:\n{svg}");
    }
    assert!(svg.matches("<polyline").count() >= 3, "a line per guest");

    // The whole pod replays, and each guest alone.
    let replay = |args: &[&str]| {
        let out = webgpu_virt().arg("replay").args(args).arg(&trace).output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap())
    };
    let (code, report) = replay(&[]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains(&format!("replayed {total} calls of pod.wgvt")) && report.contains("no divergence"), "{report}");
    for ((name, _), calls) in guests.iter().zip(per_guest) {
        let (code, report) = replay(&["--guest", name]);
        assert_eq!(code, Some(0), "{name}: {report}");
        assert!(report.contains(&format!("replayed {calls} calls of guest {name} of pod.wgvt")) && report.contains("no divergence"), "{name}: {report}");
    }
    let (code, report) = replay(&["--guest", "d"]);
    assert_ne!(code, Some(0));
    assert!(report.contains("cannot replay guest d of pod.wgvt: it has no such guest (its guests: a, b, c)"), "{report}");
}

#[test]
fn the_runtime_losing_the_shared_host_device_reaches_every_guest() {
    // Each guest destroying its own device loses only its own virtual device ...
    let dir = tempfile::tempdir().unwrap();
    let pod = plug(dir.path(), &[("a", "loss"), ("b", "loss"), ("calm", "compute")], &[]);
    let out = run(&pod, &[]);
    check(&out, "a pod of guests destroying their devices");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = |stdout: &str, line: &str| stdout.lines().filter(|l| *l == line).count();
    assert_eq!(lines(&stdout, "loss: reason=GpuDeviceLostReason::Destroyed"), 2, "{stdout}");
    assert_eq!(lines(&stdout, "loss: uncaptured stream ends: true"), 2, "{stdout}");
    assert!(stdout.contains(&solo("compute")), "{stdout}");
    // ... and the host device shared by all of them, lost by the runtime, reaches every one.
    let pod = plug(dir.path(), &[("a", "loss"), ("b", "loss")], &[]);
    let out = webgpu_virt().arg("run").arg(&pod).arg("--wait-for-loss").env("WEBGPU_HOST_LOSE_DEVICES_AFTER_MS", "1500").output().unwrap();
    check(&out, "a pod whose host device is lost");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines(&stdout, "loss: reason=GpuDeviceLostReason::Unknown"), 2, "{stdout}");
    assert_eq!(lines(&stdout, "loss: uncaptured stream ends: true"), 2, "{stdout}");
    assert_eq!(lines(&stdout, "loss: lost after loss: reason=GpuDeviceLostReason::Unknown"), 2, "{stdout}");
}

#[test]
fn weighted_guests_take_turns_for_the_pool_and_none_is_left_waiting() {
    // A guest of weight 2 that stops submitting in the middle of its turn must not keep the
    // others waiting.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pod.toml");
    std::fs::write(&config, "[pool]\nmax-in-flight = 2\n[guests.a]\nweight = 2\n").unwrap();
    let pod = plug(dir.path(), &[("a", "bench_flood"), ("b", "bench_flood")], &["--config", config.to_str().unwrap()]);
    for _ in 0..3 {
        let out = output_within(webgpu_virt().args(["run", "--stats"]).arg(&pod).args(["--ms", "400", "--work", "64"]), 120);
        check(&out, "two weighted flooders");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!((1..=2).contains(&stat(&stderr, "quota pool most in flight")), "{stderr}");
        assert_eq!(String::from_utf8(out.stdout).unwrap().matches("bench flood: ").count(), 2);
    }
}

#[test]
fn errors_nobody_catches_are_counted_and_can_be_logged() {
    // On the host device it shares with a neighbour, the noisy guest's 200 validation errors
    // (no scope open, no one listening) are the virt's to deliver, and reach no one: its stats
    // count them with the last one's words ...
    let dir = tempfile::tempdir().unwrap();
    let pod = plug(dir.path(), &[("noisy", "noisy"), ("calm", "compute")], &[]);
    let out = run(&pod, &[]);
    check(&out, "the pod with a noisy guest");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let logged = |stderr: &str| stderr.lines().filter(|l| l.starts_with("webgpu-virt: noisy uncaptured validation-error: ")).count();
    assert_eq!(stat(&stderr, "errors noisy undelivered"), 200, "{stderr}");
    let last = stderr.lines().find(|l| l.starts_with("  errors noisy last undelivered: validation-error: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(last.contains("Caused by"), "{last}");
    assert!(!stderr.contains("calm undelivered"), "{stderr}");
    assert_eq!(logged(&stderr), 0, "{stderr}");
    // ... and with --log-errors, each goes to stderr as it happens.
    let pod = plug(dir.path(), &[("noisy", "noisy"), ("calm", "compute")], &["--log-errors"]);
    let out = run(&pod, &[]);
    check(&out, "the pod with a noisy guest, logging");
    assert_eq!(logged(&String::from_utf8(out.stderr).unwrap()), 200);
}

#[test]
fn devices_made_and_dropped_by_the_thousand_keep_the_virts_bookkeeping_bounded() {
    // A guest of a pod (its devices are virtual, on one host device: cheap to make) makes and
    // drops 10,000 devices, each with a buffer it keeps and one over its quota.
    let dir = tempfile::tempdir().unwrap();
    let pod = plug(dir.path(), &[("a", "churn"), ("b", "compute")], &["--max-memory", "64KiB"]);
    let out = output_within(webgpu_virt().arg("run").arg("--stats").arg(&pod), 600);
    check(&out, "a pod making 10,000 devices");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("10000 devices made and dropped, 10000 buffers refused"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    // The totals are right: every refusal counted, nothing left charged.
    assert_eq!(stat(&stderr, "quota a refused"), 10_000, "{stderr}");
    assert_eq!(stat(&stderr, "quota a memory"), 0, "{stderr}");
    assert_eq!(stat(&stderr, "quota a memory peak"), 1024, "{stderr}");
    // The bookkeeping is bounded: a few devices keep rows of their own, the rest are folded.
    let rows: std::collections::HashSet<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("quota a device ")?.split_whitespace().next())
        .collect();
    assert!(rows.len() <= 16, "{} devices of a kept rows of their own", rows.len());
    let folded = stat(&stderr, "quota a retired devices");
    assert_eq!(folded + rows.len() as u64, 10_000, "{stderr}");
    assert_eq!(stat(&stderr, "quota a retired devices refused") + rows.len() as u64, 10_000, "{stderr}");
    assert_eq!(stat(&stderr, "quota a retired devices memory peak"), 1024, "{stderr}");
}
