//! Every test guest, run by `webgpu-virt run` on the wgpu host, against an expectation made
//! without the host: exact values computed here, or what WebGPU specifies for the calls made.

mod common;

use common::{check, covered, guest, webgpu_virt};
use built_guests as guests;
use std::path::Path;

/// Runs a guest; its stdout. Fails on a non-zero exit or a host panic.
fn run(guest: &str) -> String {
    run_with(guest, &[])
}

fn run_with(guest: &str, args: &[&str]) -> String {
    let out = webgpu_virt().arg("run").arg(guest).args(args).output().expect("running webgpu-virt");
    check(&out, guest);
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// Declares one test per guest and a test that no guest is left without one.
macro_rules! guest_tests {
    ($($name:ident => $check:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let output = run(guest(stringify!($name)));
                let check: fn(&str) = $check;
                check(&output);
            }
        )*

        #[test]
        fn every_guest_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in guests::ALL {
                assert!(covered(name, &tested), "guest `{name}` has no test");
            }
        }
    };
}

fn expect(expected: &str) -> impl Fn(&str) {
    let expected = expected.to_string();
    move |got: &str| assert_eq!(got.trim_end(), expected.trim(), "guest output")
}

guest_tests! {
    compute => |out| {
        let values: Vec<u32> = (0..1024u32).map(|i| { let x = i * 3 + 1; x.wrapping_mul(x).wrapping_add(7) }).collect();
        let sum: u64 = values.iter().map(|v| u64::from(*v)).sum();
        let want = format!("compute: n=1024 first={} last={} sum={sum}", values[0], values[1023]);
        assert_eq!(out.trim(), want);
    };
    render => |out| {
        // Pixel (x, y): the full-screen draw writes [x, y, x^y, 255]; the indexed quad, cut by
        // the scissor rectangle at (16, 8) of 24x12, writes [200, 100, 50, 255].
        let pixel = |x: u32, y: u32| -> [u8; 4] {
            if (16..40).contains(&x) && (8..20).contains(&y) { [200, 100, 50, 255] } else { [x as u8, y as u8, (x ^ y) as u8, 255] }
        };
        let image: Vec<u8> = (0..64).flat_map(|y| (0..64).flat_map(move |x| pixel(x, y))).collect();
        let want = format!(
            "render: 64x64 fnv={:016x}\nrender: (0,0)={:?} (63,63)={:?} (20,10)={:?} (39,19)={:?} (40,20)={:?}",
            fnv1a(&image), pixel(0, 0), pixel(63, 63), pixel(20, 10), pixel(39, 19), pixel(40, 20),
        );
        assert_eq!(out.trim(), want);
    };
    mapping => |out| expect("
mapped-at-creation: state=mapped
after unmap: state=unmapped
read back: [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]
map-async(write) done: state=mapped
range outside the mapping: Err(GetMappedRangeErrorKind::OperationError)
written: [0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]
read range 8+8: [8, 9, 10, 11, 12, 13, 14, 15]
unaligned range: Err(GetMappedRangeErrorKind::OperationError)
writing a read mapping: Err(GetMappedRangeErrorKind::OperationError)
map aborted by unmap: Err(MapAsyncErrorKind::AbortError)
state after abort: unmapped
two maps back to back: first Ok(()), second Err(MapAsyncErrorKind::OperationError), validation error: false
map-async of a destroyed buffer, 1: Err(MapAsyncErrorKind::OperationError), validation error: true
map-async of a destroyed buffer, 2: Err(MapAsyncErrorKind::OperationError), validation error: true
mapped at creation, then the device destroyed: state=unmapped range=Err(GetMappedRangeErrorKind::OperationError)")(out);
    copies => |out| {
        let gradient: Vec<u8> = (0..8u8).flat_map(|y| (0..8u8).flat_map(move |x| [x, y, x * y, 255])).collect();
        expect(&format!("
buffer->texture fnv={:016x} texel(3,5)=[3, 5, 15, 255]
texture->texture texel(5,6)=[1, 2, 2, 255] texel(0,0)=[0, 0, 0, 0]
write-texture row0=[0, 1, 2, 3, 4, 5, 6, 7] row1=[8, 9, 10, 11, 12, 13, 14, 15]
buffer->buffer + clear: [4294967295, 3, 4, 5, 4294967295, 4294967295, 0, 0]", fnv1a(&gradient)))(out);
    };
    textures => |out| expect("
getters: 16x16x3 mips=4 samples=1 dimension=GpuTextureDimension::D2 format=GpuTextureFormat::Rgba8unorm usage=GpuTextureUsage(COPY_SRC | COPY_DST | TEXTURE_BINDING | RENDER_ATTACHMENT) binding-view=None
layer 0: mip0=[0, 0, 0, 0] mip1=[1, 1, 1, 1] mip2=[2, 2, 2, 2] mip3=[3, 3, 3, 3]
layer 1: mip0=[16, 16, 16, 16] mip1=[17, 17, 17, 17] mip2=[255, 102, 0, 255] mip3=[19, 19, 19, 19]
layer 2: mip0=[32, 32, 32, 32] mip1=[33, 33, 33, 33] mip2=[34, 34, 34, 34] mip3=[35, 35, 35, 35]
3d: 8x8x8 mips=4 dimension=GpuTextureDimension::D3")(out);
    bundles => |out| expect("
bundle labels: half half
green: left=[0, 255, 0, 255] right=[0, 0, 0, 0]
blue: left=[0, 0, 255, 255] right=[0, 0, 0, 0]")(out);
    queries => |out| expect("
query set: type=GpuQueryType::Occlusion count=2 label=occlusion
occlusion: visible passed=true hidden passed=false
timestamp query set matches the feature: true")(out);
    errors => |out| expect(r#"
validation scope: Some("validation-error")
oom scope inside validation scope: inner=None outer=Some("validation-error")
internal scope inside validation scope: inner=None outer=Some("validation-error")
the scope kept the first of two errors: true
clean scope: None
pop on empty stack: Err(PopErrorScopeErrorKind::OperationError)
oversized buffer: oom scope=None validation scope=Some("validation-error")
async pipeline with a missing entry point: Err(CreatePipelineErrorKind::GpuPipelineError(GpuPipelineErrorReason::Validation)) scope=None"#)(out);
    uncaptured => |out| expect(r#"
in a scope: Some("validation-error")
first stream: validation-error
second stream: validation-error
same message: true
next error: validation-error"#)(out);
    devices => |out| expect(r#"
a reads its own: [1, 2, 3, 4]
b reads its own: [5, 6, 7, 8]
b copies from a's buffer: Some("validation-error")
b's queue writes a's buffer: Some("validation-error")
b's queue submits a's commands: Some("validation-error")
a's buffer after all: [1, 2, 3, 4]
b's buffer after all: [5, 6, 7, 8]"#)(out);
    lost => |out| expect("
lost: reason=GpuDeviceLostReason::Destroyed message-given=true
second lost future: reason=GpuDeviceLostReason::Destroyed
lost after loss: reason=GpuDeviceLostReason::Destroyed
map-async on a lost device: Err(MapAsyncErrorKind::OperationError)
pop-error-scope on a lost device: Ok(false)
uncaptured stream ends: true
new device works: [5, 6, 7, 8]")(out);
    labels => |out| {
        let mut want = String::from("pass: compute pass\npass: renamed pass\nbundle encoder: bundle encoder\n");
        want += "device: \"the device\" -> \"new device\"\nqueue: \"the queue\" -> \"new queue\"\n";
        for name in ["buffer", "texture", "view", "sampler", "bind group layout", "bind group", "pipeline layout", "shader",
            "compute pipeline", "encoder", "command buffer", "query set", "bundle"] {
            want += &format!("{name}: \"{name}\" -> \"new {name}\"\n");
        }
        want += "queue label seen from another handle: \"new queue\"";
        expect(&want)(out);
    };
    limits => |out| expect(r#"
preferred canvas format: GpuTextureFormat::Bgra8unorm
unknown feature level gives no adapter: true
adapter info: vendor-given=true description-given=true fallback-is-cpu=true subgroups-ordered=true
adapter limits at least WebGPU's defaults: true
default device limits: bind-groups=4 buffer-size=268435456 uniform-binding=65536 storage-binding=134217728 uniform-alignment=256 workgroup-x=256 storage-in-vertex=true
device features within the adapter's: true
unknown feature name: false
device adapter info matches: true
asked for the adapter's maxBindGroups: got it true
beyond the adapter: Err(RequestDeviceErrorKind::OperationError)
unknown limit: Err(RequestDeviceErrorKind::OperationError)
unsupported feature: Err(RequestDeviceErrorKind::TypeError)
record: keys=["a", "b"] values=[Some(3), None] a=Some(Some(3)) has-b=true has-c=false
record after remove: [("b", None)]
wgsl language feature known: true"#)(out);
    jobs => |out| {
        // Job j doubles 256 numbers from j and adds 1: 65536 + 512 j. Job 73's scope finds its
        // write past the end of its buffer, which this host takes and reports there.
        let want: Vec<String> = (0..100u64)
            .map(|j| {
                let found = if j == 73 { "validation-error, its write past the end taken" } else { "no error" };
                format!("job {j}: {found}, sum {}", 65536 + 512 * j)
            })
            .collect();
        assert_eq!(out.trim(), want.join("\n"));
    };
    loops => |out| expect("outer loop 30 (its loop of 4: 120), inner loop 1200, barrier rounds 50 (arrivals 3200), steps of a returning loop 60")(out);
    chunks => |out| expect("
automatic layout, [100, 3, 2] workgroups: 0 of 4800 invocations wrong, 4800 counted
explicit layout, dynamic offset: 0 of 4800 invocations wrong, 9600 counted in all
5000 workgroups of an entry point reading no id: 320000 invocations
indirect, [10, 3, 2] workgroups: 0 of 480 invocations wrong
in a debug group, [10, 3, 2] workgroups: 0 of 480 invocations wrong
a small dispatch's pass, then a large dispatch's: 0 of 4800 invocations wrong
an invalid encoder's large dispatch: finish validation-error, submit validation-error, 0 invocations ran
an encoder made invalid after a large dispatch: finish validation-error, submit validation-error, 0 invocations ran
an invalid command buffer, then one with a large dispatch: finish validation-error, submit validation-error, 0 invocations ran
another pipeline's bind groups in a large dispatch: finish validation-error, submit validation-error, 0 invocations ran
indirect, [100, 3, 2] workgroups, then [70000, 1, 1]: 0 of 4800 invocations wrong, 4800 counted
the arguments' buffer: usage 0x108, a copy from it: validation-error
a bound buffer destroyed before the submission: submit validation-error, the copy before the dispatch did not run, 0 invocations ran")(out);
    draws => |out| expect("
64 instances of a square, scissored: finish no error, submit no error, 0 of 4096 pixels wrong
64 squares of one instance: finish no error, submit no error, 0 of 4096 pixels wrong
64 indexed instances of a square: finish no error, submit no error, 0 of 4096 pixels wrong
64 indexed squares of one instance: finish no error, submit no error, 0 of 4096 pixels wrong
64 instances of a strip: finish no error, submit no error, 0 of 4096 pixels wrong
64 instances, depth-tested where a square marked the stencil: finish no error, submit no error, 0 of 4096 pixels wrong
64 instances, 4 samples a pixel, resolved: finish no error, submit no error, 0 of 4096 pixels wrong
indices past the buffer's end: finish validation-error, submit validation-error, 0 of 4096 pixels wrong
a pass that discards its target: finish no error, submit no error, 0 of 4096 pixels set
a draw after a bundle, with no pipeline set: finish validation-error, submit validation-error, 0 of 4096 pixels wrong
64 instances in a debug group: finish no error, submit no error, 0 of 4096 pixels wrong")(out);
    flood => |out| expect("
destroying a buffer the last submission used: no error
16 submissions logged in order: true
a buffer unmapped behind held submissions, copied: [7]
submitting a command buffer twice: validation-error; in a scope pushed after: no error
")(out);
    invalid => |out| {
        // Every invalid call is reported as WebGPU reports it, and the guest runs to its end.
        let want = [
            ("write to a destroyed buffer", "validation-error"),
            ("submit using a destroyed buffer", "validation-error"),
            ("write to a destroyed texture", "validation-error"),
            ("write-buffer without copy-dst", "validation-error"),
            ("map-async without map-read", "Err(MapAsyncErrorKind::OperationError)"),
            ("map-async with no mode", "Err(MapAsyncErrorKind::OperationError)"),
            ("depth texture as storage", "validation-error"),
            ("write-buffer past the end", "validation-error"),
            ("write-buffer data range outside the data", "Err(WriteBufferErrorKind::OperationError)"),
            ("map-async past the end", "Err(MapAsyncErrorKind::OperationError)"),
            ("map-async unaligned", "Err(MapAsyncErrorKind::OperationError)"),
            ("mapped range when unmapped", "Err(GetMappedRangeErrorKind::OperationError)"),
            ("map-async while mapped", "Err(MapAsyncErrorKind::OperationError)"),
            ("unmap twice", "true true"),
            ("copy beyond both buffers", "validation-error"),
            ("end a pass twice", "validation-error"),
            ("dispatch on an ended pass", "validation-error"),
            ("finish twice", "validation-error"),
            ("submit twice", "validation-error"),
            ("finish with a pass open", "validation-error"),
            ("dynamic offsets outside the list", "Err(SetBindGroupErrorKind::RangeError)"),
            ("bind group layout entry with no kind", "validation-error"),
            ("nine bind group layouts", "validation-error"),
            ("zero-size buffer binding", "validation-error"),
            ("broken shader", "messages=true first-is-error=true has-position=true"),
            ("create a broken shader", "validation-error"),
            ("good shader messages", "0"),
            ("pipeline from a broken shader", "validation-error"),
            ("workgroup storage over the limit", "validation-error"),
            ("workgroup storage over the limit, async", "Some(CreatePipelineErrorKind::GpuPipelineError(GpuPipelineErrorReason::Validation))"),
            ("layout of an invalid pipeline", "validation-error"),
            ("query set too large", "validation-error"),
            ("bundle drawing with no pipeline", "validation-error"),
            ("finish a bundle twice", "validation-error"),
            ("execute an invalid bundle", "validation-error"),
            ("vertex buffer offset past the end", "validation-error"),
            ("still alive", "true"),
        ];
        let want: Vec<String> = want.iter().map(|(what, result)| format!("{what}: {result}")).collect();
        expect(&want.join("\n"))(out);
    };
}

#[test]
fn run_passes_arguments_preopens_a_directory_and_returns_the_guest_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("greeting.txt"), "from the host\n").unwrap();
    let out = webgpu_virt()
        .arg("run")
        .arg("--dir")
        .arg(dir.path())
        .arg(guests::CLI)
        .args(["one", "--two", "--exit", "3"])
        .output()
        .unwrap();
    // A p2 guest's `exit` carries success or failure only (exit codes need wasi:cli's unstable
    // `exit-with-code`): a non-zero exit is 1, as `wasmtime run` reports it.
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "args: [\"one\", \"--two\", \"--exit\", \"3\"]\ngreeting: from the host\n");
    let reply = std::fs::read_to_string(dir.path().join("reply.txt")).unwrap();
    assert_eq!(reply, "hello back to from the host");
}

#[test]
fn run_maps_a_named_guest_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("greeting.txt"), "named").unwrap();
    // The guest reads `./greeting.txt`: with the directory mapped elsewhere it finds nothing.
    let spec = format!("{}::/data", dir.path().display());
    let out = webgpu_virt().args(["run", "--dir", &spec, guests::CLI]).output().unwrap();
    check(&out, "cli");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "args: []\nno greeting: entity not found\n");
}

#[test]
fn run_refuses_a_p2_command_and_says_why() {
    let out = webgpu_virt().args(["run", guests::P2_COMMAND]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("wasi:cli/run@0.2") && stderr.contains("wasi:cli/run@0.3.0"), "{stderr}");
    assert!(out.stdout.is_empty(), "the p2 command must not have run");
}

#[test]
fn run_refuses_what_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
    let out = webgpu_virt().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is not a WebAssembly component"), "{stderr}");
    let out = webgpu_virt().args(["run", "/no/such/file.wasm"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.wasm"));
    assert!(!Path::new("/no/such/file.wasm").exists());
}

/// The lines of a benchmark guest's output that do not depend on timing.
fn results(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("result:")).collect()
}

#[test]
fn benchmark_guests_compute_what_they_claim() {
    let calls = run_with(guests::BENCH_CALLS, &["--n", "2000"]);
    assert_eq!(results(&calls), ["result: dispatches=2000"]);
    let trivial = run_with(guests::BENCH_TRIVIAL, &["--n", "1000"]);
    assert_eq!(results(&trivial), ["result: sum=256000"]);
    let data = run_with(guests::BENCH_DATA, &["--n", "2"]);
    assert_eq!(results(&data), ["result: last chunk starts [0, 1, 2, 3, 4, 5, 6, 7]"]);
    // The same inputs as the guest: a[i], b[i] = (i * 2654435761 + seed) % 4.
    let n = 64u64;
    let value = |seed: u64, i: u64| ((i.wrapping_mul(2654435761).wrapping_add(seed)) % 4) as f32;
    let c0: f32 = (0..n).map(|k| value(1, k) * value(2, k * n)).sum();
    let matmul = run_with(guests::BENCH_MATMUL, &["--n", "64", "--repeat", "1"]);
    assert_eq!(results(&matmul), [format!("result: 64x64 sampled entries wrong: 0 of 64, c[0]={c0}")]);
    let hop = run_with(guests::BENCH_HOP, &["--n", "1000", "--mib", "3"]);
    assert_eq!(results(&hop), ["result: sum=2000 bytes=3145728"]);
    for out in [&calls, &trivial, &data, &matmul, &hop] {
        assert!(out.lines().any(|l| l.starts_with("bench ")), "{out}");
    }
}

#[test]
fn with_webgpu_host_trace_set_the_host_prints_what_reached_the_runtime_and_when() {
    let app = guest("compute");
    let traced = webgpu_virt().arg("run").arg(app).env("WEBGPU_HOST_TRACE", "1").output().unwrap();
    check(&traced, "compute, traced");
    let stderr = String::from_utf8(traced.stderr.clone()).unwrap();
    let lines: Vec<(u64, &str)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("T "))
        .map(|l| {
            let (time, call) = l.trim_start().split_once(' ').unwrap_or_else(|| panic!("a trace line without a call: {l:?}"));
            (time.parse().unwrap_or_else(|_| panic!("a trace line without a time: {l:?}")), call)
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0].0 <= w[1].0), "the times go back:\n{stderr}");
    let calls: Vec<&str> = lines.iter().map(|(_, call)| *call).collect();
    let at = |call: &str| calls.iter().position(|c| *c == call).unwrap_or_else(|| panic!("no {call:?} in {calls:?}"));
    // The guest's dispatch of 1024 invocations, finished, submitted and read back through a
    // mapped buffer: each call in its order, each begun before it was done.
    let order = [
        "create-command-encoder",
        "begin-compute-pass",
        "dispatch 16 1 1",
        "finish",
        "finished",
        "submit 1",
        "submitted",
        "map-async asked",
        "map-async resolved",
    ];
    let places: Vec<usize> = order.iter().map(|call| at(call)).collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "not in the order {order:?}: {calls:?}");
    // Unset, nothing is traced, and the guest prints the same.
    let plain = webgpu_virt().arg("run").arg(app).output().unwrap();
    check(&plain, "compute");
    assert!(!String::from_utf8_lossy(&plain.stderr).lines().any(|l| l.starts_with("T ")));
    assert_eq!(plain.stdout, traced.stdout);
}

#[test]
fn with_webgpu_host_perfmap_set_perf_can_name_the_components_code() {
    let dir = tempfile::tempdir().unwrap();
    let plugged = dir.path().join("compute.virt.wasm");
    common::plug(guest("compute"), &[], &plugged);
    let run = webgpu_virt().arg("run").arg(&plugged).env("WEBGPU_HOST_PERFMAP", "1").stdout(std::process::Stdio::piped()).spawn().unwrap();
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", run.id()));
    let out = run.wait_with_output().unwrap();
    check(&out, "compute through the virt, with a perf map");
    let text = std::fs::read_to_string(&map).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    std::fs::remove_file(&map).unwrap();
    // Each line is `START SIZE NAME`: the virt's functions and the application's by name.
    assert!(text.lines().all(|l| l.splitn(3, ' ').count() == 3), "{text}");
    assert!(text.contains("webgpu_virt_component::"), "no function of the virt's named");
    assert!(text.contains("guests::wasi::webgpu::webgpu::Gpu::request_adapter"), "no function of the application's named");
}
