//! Runaway GPU work: a guest that submits a dispatch running for hours (on any driver: a
//! never-ending loop, 65535 workgroups wide) and returns without waiting for it. The run must
//! still end, at once, and say what it left running, direct and through the virt.

mod common;

use common::{guest, output_within, webgpu_virt};

#[test]
fn a_run_that_leaves_work_running_on_the_gpu_ends_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let virt = dir.path().join("runaway.virt.wasm");
    let out = webgpu_virt().arg("plug").arg(guest("runaway")).arg("-o").arg(&virt).output().unwrap();
    common::check(&out, "plug runaway");
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
