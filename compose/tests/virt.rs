//! The virt as a pure pass-through: every guest prints exactly what it prints on the host
//! directly, through one virt and through two stacked virts; the virt and the compositions
//! import only what they should; the virt forwards every function of the WIT.

mod common;

use common::{check, covered, guest, webgpu_virt};
use host_test::guests;
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
                let plug = |app: &std::path::Path, out: &std::path::Path| {
                    assert!(webgpu_virt().arg("plug").arg(app).arg("-o").arg(out).status().unwrap().success());
                };
                plug(app.as_ref(), &once);
                plug(&once, &twice);
                let direct = run(app.as_ref());
                assert_eq!(run(&once), direct, "output through the virt");
                assert_eq!(run(&twice), direct, "output through two stacked virts");
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

through_the_virt!(compute, render, mapping, copies, textures, bundles, queries, errors, uncaptured, lost, labels, limits, invalid);

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
    ] {
        let app = guest(name);
        let composed = dir.path().join(format!("{name}.wasm"));
        assert!(webgpu_virt().arg("plug").arg(app).arg("-o").arg(&composed).status().unwrap().success());
        let direct = results(app.as_ref(), args);
        assert_eq!(direct.len(), 1, "{name}");
        assert_eq!(results(&composed, args), direct, "{name}");
    }
}

#[test]
fn the_virt_imports_and_exports_only_webgpu() {
    assert_eq!(webgpu_virt::imports(webgpu_virt::VIRT).unwrap(), [webgpu_virt::WEBGPU]);
}

#[test]
fn a_composition_imports_what_the_app_imported() {
    // `cli` uses no GPU, so it does not import wasi:webgpu at all.
    for (name, path) in guests::ALL.iter().filter(|(name, _)| *name != "cli") {
        let app = std::fs::read(path).unwrap();
        let composed = webgpu_virt::plug(&app, webgpu_virt::VIRT).unwrap();
        let mut want = webgpu_virt::imports(&app).unwrap();
        let mut got = webgpu_virt::imports(&composed).unwrap();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name}");
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
    let exported: usize = ty.exports(&engine).map(|(_, e)| functions(&engine, e.ty)).sum();
    let imported: usize = ty.imports(&engine).map(|(_, e)| functions(&engine, e.ty)).sum();
    // 227 functions and 2 constructors, as in the WIT (see host-test's coverage test).
    assert_eq!((exported, imported), (229, 229));
    println!("virt functions forwarded: 227/227 (and 2/2 constructors)");
}

#[test]
fn configure_writes_the_virt_and_plug_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let virt = dir.path().join("virt.wasm");
    assert!(webgpu_virt().arg("configure").arg("-o").arg(&virt).status().unwrap().success());
    assert_eq!(std::fs::read(&virt).unwrap(), webgpu_virt::VIRT);
    // `plug --virt FILE` composes exactly what the library's `plug` (wac_graph::plug, as
    // `wac plug` does) composes.
    let app = guest("compute");
    let out = dir.path().join("out.wasm");
    let status = webgpu_virt().arg("plug").arg(app).arg("--virt").arg(&virt).arg("-o").arg(&out).status().unwrap();
    assert!(status.success());
    let want = webgpu_virt::plug(&std::fs::read(app).unwrap(), webgpu_virt::VIRT).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), want);
}
