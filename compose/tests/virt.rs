//! The virt: every guest prints exactly what it prints on the host directly, through one virt,
//! through two stacked virts, through a virt with policies (a quota they all fit in among them)
//! and through a virt timing the GPU under a generous limit; the virt and the compositions
//! import only what they should; the virt forwards every function of the WIT; configurations
//! are baked in and read back; the call counter counts.

mod common;

use common::{GPU_GUESTS, check, covered, guest, record, stat, trace_tool, webgpu_virt};
use built_guests as guests;
use std::path::Path;
use wasmtime::component::types::ComponentItem;

/// Runs a component file; its stdout, after checking it exited cleanly.
fn run(path: &std::path::Path) -> String {
    let out = webgpu_virt().arg("run").arg(path).output().expect("running webgpu-virt");
    check(&out, &path.display().to_string());
    String::from_utf8(out.stdout).unwrap()
}

macro_rules! through_the_virt {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let app = guest(stringify!($name));
                let dir = tempfile::tempdir().unwrap();
                let once = dir.path().join("once.wasm");
                let twice = dir.path().join("twice.wasm");
                let policies = dir.path().join("policies.wasm");
                let timed = dir.path().join("timed.wasm");
                common::plug(app, &[], &once);
                common::plug(&once, &[], &twice);
                common::plug(app, &["--count-calls", "--noop", "--max-memory", "64GiB"], &policies);
                common::plug(app, &["--max-submission-time", "60s"], &timed);
                let direct = run(app.as_ref());
                assert_eq!(run(&once), direct, "output through the virt");
                assert_eq!(run(&twice), direct, "output through two stacked virts");
                assert_eq!(run(&policies), direct, "output through a virt with policies");
                assert_eq!(run(&timed), direct, "output through a virt timing the GPU, under a generous limit");
            }
        )*

        #[test]
        fn every_gpu_guest_runs_through_the_virt() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in guests::ALL {
                assert!(covered(name, &tested), "guest `{name}` is not run through the virt");
            }
        }
    };
}

through_the_virt!(compute, render, mapping, copies, textures, bundles, queries, errors, uncaptured, lost, labels, limits, invalid, flood, devices, loops, chunks, draws, jobs);

#[test]
fn benchmark_guests_agree_through_the_virt() {
    let dir = tempfile::tempdir().unwrap();
    let results = |path: &std::path::Path, args: &[&str]| -> Vec<String> {
        let out = webgpu_virt().arg("run").arg(path).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().filter(|l| l.starts_with("result:")).map(String::from).collect()
    };
    for (name, args) in [
        ("bench_calls", &["--n", "2000"][..]),
        ("bench_trivial", &["--n", "1000"]),
        ("bench_data", &["--n", "2"]),
        ("bench_matmul", &["--n", "64", "--repeat", "1"]),
        // Dispatches of 128 and 512 workgroups: a time limit cuts them, and the layers after
        // the first go whole, measured by the first's chunks.
        ("bench_infer", &["--hidden", "64", "--layers", "3", "--batch", "512", "--steps", "2"]),
    ] {
        let app = guest(name);
        let direct = results(app.as_ref(), args);
        assert_eq!(direct.len(), 1, "{name}");
        // Through the plain virt, and with every GPU-time limit set generously (the matmul's and
        // the inference-like job's loops are bounded then).
        let limits = ["--max-submission-time", "60s", "--max-gpu-share", "100%"];
        for (what, flags) in [("plain", &[][..]), ("limited", &limits[..])] {
            let composed = dir.path().join(format!("{name}.{what}.wasm"));
            common::plug(app, flags, &composed);
            assert_eq!(results(&composed, args), direct, "{name}, {what}");
        }
    }
    // The benchmarks' floor: the bare forwarder in front of the hop guest.
    let hop = std::fs::read(guest("bench_hop")).unwrap();
    let forwarded = dir.path().join("hop.wasm");
    std::fs::write(&forwarded, common::wac_plug_any(&hop, &std::fs::read(guest("bench_hop_forwarder")).unwrap())).unwrap();
    let args = ["--n", "1000", "--mib", "3"];
    assert_eq!(results(&forwarded, &args), ["result: sum=2000 bytes=3145728"]);
    // The trace's hash, as built for Wasm, computes the published XXH3-128.
    assert_eq!(results(guest("bench_hash").as_ref(), &["--mib", "1"]), ["result: XXH3-128 of nothing: 99aa06d3014798d86001c324468d497f"]);
}

#[test]
fn the_virt_imports_and_exports_only_webgpu() {
    assert_eq!(webgpu_virt::imports(webgpu_virt::VIRT).unwrap(), [webgpu_virt::WEBGPU]);
}

/// The names the outermost component exports.
fn exports(bytes: &[u8]) -> Vec<String> {
    let engine = host_test::run::engine().unwrap();
    let component = wasmtime::component::Component::new(&engine, bytes).unwrap();
    let mut names: Vec<String> = component.component_type().exports(&engine).map(|(n, _)| n.to_string()).collect();
    names.sort();
    names
}

#[test]
fn a_composition_imports_what_the_app_imported() {
    for (name, path) in guests::ALL {
        let app = std::fs::read(path).unwrap();
        // `cli`, the bare-hop and the hash benchmarks do not use wasi:webgpu.
        if matches!(*name, "cli" | "bench_hop" | "bench_hop_forwarder" | "bench_hash") {
            assert!(!webgpu_virt::imports(&app).unwrap().iter().any(|i| i == webgpu_virt::WEBGPU), "{name}");
            continue;
        }
        let mut want = webgpu_virt::imports(&app).unwrap();
        want.sort();
        for composed in [webgpu_virt::plug(&app, webgpu_virt::VIRT).unwrap(), webgpu_virt::wac_plug(&app, webgpu_virt::VIRT).unwrap()] {
            let mut got = webgpu_virt::imports(&composed).unwrap();
            got.sort();
            assert_eq!(got, want, "{name}");
        }
    }
}

#[test]
fn plug_adds_the_stats_export_and_wac_plug_only_the_apps() {
    let app = std::fs::read(guest("compute")).unwrap();
    let app_exports = exports(&app);
    assert_eq!(exports(&webgpu_virt::wac_plug(&app, webgpu_virt::VIRT).unwrap()), app_exports);
    let plugged = webgpu_virt::plug(&app, webgpu_virt::VIRT).unwrap();
    let mut want = app_exports.clone();
    want.push(webgpu_virt::STATS.to_string());
    want.sort();
    assert_eq!(exports(&plugged), want);
    // A second virt keeps the first one's stats: the application's exports are kept as they are.
    assert_eq!(exports(&webgpu_virt::plug(&plugged, webgpu_virt::VIRT).unwrap()), want);
}

#[test]
fn wac_plug_compositions_run_like_the_app() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["compute", "errors", "lost"] {
        let app = guest(name);
        let composed = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&composed, webgpu_virt::wac_plug(&std::fs::read(app).unwrap(), webgpu_virt::VIRT).unwrap()).unwrap();
        assert_eq!(run(&composed), run(app.as_ref()), "{name}");
    }
}

#[test]
fn plug_says_what_is_wrong() {
    let p2 = std::fs::read(guests::P2_COMMAND).unwrap();
    let e = webgpu_virt::plug(&p2, webgpu_virt::VIRT).unwrap_err().to_string();
    assert!(e.contains("does not import wasi:webgpu/webgpu@0.3.0-rc.2") && e.contains("wasi:cli/"), "{e}");
    let e = webgpu_virt::plug(b"\0asm\x01\0\0\0", webgpu_virt::VIRT).unwrap_err().to_string();
    assert_eq!(e, "the application is not a WebAssembly component");
    let app = std::fs::read(guest("compute")).unwrap();
    let e = webgpu_virt::plug(&app, b"not wasm").unwrap_err().to_string();
    assert_eq!(e, "the virt is not a WebAssembly component");

    let out = webgpu_virt().args(["plug", guests::P2_COMMAND, "-o", "/dev/null"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("does not import wasi:webgpu"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");

    // An application made for another version of wasi:webgpu.
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str("old.wit", "package wasi:webgpu@0.2.0;\ninterface webgpu { get-gpu: func(); }\nworld app { import webgpu; }")
        .unwrap();
    let world = resolve.select_world(&[pkg], Some("app")).unwrap();
    let mut module = wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).unwrap();
    let old = wit_component::ComponentEncoder::default().module(&module).unwrap().encode().unwrap();
    let e = webgpu_virt::plug(&old, webgpu_virt::VIRT).unwrap_err().to_string();
    assert_eq!(e, "the application imports wasi:webgpu/webgpu@0.2.0, but this virt serves wasi:webgpu/webgpu@0.3.0-rc.2");
}

/// The functions of an instance type.
fn functions(engine: &wasmtime::Engine, item: ComponentItem) -> usize {
    match item {
        ComponentItem::ComponentInstance(i) => {
            i.exports(engine).filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_))).count()
        }
        _ => 0,
    }
}

#[test]
fn the_virt_forwards_every_function() {
    let engine = host_test::run::engine().unwrap();
    let virt = wasmtime::component::Component::new(&engine, webgpu_virt::VIRT).unwrap();
    let ty = virt.component_type();
    let webgpu = |(name, e): (&str, _)| if name == webgpu_virt::WEBGPU { functions(&engine, e) } else { 0 };
    let exported: usize = ty.exports(&engine).map(|(n, e)| webgpu((n, e.ty))).sum();
    let imported: usize = ty.imports(&engine).map(|(n, e)| webgpu((n, e.ty))).sum();
    // 227 functions and 2 constructors, as in the WIT (see host-test's coverage test).
    assert_eq!((exported, imported), (229, 229));
    println!("virt functions forwarded: 227/227 (and 2/2 constructors)");
}

#[test]
fn configure_bakes_the_policy_and_plug_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let virt = dir.path().join("virt.wasm");
    let configure = |args: &[&str]| {
        let out = webgpu_virt().arg("configure").args(args).arg("-o").arg(&virt).output().unwrap();
        check(&out, "configure");
        std::fs::read(&virt).unwrap()
    };
    // No policy: the pure pass-through, byte for byte.
    assert_eq!(configure(&[]), webgpu_virt::VIRT);
    let counting = configure(&["--count-calls"]);
    let want = webgpu_virt::Config { count_calls: true, ..Default::default() };
    assert_eq!(webgpu_virt::configuration(&counting).unwrap(), want);
    let toml = dir.path().join("virt.toml");
    std::fs::write(&toml, "# the call counter\ncount-calls = true\n").unwrap();
    assert_eq!(configure(&["--config", toml.to_str().unwrap()]), counting);
    assert_eq!(webgpu_virt::imports(&counting).unwrap(), [webgpu_virt::WEBGPU]);

    // `plug --virt FILE` and `plug FLAGS` compose what the library's `plug` composes.
    let app = guest("compute");
    let want = webgpu_virt::plug(&std::fs::read(app).unwrap(), &counting).unwrap();
    let out = dir.path().join("out.wasm");
    for flags in [&["--virt", virt.to_str().unwrap()][..], &["--count-calls"]] {
        common::plug(app, flags, &out);
        assert!(std::fs::read(&out).unwrap() == want, "plug {flags:?} composes another component");
    }

    // Every setting, from flags and from a file alike.
    let flags = ["--max-memory", "256MiB", "--deny-feature", "subgroups", "--deny-feature", "shader-f16", "--mask-adapter-info", "--noop"];
    let sandbox = configure(&flags);
    std::fs::write(&toml, "max-memory = \"256MiB\"\ndeny-features = [\"subgroups\", \"shader-f16\"]\nmask-adapter-info = true\nnoop = true\n").unwrap();
    assert_eq!(configure(&["--config", toml.to_str().unwrap()]), sandbox);
    let config = webgpu_virt::configuration(&sandbox).unwrap();
    assert_eq!((config.max_memory, config.deny_features.len(), config.mask_adapter_info), (Some(webgpu_virt::Size(256 << 20)), 2, true));
}

/// Runs `webgpu-virt` expecting it to fail with exit status 2; its one-line message.
fn failure(args: &[&std::ffi::OsStr]) -> String {
    let out = webgpu_virt().args(args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn bad_configurations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("virt.toml");
    let out = dir.path().join("virt.wasm");
    let configure = |text: &str| {
        std::fs::write(&toml, text).unwrap();
        failure(&["configure".as_ref(), "--config".as_ref(), toml.as_os_str(), "-o".as_ref(), out.as_os_str()])
    };
    let e = configure("count-calls = true\nmax-memroy = 5\n");
    assert!(e.contains("virt.toml:2:1: unknown field `max-memroy`, expected one of `noop`, `count-calls`, `max-memory`, `max-buffer-size`, `max-texture-dimension`, `max-objects`, `max-write-size`, `max-in-flight`, `record`, `record-batched`, `weight`, `deny-features`, `mask-adapter-info`, `log-errors`, `log-stats`, `gpu-time`, `max-submission-time`, `max-gpu-share`, `max-loop-iterations`, `pool`, `guests` (at `max-memroy = 5`)"), "{e}");
    let e = configure("count-calls = \"yes\"\n");
    assert!(e.contains("virt.toml:1:15: invalid type: string \"yes\", expected a boolean (at `count-calls = \"yes\"`)"), "{e}");
    let e = configure("count-calls = [");
    assert!(e.contains("virt.toml:1:"), "{e}");
    let e = configure("max-memory = \"2 parsecs\"");
    assert!(e.contains("virt.toml:1:14: the unit of a size is one of B, KiB, MiB, GiB, TiB, kB, MB, GB, TB (at `max-memory = \"2 parsecs\"`)"), "{e}");
    let e = configure("max-submission-time = 2");
    assert!(e.contains("virt.toml:1:23: a duration needs a unit: ns, us, ms, s or m (2s, 500ms) (at `max-submission-time = 2`)"), "{e}");
    let e = configure("max-submission-time = \"0s\"");
    assert!(e.contains("a duration of zero lets no work run"), "{e}");
    let e = configure("deny-features = [\"warp-drive\"]");
    assert!(e.contains("configuring the virt: `warp-drive` is not a feature of wasi:webgpu (its features: core-features-and-limits, "), "{e}");
    let missing = dir.path().join("missing.toml");
    let e = failure(&["configure".as_ref(), "--config".as_ref(), missing.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(e.contains("reading ") && e.contains("missing.toml"), "{e}");
    assert!(!out.exists(), "nothing is written when the configuration is bad");

    // A virt whose slot holds what this version cannot read is refused by `plug`.
    let mut virt = webgpu_virt::configure(webgpu_virt::VIRT, &webgpu_virt::Config { noop: true, ..Default::default() }).unwrap();
    let at = virt.windows(16).position(|w| w == b"webgpu-virt:cfg1").unwrap();
    virt[at + 20] = 9; // the format version
    std::fs::write(&out, &virt).unwrap();
    let e = failure(&["plug".as_ref(), guest("compute").as_ref(), "--virt".as_ref(), out.as_os_str(), "-o".as_ref(), dir.path().join("x.wasm").as_os_str()]);
    assert!(e.contains("the virt's baked configuration is unreadable: configuration format 9"), "{e}");
}

#[test]
fn the_call_counter_counts_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let composed = dir.path().join("counted.wasm");
    common::plug(guest("bench_calls"), &["--count-calls"], &composed);
    // bench_calls makes N set-bind-group and N dispatch calls in compute passes of 1,000.
    for n in [2500u64, 4000] {
        let out = webgpu_virt().arg("run").arg("--stats").arg(&composed).args(["--n", &n.to_string()]).output().unwrap();
        check(&out, "bench_calls --count-calls");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let count = |name: &str| stat(&stderr, &format!("calls {name}"));
        let passes = n.div_ceil(1000);
        assert_eq!(count("[method]gpu-compute-pass-encoder.set-bind-group"), n);
        assert_eq!(count("[method]gpu-compute-pass-encoder.dispatch-workgroups"), n);
        assert_eq!(count("[method]gpu-command-encoder.begin-compute-pass"), passes);
        assert_eq!(count("[method]gpu-compute-pass-encoder.end"), passes);
        assert_eq!(count("get-gpu"), 1);
    }
    // Without the policy there is nothing to report, and without the virt no stats export.
    let plain = dir.path().join("plain.wasm");
    common::plug(guest("bench_calls"), &[], &plain);
    for (path, says) in [(plain.as_path(), "no policy of the virt keeps any"), (guest("bench_calls").as_ref(), "exports no webgpu-virt:worlds/stats")] {
        let out = webgpu_virt().arg("run").arg("--stats").arg(path).args(["--n", "10"]).output().unwrap();
        check(&out, "--stats");
        assert!(String::from_utf8(out.stderr).unwrap().contains(says), "{}", path.display());
    }
}

/// What the `quota` guest prints through a virt with a 1 MiB memory quota: the sizes are worked
/// out in the guest's comments and in `virt-component/src/policy/quota/memory.rs`'s tests.
const QUOTA_1MIB: &str = "\
buffer of 1 MiB + 1: out-of-memory-error; its size: 1048577
writing to it: validation-error
buffer of 1 MiB: no error
4 bytes more: out-of-memory-error
4 bytes after destroying it: no error
257 buffers of 4 KiB: 1 refused
one more after dropping two (one refused): no error
mapped-at-creation 1 MiB + 4: out-of-memory-error
mapped-at-creation 1 MiB + 4, its range: written true, read back Ok(true), unmapped true
mapped-at-creation 1 MiB: no error
texture 512x512 rgba8unorm: no error
texture 512x512 rgba8unorm, 2 mips: out-of-memory-error
  it answers [512, 512, 1, 2, 1]
texture 256x256 rgba8unorm, 4 samples: no error
texture 256x256 rgba8unorm, 4 samples + 1 row: out-of-memory-error
  it answers [256, 257, 1, 1, 4]
texture 64x64x200 r8unorm 3D, 7 mips: no error
texture 64x64 r8unorm, 200 layers, 7 mips: out-of-memory-error
  it answers [64, 64, 200, 7, 1]
texture 512x512 rg16float: no error
texture 512x512 rgba16float: out-of-memory-error
  it answers [512, 512, 1, 1, 1]
texture 512x410 depth24plus-stencil8: out-of-memory-error
  it answers [512, 410, 1, 1, 1]
texture 512x512 depth32float: no error
texture etc2-rgb8unorm 2048x1032: out-of-memory-error
texture bc7-rgba-unorm 1024x1028: out-of-memory-error
texture astc12x12-unorm 3072x3084: out-of-memory-error
query set of 4096 with 16 KiB left: out-of-memory-error; its count: 4096
query set of 2048: no error
1 MiB on the first device: no error
4 bytes on a second device: out-of-memory-error
1 MiB on the second after destroying the first: no error
1 MiB on the destroyed first device, the quota full: no error
4 bytes more with no scope: uncaptured out-of-memory-error first
1 MiB again after dropping both: no error
";

#[test]
fn quota_stops_every_route_at_the_configured_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join("quota.wasm");
    common::plug(guest("quota"), &["--max-memory", "1MiB"], &limited);
    let out = webgpu_virt().arg("run").arg("--stats").arg(&limited).output().unwrap();
    check(&out, "the quota guest");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), QUOTA_1MIB);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stat = |name: &str| stat(&stderr, &format!("quota {name}"));
    // Everything was given back, exactly; the peak is the quota itself.
    assert_eq!((stat("memory"), stat("memory peak"), stat("memory limit")), (0, 1 << 20, 1 << 20));
    // No refused allocation reached the runtime: its largest buffer is the quota (direct, the
    // guest's 1 MiB + 4 mapped-at-creation buffer reaches it).
    assert_eq!(common::stat(&stderr, "host largest buffer"), 1 << 20);
    let direct = webgpu_virt().arg("run").arg("--stats").arg(guest("quota")).output().unwrap();
    assert_eq!(common::stat(&String::from_utf8(direct.stderr).unwrap(), "host largest buffer"), (1 << 20) + 4);
    // 13 refusals on the first device and 3 on the second: one per out-of-memory line, the
    // 257th small buffer, and the buffer made to be destroyed at the end.
    assert_eq!((stat("device 1 refused"), stat("device 2 refused")), (13, 3));
    assert_eq!(QUOTA_1MIB.matches("out-of-memory-error").count() + 2, 16);
}

#[test]
fn without_a_quota_the_quota_guest_is_refused_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("quota.wasm");
    common::plug(guest("quota"), &[], &plain);
    for path in [std::path::Path::new(guest("quota")), &plain] {
        let out = run(path);
        assert!(!out.contains("out-of-memory-error") && out.contains("257 buffers of 4 KiB: 0 refused"), "{}:\n{out}", path.display());
        assert!(out.ends_with("uncaptured validation-error first\n1 MiB again after dropping both: no error\n"), "{out}");
    }
}

#[test]
fn the_sandbox_shows_clamped_limits_hides_features_and_masks_the_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let sandboxed = dir.path().join("sandbox.wasm");
    let flags = ["--max-memory", "1MiB", "--deny-feature", "float32-filterable", "--mask-adapter-info"];
    common::plug(guest("sandbox"), &flags, &sandboxed);
    assert_eq!(
        run(&sandboxed),
        "\
adapter max-buffer-size: 1048576
adapter max-storage-buffer-binding-size: 1048576
adapter max-uniform-buffer-binding-size: 65536
device max-buffer-size: 1048576
device max-storage-buffer-binding-size: 1048576
has float32-filterable: false
require float32-filterable: Err(RequestDeviceErrorKind::TypeError)
require maxBufferSize 1048577: Err(RequestDeviceErrorKind::OperationError)
require maxBufferSize 1048576: Ok
info: vendor=\"webgpu-virt\" architecture=\"\" device=\"virtual\" description=\"webgpu-virt virtual adapter\"
"
    );
    // Direct, the runtime's own: larger limits, and both sizes granted.
    let direct = run(guest("sandbox").as_ref());
    assert!(direct.contains("require maxBufferSize 1048577: Ok") && !direct.contains("adapter max-buffer-size: 1048576\n"), "{direct}");
}

#[test]
fn caps_refuse_one_past_each_limit() {
    let dir = tempfile::tempdir().unwrap();
    let capped = dir.path().join("caps.wasm");
    let caps = "buffers=3,textures=2,query-sets=1,shader-modules=1,command-encoders=1,bind-groups=1,pipelines=4";
    let flags = ["--max-buffer-size", "64KiB", "--max-texture-dimension", "256", "--max-objects", caps, "--max-write-size", "1KiB"];
    common::plug(guest("caps"), &flags, &capped);
    // On a host that traps on invalid work (what the refused objects are used in never
    // reaches it: see the next test).
    let out = webgpu_virt().arg("run").arg("--stats").arg(&capped).env(TRAP_ON_INVALID_WORK, "1").output().unwrap();
    check(&out, "the caps guest");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "\
limits: buffer=65536 storage-binding=65536 texture-1d=256 2d=256 3d=256
require maxTextureDimension2D 257: Some(RequestDeviceErrorKind::OperationError)
buffer of 65540: validation-error; its size: 65540
texture 257 wide: validation-error; its width: 257
buffer 1: no error
buffer 2: no error
buffer 3: no error
buffer 4: out-of-memory-error
a buffer after destroying one: no error
texture 1: no error
texture 2: no error
texture 3: out-of-memory-error
query set 1: no error
query set 2: out-of-memory-error
set 1028 bytes of a mapped range: Err(GetMappedRangeErrorKind::OperationError)
set 1024 bytes of a mapped range: Ok(())
write-buffer 1024: Ok(())
write-buffer 1028: Err(WriteBufferErrorKind::OperationError)
write-texture 1024: no error
write-texture 1028: validation-error
read all 2048 of the mapped range: Err(GetMappedRangeErrorKind::OperationError)
read 1024 of it: Ok(1024)
shader module 1: no error
shader module 2: out-of-memory-error
a pipeline of shader module 2: validation-error
bind group 1: no error
bind group 2: out-of-memory-error
command encoder 1: no error
command encoder 2: out-of-memory-error
dispatching with command encoder 2: validation-error
dispatching with bind group 2: validation-error
a command encoder after dropping both: no error
dispatching with it and bind group 1: no error
pipeline 2, render: no error
pipeline 3, compute: no error
pipeline 4, compute: no error
pipeline 5, compute: internal-error
pipeline 5, render: internal-error
pipeline 5, async: Some(CreatePipelineErrorKind::GpuPipelineError(GpuPipelineErrorReason::Internal))
dispatching with compute pipeline 5: validation-error
dispatching with compute pipeline 4: no error
drawing with render pipeline 5: validation-error
drawing with render pipeline 2: no error
a pipeline after dropping one, async: None
dispatching with it: no error
"
    );
    // One refusal per line that says so; the peak is 3 buffers of 1 KiB, 2 textures of
    // 256x4 rgba8 and a query set of 8; at the end nothing is left.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stat(&stderr, "quota device 1 refused"), 15);
    assert_eq!(stat(&stderr, "quota memory peak"), 11328);
    for kind in ["buffers", "textures", "query-sets", "shader-modules", "command-encoders", "bind-groups", "pipelines"] {
        assert_eq!(stat(&stderr, &format!("quota device 1 {kind}")), 0, "{kind}");
    }
    // Direct, nothing is refused.
    let direct = run(guest("caps").as_ref());
    assert!(!direct.contains("-error") && !direct.contains("Err("), "{direct}");
}

/// The host's fault injection: it traps on invalid work (a submission, write or map that
/// WebGPU refuses), as runtimes that fail on it do.
const TRAP_ON_INVALID_WORK: &str = "WEBGPU_HOST_TRAP_ON_INVALID_WORK";

#[test]
fn work_made_with_refused_objects_never_reaches_the_runtime() {
    // Apps that make only valid calls, on a host that traps on invalid work: direct, none traps.
    // Through quotas that refuse their memory or their objects, what they make with the
    // stand-ins and submit, write or map is answered by the virt with WebGPU's errors, and the
    // host never sees it.
    let dir = tempfile::tempdir().unwrap();
    let quotas: [&[&str]; 2] = [&["--max-memory", "16"], &["--max-objects", "shader-modules=0,command-encoders=0,bind-groups=0,pipelines=0"]];
    for name in ["compute", "render", "copies", "textures", "bundles", "queries", "loops", "bench_infer"] {
        let direct = common::output_within(webgpu_virt().arg("run").arg(guest(name)).env(TRAP_ON_INVALID_WORK, "1"), 120);
        check(&direct, &format!("{name} on a host that traps on invalid work"));
        for (i, quota) in quotas.iter().enumerate() {
            let limited = dir.path().join(format!("{name}.{i}.wasm"));
            common::plug(guest(name), &[quota, &["--log-stats"][..]].concat(), &limited);
            let out = common::output_within(webgpu_virt().arg("run").arg(&limited).env(TRAP_ON_INVALID_WORK, "1"), 120);
            let stderr = String::from_utf8_lossy(&out.stderr);
            // (The app may stop at a refusal of its own accord: a trap of the guest's, not the host's.)
            assert!(!stderr.contains("invalid work reached the host") && out.status.code() != Some(101), "{name} under {quota:?}:\n{stderr}");
            assert!(stderr.contains("webgpu-virt: stats, after a quota refused a call:"), "{name} under {quota:?}: nothing was refused:\n{stderr}");
        }
    }
}

#[test]
fn submissions_past_the_in_flight_cap_wait_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let capped = dir.path().join("flood.wasm");
    common::plug(guest("flood"), &["--max-in-flight", "2"], &capped);
    let out = webgpu_virt().arg("run").arg("--stats").arg(&capped).output().unwrap();
    check(&out, "the flood guest");
    // The same results as direct: only the pace changed.
    assert_eq!(String::from_utf8(out.stdout).unwrap(), run(guest("flood").as_ref()));
    // The flood's 16 submissions, made without a wait, went through two at a time: the rest
    // were held back (how many depends on when the runtime finishes work, but the flood cannot
    // all fit).
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stat(&stderr, "quota device 1 most in flight"), 2, "{stderr}");
    assert!(stat(&stderr, "quota device 1 submissions held") >= 14, "{stderr}");
}

#[test]
fn every_gpu_guest_records_a_whole_trace_of_every_call() {
    for name in GPU_GUESTS {
        let (output, stderr, trace) = record(guest(name), &["--count-calls"]);
        assert_eq!(output, run(guest(name).as_ref()), "{name}: recording changes nothing the application sees");
        // Every call the chain saw is in the trace, whole (the last records too).
        let counted: u64 = stderr.lines().filter(|l| l.trim_start().starts_with("calls ")).map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap()).sum();
        let (dump, note) = trace_tool("dump", &trace);
        assert!(note.is_empty(), "{name}: {note}");
        // Call lines are `#N function(...)`; an async call's result is a line `#N -> ...`, what
        // its future or stream produced `#N produced ...`.
        let is_call = |rest: &str| !rest.starts_with("->") && !rest.starts_with("produced ");
        let calls = dump.lines().filter(|l| l.starts_with('#') && l.split_once(' ').is_some_and(|(_, rest)| is_call(rest))).count();
        assert_eq!(calls as u64, counted, "{name}: calls in the trace");
        let (stats, _) = trace_tool("stats", &trace);
        assert!(stats.starts_with(&format!("calls: {counted}\n")), "{name}: {stats}");
    }
}

#[test]
fn a_trace_shows_calls_data_and_results() {
    let (_, _, trace) = record(guest("compute"), &[]);
    let (dump, _) = trace_tool("dump", &trace);
    let lines: Vec<&str> = dump.lines().collect();
    assert!(lines[0].starts_with("#0 get-gpu() -> gpu#"), "{dump}");
    assert!(lines.iter().any(|l| l.contains("[method]gpu-device.create-shader-module(gpu-device#") && l.contains("code: blob#")), "{dump}");
    assert!(lines.iter().any(|l| l.contains("[method]gpu-queue.submit(gpu-queue#")), "{dump}");
    // map-async is async: its result comes on a line of its own.
    assert!(lines.iter().any(|l| l.contains("[method]gpu-buffer.map-async(")), "{dump}");
    assert!(lines.iter().any(|l| l.ends_with("-> ok"), ), "{dump}");
    // The read-back data is a blob, in the result of the mapped range copy.
    assert!(lines.iter().any(|l| l.contains("get-mapped-range-get-with-copy(") && l.contains("-> ok(blob#")), "{dump}");
    let (stats, _) = trace_tool("stats", &trace);
    assert!(stats.contains("[method]gpu-queue.submit"), "{stats}");
    assert!(stats.contains("\nend: the application finished, after "), "{stats}");
    // A cut trace (here inside its last record before the end, a 3-byte drop): its whole records
    // are read, and the tools say where it ends and that the application did not finish.
    let records: Vec<u64> = webgpu_virt_trace::Reader::new(&trace).unwrap().records().map(|r| r.unwrap().0).collect();
    let end = *records.last().unwrap() as usize;
    let cut = &trace[..end - 2];
    let (short, note) = trace_tool("dump", cut);
    let calls: u64 = stats.lines().find_map(|l| l.strip_prefix("calls: ")).unwrap().parse().unwrap();
    assert_eq!(
        note,
        format!(
            "note: the trace is cut off at byte {}: the record starting there is incomplete; what comes before was read\nnote: the application did not finish (the recording stops after call #{})\n",
            end - 3,
            calls - 1
        )
    );
    assert_eq!(short.lines().collect::<Vec<_>>(), lines[..lines.len() - 1]);
}

#[test]
fn recording_where_nothing_is_preopened_stops_at_once_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded.wasm");
    common::plug(guest("compute"), &["--record", "trace.wgvt"], &recorded);
    let out = webgpu_virt().arg("run").arg(&recorded).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("webgpu-virt: cannot record the trace to `trace.wgvt`: no directory is preopened"), "{stderr}");
    // A virt that cannot record is not given a trace to write.
    let e = webgpu_virt::configure(webgpu_virt::VIRT, &webgpu_virt::Config { record: Some("t".into()), ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("cannot record"), "{e}");
}

#[test]
fn recording_and_the_quota_work_together() {
    // The quota answers first; the trace shows what the application was answered.
    let (output, stderr, trace) = record(guest("quota"), &["--max-memory", "1MiB"]);
    assert_eq!(output, QUOTA_1MIB);
    assert_eq!(stat(&stderr, "quota memory peak"), 1 << 20);
    let (dump, note) = trace_tool("dump", &trace);
    assert!(note.is_empty(), "{note}");
    // The refused buffer of 1 MiB + 1 is in the trace, as the application made it.
    assert!(dump.lines().any(|l| l.contains("create-buffer(") && l.contains("size: 1048577")), "{dump}");
    assert!(dump.lines().any(|l| l.contains("pop-error-scope") ) && dump.contains("out-of-memory-error"), "{dump}");
}

#[test]
fn trace_stats_count_memory_as_the_quota_does() {
    for name in ["compute", "textures", "queries", "render", "mapping"] {
        let (_, stderr, trace) = record(guest(name), &["--max-memory", "1GiB"]);
        let (stats, _) = trace_tool("stats", &trace);
        let line = stats.lines().find(|l| l.starts_with("memory (")).unwrap_or_else(|| panic!("{name}: {stats}"));
        let peak: u64 = line.split("peak ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert_eq!(peak, stat(&stderr, "quota memory peak"), "{name}: {stats}");
        assert!(peak > 0 && line.ends_with(", 0 bytes held at the end"), "{name}: {line}");
    }
}

#[test]
fn trace_stats_count_only_memory_the_runtime_gave() {
    // The `errors` guest asks for a buffer of 2^62 bytes, alone in error scopes: the runtime
    // refuses it (a validation error), so it holds nothing. Its other buffers are of 16 bytes.
    let (_, _, trace) = record(guest("errors"), &[]);
    let (stats, _) = trace_tool("stats", &trace);
    let line = stats.lines().find(|l| l.starts_with("memory (")).unwrap_or_else(|| panic!("{stats}"));
    let peak: u64 = line.split("peak ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(peak <= 64, "a refused buffer counted as held: {line}");
}

#[test]
fn trace_diff_finds_the_first_call_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let a = save("a.wgvt", &record(guest("compute"), &[]).2);
    let again = save("again.wgvt", &record(guest("compute"), &[]).2);
    let other = save("other.wgvt", &record(guest("mapping"), &[]).2);
    // Two runs of one application record the same calls, objects, data and results.
    let out = webgpu_virt().args(["trace", "diff"]).arg(&a).arg(&again).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("the traces agree: "));
    // Two applications agree up to their first buffer.
    let out = webgpu_virt().args(["trace", "diff"]).arg(&a).arg(&other).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.contains("of the calls differ") && first.contains("the first, call #3:"), "{text}");
    assert!(text.lines().nth(1).unwrap().contains("create-buffer("), "{text}");
}

#[test]
fn what_futures_and_streams_produce_is_recorded() {
    // `lost` resolves when the guest destroys its device.
    let (_, _, trace) = record(guest("lost"), &[]);
    let (dump, _) = trace_tool("dump", &trace);
    let lost = dump.lines().find(|l| l.contains("[method]gpu-device.lost(")).expect("a call of lost");
    let call = lost.split_whitespace().next().unwrap();
    assert!(dump.lines().any(|l| l.starts_with(&format!("{call} produced gpu-device-lost-info{{destroyed, "))), "{dump}");
    // Each error on an uncaptured-error stream, as the application got it.
    let (_, _, trace) = record(guest("uncaptured"), &[]);
    let (dump, _) = trace_tool("dump", &trace);
    assert!(dump.lines().any(|l| l.contains(" produced gpu-error{validation-error, ")), "{dump}");
}

#[test]
fn compressed_traces_read_as_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, trace) = record(guest("compute"), &[]);
    let plain = dir.path().join("t.wgvt");
    let packed = dir.path().join("t.z.wgvt");
    std::fs::write(&plain, &trace).unwrap();
    let out = webgpu_virt().args(["trace", "compress"]).arg(&plain).arg("-o").arg(&packed).output().unwrap();
    check(&out, "trace compress");
    let compressed = std::fs::read(&packed).unwrap();
    assert!(compressed.len() < trace.len(), "{} vs {}", compressed.len(), trace.len());
    let (dump, note) = trace_tool("dump", &trace);
    assert_eq!(trace_tool("dump", &compressed), (dump.clone(), note));
    let out = webgpu_virt().args(["trace", "diff"]).arg(&plain).arg(&packed).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // A cut compressed trace: the records it still holds, and a note that it is cut.
    let (short, note) = trace_tool("dump", &compressed[..compressed.len() * 2 / 3]);
    assert!(note.contains("cut off at byte"), "{note}");
    assert!(!short.is_empty() && dump.starts_with(&short[..short.rfind('\n').unwrap()]), "{short}");
}

/// The trace tools on damaged traces: flipped, inserted, removed and random bytes anywhere in a
/// real trace (header, framing, payloads, blobs). They must never panic: an error or a prefix.
#[test]
fn fuzzed_traces_never_panic_the_tools() {
    let (_, _, trace) = record(guest("compute"), &[]);
    let catalog = webgpu_virt::trace::Catalog::built_in();
    let compressed = webgpu_virt::trace::compress(&trace).unwrap();
    let mut next = common::xorshift(0x2545_f491_4f6c_dd1du64);
    for round in 0..3000 {
        let mut damaged = if round % 4 == 3 { compressed.clone() } else { trace.clone() };
        for _ in 0..=next() % 3 {
            let at = (next() as usize) % damaged.len();
            match next() % 4 {
                0 => damaged[at] ^= 1 << (next() % 8),
                1 => damaged.insert(at, next() as u8),
                2 => {
                    damaged.remove(at);
                }
                _ => damaged[at] = next() as u8,
            }
        }
        let _ = webgpu_virt::trace::decode(&catalog, &damaged);
        let _ = webgpu_virt::trace::diff(&catalog, &trace, &damaged);
    }
}

#[test]
fn the_virt_asks_the_runtime_for_a_device_loss_only_when_the_app_does() {
    // A host that lacks `lost` (WEBGPU_HOST_WITHOUT_LOST, as the published
    // wasi-webgpu-wasmtime 0.5.0, where it panics) traps on it ...
    let without_lost = |path: &Path| webgpu_virt().arg("run").arg(path).env("WEBGPU_HOST_WITHOUT_LOST", "1").output().unwrap();
    let out = without_lost(Path::new(guest("lost")));
    assert!(!out.status.success(), "the lost guest ran on a host without lost");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEBGPU_HOST_WITHOUT_LOST"), "{}", String::from_utf8_lossy(&out.stderr));
    // ... and an app that never asks runs there alone, under every quota, and in a pod.
    let dir = tempfile::tempdir().unwrap();
    let solo = without_lost(Path::new(guest("compute")));
    check(&solo, "the compute guest on a host without lost");
    let quota = ["--max-memory", "64MiB", "--max-in-flight", "4", "--max-objects", "buffers=100", "--max-buffer-size", "32MiB"];
    let limited = dir.path().join("limited.wasm");
    common::plug(guest("compute"), &quota, &limited);
    let pod = dir.path().join("pod.wasm");
    common::plug_pod(&[("a", guest("compute")), ("b", guest("compute"))], &quota, &pod);
    for composed in [&limited, &pod] {
        let out = without_lost(composed);
        check(&out, &format!("{} on a host without lost", composed.display()));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains(&String::from_utf8_lossy(&solo.stdout).to_string()), "{stdout}");
    }
}

#[test]
fn refusals_nobody_catches_are_logged_with_log_errors() {
    // An app that neither scopes nor listens, under a quota it cannot meet: the operator reads
    // why on stderr, as the runtime's own uncaptured errors are.
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join("limited.wasm");
    common::plug(guest("compute"), &["--max-memory", "16", "--log-errors"], &limited);
    let out = webgpu_virt().arg("run").arg(&limited).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("webgpu-virt: uncaptured out-of-memory-error: webgpu-virt quota: a buffer of "), "{stderr}");
}

#[test]
fn with_log_stats_a_hit_limit_writes_the_counters_where_no_one_calls_the_stats_export() {
    // `run` without `--stats` never calls the stats export, as most platforms never do: the
    // operator still sees the quota's counters, once, after the first refusal of a burst.
    let dir = tempfile::tempdir().unwrap();
    let limited = dir.path().join("limited.wasm");
    common::plug(guest("compute"), &["--max-memory", "16", "--log-stats"], &limited);
    let out = webgpu_virt().arg("run").arg(&limited).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("webgpu-virt: stats, after a quota refused a call:").count(), 1, "{stderr}");
    let refused = stderr.lines().find(|l| l.starts_with("webgpu-virt:   quota device 1 refused  ")).unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(refused, "webgpu-virt:   quota device 1 refused  1", "{stderr}");
    assert!(stderr.contains("webgpu-virt:   quota memory limit  16\n"), "{stderr}");
    // Nothing is written while no limit is hit.
    let calm = dir.path().join("calm.wasm");
    common::plug(guest("compute"), &["--max-memory", "64MiB", "--log-stats"], &calm);
    let out = webgpu_virt().arg("run").arg(&calm).output().unwrap();
    check(&out, "the calm run");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("webgpu-virt: stats"));
}
