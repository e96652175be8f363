//! `webgpu-virt serve`: HTTP services that use the GPU for each request, direct, through the
//! virt, under a quota, in a pod of two; refused components and trapping requests.

mod common;

use common::http::{Server, squares};
use common::{guest, webgpu_virt};
use std::path::{Path, PathBuf};

/// The `service` guest, served as `component`.
fn serve(component: &Path) -> Server {
    Server::start(webgpu_virt(), component.to_str().unwrap()).unwrap()
}

/// The `service` guest plugged with `args` (policy flags, or a pod's `--guest`s) into `dir`.
fn plug(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.wasm"));
    let mut plug = webgpu_virt();
    plug.arg("plug");
    if !args.contains(&"--guest") {
        plug.arg(guest("service"));
    }
    let done = plug.args(args).arg("-o").arg(&out).output().unwrap();
    common::check(&done, &format!("plug {args:?}"));
    out
}

/// Fails if the server stopped or panicked (the guest's own panic, on `/trap`, is its trap).
fn still_well(server: &mut Server, what: &str) {
    let stderr = server.stderr();
    assert!(server.running(), "{what}: the server stopped:\n{stderr}");
    let host_panics = stderr.lines().filter(|l| l.contains("panicked at") && !l.contains("examples/service.rs")).count();
    assert_eq!(host_panics, 0, "{what}: the host panicked:\n{stderr}");
}

#[test]
fn a_service_answers_the_same_direct_and_through_the_virt() {
    let dir = tempfile::tempdir().unwrap();
    let components = [
        ("direct", PathBuf::from(guest("service"))),
        ("the plain virt", plug(dir.path(), "plain", &[])),
        ("a counting virt", plug(dir.path(), "counted", &["--count-calls", "--max-memory", "64MiB"])),
    ];
    for (what, component) in components {
        let mut server = serve(&component);
        for n in [1, 256, 100_000] {
            assert_eq!(server.get(&format!("/squares?n={n}")), (200, squares(n)), "{what}, n={n}");
        }
        assert_eq!(server.get("/squares"), (200, squares(256)), "{what}: the default n");
        let (status, body) = server.get("/squares?n=0");
        assert_eq!((status, body.as_str()), (400, "n must be a number from 1 to 1048576, not `0`\n"), "{what}");
        let (status, body) = server.get("/elsewhere");
        assert_eq!((status, body.as_str()), (404, "no such path: /elsewhere (try /squares?n=256)\n"), "{what}");
        still_well(&mut server, what);
    }
}

#[test]
fn concurrent_requests_are_each_answered_with_their_own_result() {
    let dir = tempfile::tempdir().unwrap();
    for component in [PathBuf::from(guest("service")), plug(dir.path(), "limited", &["--max-memory", "64MiB"])] {
        let mut server = serve(&component);
        let addr = server.addr;
        // 16 clients at once, each on a connection it keeps, each asking for its own sizes.
        let clients: Vec<_> = (0..16u32)
            .map(|c| {
                std::thread::spawn(move || {
                    let mut client = common::http::Client::connect(addr);
                    for r in 0..4u32 {
                        let n = 1 + c * 1000 + r * 97;
                        assert_eq!(client.get(&format!("/squares?n={n}")).unwrap(), (200, squares(n)), "client {c}, request {r}");
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().expect("a client's requests were answered");
        }
        still_well(&mut server, "concurrent");
    }
}

#[test]
fn a_quota_holds_per_request_and_every_refusal_is_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    // On a host that traps on invalid work (fault injection), as wasmCloud's fails at the submit
    // of a command buffer made with refused buffers: the virt answers that submit itself.
    let on_a_fragile_host = |component: &Path| {
        let mut command = webgpu_virt();
        command.env("WEBGPU_HOST_TRAP_ON_INVALID_WORK", "1");
        Server::start(command, component.to_str().unwrap()).unwrap()
    };
    // 100 bytes: every buffer of every request is refused.
    let mut server = on_a_fragile_host(&plug(dir.path(), "starved", &["--max-memory", "100", "--log-stats"]));
    let addr = server.addr;
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut client = common::http::Client::connect(addr);
                (0..4).map(|_| client.get("/squares?n=256").unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    for answers in clients.into_iter().map(|c| c.join().unwrap()) {
        for (status, body) in answers {
            assert_eq!(status, 503, "{body}");
            assert_eq!(body, "webgpu: out of memory: webgpu-virt quota: a buffer of 1024 bytes refused, 100 bytes of the memory quota left\n");
        }
    }
    still_well(&mut server, "starved");
    // Each request's instance reported its refusal where no one calls the stats export.
    let stderr = server.stderr();
    assert_eq!(stderr.matches("webgpu-virt: stats, after a quota refused a call:").count(), 32, "{stderr}");

    // 4 KiB: a request's two buffers of 1 KiB fit, again and again (the quota is per request);
    // two of 4 KiB do not.
    let mut server = on_a_fragile_host(&plug(dir.path(), "small", &["--max-memory", "4KiB"]));
    for _ in 0..5 {
        assert_eq!(server.get("/squares?n=256"), (200, squares(256)));
    }
    let (status, body) = server.get("/squares?n=1024");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("webgpu: out of memory: webgpu-virt quota: a buffer of 4096 bytes refused"), "{body}");
    still_well(&mut server, "small");
}

#[test]
fn a_pod_of_two_services_serves_each_under_its_name_with_its_own_quota() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pod.toml");
    std::fs::write(&config, "max-memory = \"64MiB\"\n[guests.b]\nmax-memory = 100\n").unwrap();
    let service = guest("service");
    let pod = plug(dir.path(), "pod", &["--guest", &format!("a={service}"), "--guest", &format!("b={service}"), "--config", config.to_str().unwrap()]);
    let mut server = serve(&pod);
    assert_eq!(server.get("/a/squares?n=300"), (200, squares(300)));
    let (status, body) = server.get("/b/squares?n=300");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("webgpu: out of memory: webgpu-virt quota: a buffer of 1200 bytes refused"), "{body}");
    let (status, body) = server.get("/c/squares");
    assert_eq!((status, body.as_str()), (404, "no guest serves /c/squares: this pod's guests are served under /a/, /b/\n"));
    let (status, body) = server.get("/a");
    assert_eq!((status, body.as_str()), (404, "no such path: / (try /squares?n=256)\n"), "guest a sees `/`");
    // One guest's trap is that request's 500; the other guest, and the same one, go on.
    let (status, body) = server.get("/a/trap");
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("GET /a/trap: ") && body.ends_with("pod.wasm trapped: wasm trap: wasm `unreachable` instruction executed\n"), "{body}");
    assert_eq!(server.get("/b/squares?n=100").0, 503);
    assert_eq!(server.get("/b/squares?n=10"), (200, squares(10)), "two buffers of 40 bytes fit 100");
    assert_eq!(server.get("/a/squares?n=5").1, squares(5));
    still_well(&mut server, "pod");

    // The pod is a service like any other: it exports one handler, its router's.
    let exports = webgpu_virt::exports(&std::fs::read(&pod).unwrap()).unwrap();
    assert!(exports.contains(&"wasi:http/handler@0.3.0".to_string()) && !exports.iter().any(|e| e == "a" || e == "b"), "{exports:?}");
    // (A pod of a command and a service, or of 17 services, is refused: pod.rs's bad pods.)
}

#[test]
fn a_trapping_request_is_a_500_naming_the_trap_and_the_server_goes_on() {
    let mut server = serve(Path::new(guest("service")));
    for _ in 0..3 {
        let (status, body) = server.get("/trap");
        assert_eq!(status, 500, "{body}");
        assert!(body.starts_with("GET /trap: ") && body.ends_with("service.wasm trapped: wasm trap: wasm `unreachable` instruction executed\n"), "{body}");
        assert_eq!(server.get("/squares?n=3"), (200, squares(3)));
    }
    let stderr = server.stderr();
    assert!(stderr.contains("GET /trap traps on purpose"), "the guest's panic message is in the log:\n{stderr}");
    still_well(&mut server, "trap");
}

#[test]
fn serve_refuses_what_is_not_a_service_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let cases = [
        (guest("compute").to_string(), "is a command (it exports wasi:cli/run), not a service: run it with `webgpu-virt run`"),
        (built_guests::P2_COMMAND.to_string(), "is a command (it exports wasi:cli/run), not a service: run it with `webgpu-virt run`"),
        (junk.display().to_string(), "junk.wasm is not a WebAssembly component"),
        (guest("bench_hop_forwarder").to_string(), "exports no `wasi:http/handler@0.3.0`, so there is nothing to serve"),
    ];
    for (component, reason) in cases {
        let Err(said) = Server::start(webgpu_virt(), &component) else { panic!("{component} was served") };
        assert!(said.contains(reason) && said.contains("exited with exit status: 2"), "{component}: {said}");
    }
    // A directory that cannot be preopened is refused at start, not at each request.
    let out = webgpu_virt().args(["serve", "--addr", "127.0.0.1:0", "--dir", "/no/such/dir", guest("service")]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: preopening /no/such/dir as .: "), "{stderr}");
    // A recording of a service is refused at plug time, alone or in a pod: every request's
    // instance would write the same trace.
    let service = guest("service");
    for args in [vec![service.to_string()], vec!["--guest".into(), format!("a={service}")]] {
        let out = webgpu_virt().arg("plug").args(&args).args(["--record", "t.wgvt", "-o"]).arg(dir.path().join("r.wasm")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is a service (it exports wasi:http/handler@0.3.0): recording one is not supported yet"), "{stderr}");
        assert!(!dir.path().join("r.wasm").exists());
    }
    // And `run` sends a service to `serve`.
    let out = webgpu_virt().arg("run").arg(guest("service")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a service (it exports wasi:http/handler@0.3.0), not a command: serve it with `webgpu-virt serve`"), "{stderr}");
}
