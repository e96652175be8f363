//! Running a command component on this host: what `webgpu-virt run` does.
//!
//! The component must export `wasi:cli/run@0.3.0`, whose `run` is an `async func`. A p2 command
//! (`wasi:cli/run@0.2.x`, what a Rust `fn main()` on `wasm32-wasip2` exports) has a synchronous
//! `run` that cannot wait on `wasi:webgpu`'s async functions, so it is refused with a message
//! saying so.
//!
//! A pod (`webgpu-virt plug --guest`) exports each guest's `wasi:cli/run@0.3.0` instance under
//! the guest's name instead: all of them run at once, in one store. wasmtime ends a whole store
//! at a trap, so a guest that traps stops every other guest of its pod too; the outcome names it.

use crate::{WebGpuCtx, WebGpuCtxView, WebGpuView};
use std::path::{Path, PathBuf};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentType, Instance, Lift, Linker, Resource, ResourceTable, ResourceType};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, Result, Store, bail};
use wasmtime_wasi::p2::{DynOutputStream, Pollable as _};
use wasmtime_wasi::p3::bindings::Command;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

/// A directory the guest sees: `host` preopened as `guest`.
#[derive(Clone, Debug)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
}

impl std::str::FromStr for Preopen {
    type Err = String;

    /// `HOST_DIR` (seen by the guest as `.`) or `HOST_DIR::GUEST_DIR`, as `wasmtime run --dir`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, guest) = match s.split_once("::") {
            Some((h, g)) => (h, g),
            None => (s, "."),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(format!("`{s}` is not HOST_DIR or HOST_DIR::GUEST_DIR"));
        }
        Ok(Self { host: host.into(), guest: guest.into() })
    }
}

/// Store data of a command run or of a served request: WASI, `wasi:webgpu`, `wasi:http` (for
/// services), and their shared resource table.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) webgpu: WebGpuCtx,
    pub(crate) http: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) hooks: crate::serve::NoOutgoing,
    pub(crate) table: ResourceTable,
}

impl HostState {
    pub(crate) fn new(wasi: WasiCtx, webgpu: WebGpuCtx) -> Self {
        Self { wasi, webgpu, http: wasmtime_wasi_http::WasiHttpCtx::new(), hooks: crate::serve::NoOutgoing, table: ResourceTable::new() }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WebGpuView for HostState {
    fn webgpu(&mut self) -> WebGpuCtxView<'_> {
        WebGpuCtxView { ctx: &mut self.webgpu, table: &mut self.table }
    }
}

/// An engine configured for `wasi:webgpu` guests (component model with async). With
/// `WEBGPU_HOST_PERFMAP` set, compiled code is named for `perf` (`/tmp/perf-PID.map`).
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    if std::env::var_os("WEBGPU_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config)
}

/// A linker with WASI p2 and p3 and `wasi:webgpu`.
pub fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    crate::add_to_linker(&mut linker)?;
    add_hop(&mut linker)?;
    Ok(linker)
}

/// `webgpu-virt:worlds/hop`, the benchmarks' floor: calls with nothing to do.
fn add_hop(linker: &mut Linker<HostState>) -> Result<()> {
    /// `hop.thing`: a host object with nothing in it.
    struct Thing;
    let mut hop = linker.instance("webgpu-virt:worlds/hop@0.1.0")?;
    hop.func_wrap("trivial", |_, ()| Ok((1u64,)))?;
    hop.func_wrap("bytes", |_, (data,): (Vec<u8>,)| Ok((data.len() as u64,)))?;
    hop.resource("thing", ResourceType::host::<Thing>(), |mut cx, rep| {
        cx.data_mut().table.delete(Resource::<Thing>::new_own(rep))?;
        Ok(())
    })?;
    hop.func_wrap("[constructor]thing", |mut cx, ()| Ok((cx.data_mut().table.push(Thing)?,)))?;
    hop.func_wrap("[method]thing.poke", |_, (_, _): (Resource<Thing>, Option<Resource<Thing>>)| Ok((1u64,)))?;
    Ok(())
}

/// The guests of a pod of commands: the instances `component` exports under plain names that
/// hold a `run` function (each a guest's `wasi:cli/run@0.3.0`), in the order of its exports.
pub fn pod_guests(engine: &Engine, component: &Component) -> Vec<String> {
    let ty = component.component_type();
    ty.exports(engine)
        .filter(|(name, _)| !name.contains(':'))
        .filter(|(_, item)| match &item.ty {
            ComponentItem::ComponentInstance(instance) => instance.exports(engine).any(|(n, i)| n == "run" && matches!(i.ty, ComponentItem::ComponentFunc(_))),
            _ => false,
        })
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Checks that `component` is a command (or a pod of them) this host can run, with a message
/// naming why not.
pub fn check_command(engine: &Engine, component: &Component, path: &Path) -> Result<()> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    if exports.iter().any(|e| e == "wasi:cli/run@0.3.0") || !pod_guests(engine, component).is_empty() {
        return Ok(());
    }
    if exports.iter().any(|e| e == crate::serve::HANDLER) {
        bail!("{} is a service (it exports {}), not a command: serve it with `webgpu-virt serve`", path.display(), crate::serve::HANDLER);
    }
    if let Some(p2) = exports.iter().find(|e| e.starts_with("wasi:cli/run@0.2")) {
        bail!(
            "{} exports `{p2}`, a synchronous `run` that cannot wait on wasi:webgpu's async functions \
             (wasmtime traps with `cannot block a synchronous task before returning`). \
             Export `wasi:cli/run@0.3.0` instead: with wit-bindgen, implement its `async fn run()`.",
            path.display()
        );
    }
    bail!("{} exports no `wasi:cli/run@0.3.0` (its exports: {})", path.display(), exports.join(", "));
}

/// What to run and with what.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `argv[0]` and the rest, as the guest sees them.
    pub args: Vec<String>,
    pub preopens: Vec<Preopen>,
    pub inherit_env: bool,
    /// Read the virt's [`STATS`] export when the command is done.
    pub stats: bool,
    /// Keep what the command writes to stdout (in [`Outcome::stdout`]) instead of passing it on.
    pub capture_stdout: bool,
}

/// The operator interface a composition with webgpu-virt's virt exports.
pub const STATS: &str = "webgpu-virt:worlds/stats@0.1.0";

/// One value a policy of the virt keeps (`webgpu-virt:worlds/stats.counter`).
#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift)]
#[component(record)]
pub struct Counter {
    pub policy: String,
    pub name: String,
    pub value: u64,
}

/// How one guest of a pod ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestEnd {
    /// It returned or exited: 0 for `Ok`, 1 for `Err`, or what it passed to `exit`.
    Exited(i32),
    /// It trapped (the message says why); the store, and every other guest with it, ended.
    Trapped(String),
    /// Another guest trapped before this one finished: the store ended under it.
    Stopped,
}

/// How a command run ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The exit code: 0 for `Ok`, 1 for `Err`, or what the command passed to `exit`. For a pod:
    /// 0 if every guest exited with 0, else the first other guest's code, or 1 when a guest
    /// trapped.
    pub code: i32,
    /// A pod's guests and how each ended (empty for a single command).
    pub guests: Vec<(String, GuestEnd)>,
    /// The virt's counters, when asked for; `None` when the component exports no [`STATS`].
    pub stats: Option<Vec<Counter>>,
    /// What the guest asked this host for.
    pub host: crate::HostStats,
    /// What the command wrote to stdout, when asked to keep it.
    pub stdout: Option<Vec<u8>>,
    /// The devices whose submitted work was still running when the command was done (after
    /// [`EXIT_GRACE`]): nobody will wait for it, and dropping them would wait for it, so the
    /// run leaves them (and its store) as they are. The process should end at once (see
    /// [`exit_now`]): work already submitted cannot be stopped, only left.
    pub unfinished: usize,
}

/// How long the end of a run waits for work still running on the GPU before it leaves it.
pub const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ends the process with `code` now: no destructor runs, and no handler a driver registered to
/// run at exit (Mesa's joins its threads, which would wait for the work left running).
pub fn exit_now(code: i32) -> ! {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// The store's outcome: when its devices still run work, the store is left undropped (its drop
/// would wait for the work).
async fn end(mut store: Store<HostState>, mut outcome: Outcome) -> Outcome {
    writes_done(&mut store).await;
    outcome.unfinished = store.data().webgpu.unfinished(EXIT_GRACE);
    if outcome.unfinished > 0 {
        std::mem::forget(store);
    }
    outcome
}

/// How long the end of a run waits for the file writes that its component handed over.
pub const WRITES_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits, at most [`WRITES_GRACE`], for the file writes that the component handed over and
/// that are still under way. Dropping a store drops its streams, and wasmtime cancels a write
/// whose thread has not started yet: the last records that a recorder handed over just before
/// its application trapped would be lost (a loaded machine lost them about one run in five).
async fn writes_done(store: &mut Store<HostState>) {
    let streams = store.data_mut().table.iter_mut().filter_map(|entry| entry.downcast_mut::<DynOutputStream>());
    let _ = tokio::time::timeout(WRITES_GRACE, futures::future::join_all(streams.map(|stream| stream.ready()))).await;
}

/// Loads a component from a file.
pub fn load(engine: &Engine, path: &Path) -> Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    compile(engine, &bytes, path)
}

/// Compiles a component from its bytes (`path` names it in errors).
pub fn compile(engine: &Engine, bytes: &[u8], path: &Path) -> Result<Component> {
    if !wasmparser::Parser::is_component(bytes) {
        bail!("{} is not a WebAssembly component", path.display());
    }
    Component::new(engine, bytes).with_context(|| format!("compiling {}", path.display()))
}

/// Runs a command component to completion.
///
/// Outside tokio's cooperative budget: wasmtime runs every task of the store in this one
/// future, and a guest that makes many calls without waiting would use the budget up, after
/// which every host future it polls (a finished file write's readiness, say) says "not yet"
/// until the guest waits. A guest cannot yield from a synchronous call, so it could never see
/// its writes done.
pub async fn run(engine: &Engine, component: &Component, path: &Path, options: &RunOptions) -> Result<Outcome> {
    tokio::task::unconstrained(run_budgetless(engine, component, path, options)).await
}

async fn run_budgetless(engine: &Engine, component: &Component, path: &Path, options: &RunOptions) -> Result<Outcome> {
    check_command(engine, component, path)?;
    let linker = linker(engine)?;
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio().args(&options.args);
    let stdout = options.capture_stdout.then(|| wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(usize::MAX));
    if let Some(pipe) = &stdout {
        wasi.stdout(pipe.clone());
    }
    if options.inherit_env {
        wasi.inherit_env();
    }
    for p in &options.preopens {
        wasi.preopened_dir(&p.host, &p.guest, FsPerms::ReadWrite)
            .with_context(|| format!("preopening {} as {}", p.host.display(), p.guest))?;
    }
    let state = HostState::new(wasi.build(), WebGpuCtx::new());
    let mut store = Store::new(engine, state);
    let instance = linker
        .instantiate_async(&mut store, component)
        .await
        .with_context(|| format!("instantiating {}", path.display()))?;
    let pod = pod_guests(engine, component);
    let (code, guests) = if pod.is_empty() {
        let command = Command::new(&mut store, &instance)?;
        let result = store.run_concurrent(async move |s| command.wasi_cli_run().call_run(s).await).await;
        let code = match result.and_then(|r| r) {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => exit.0,
                None => {
                    writes_done(&mut store).await;
                    return Err(e.context(format!("running {}", path.display())));
                }
            },
        };
        (code, Vec::new())
    } else {
        let ends = run_pod(&mut store, &instance, &pod).await?;
        let code = match ends.iter().find(|(_, end)| *end != GuestEnd::Exited(0)) {
            None => 0,
            Some((_, GuestEnd::Exited(code))) => *code,
            Some(_) => 1,
        };
        let trapped = ends.iter().any(|(_, end)| matches!(end, GuestEnd::Trapped(_)));
        if trapped {
            // The store is gone: nothing more can be asked of the virt.
            let host = store.data().webgpu.stats();
            let outcome = Outcome { code, guests: ends, stats: None, host, stdout: stdout.map(|p| p.contents().to_vec()), unfinished: 0 };
            return Ok(end(store, outcome).await);
        }
        (code, ends)
    };
    // A virt's policies may still hold what they will write out (the recorder's last records).
    flush(&mut store, &instance).await.with_context(|| format!("calling {STATS}.flush of {}", path.display()))?;
    let stats = match options.stats {
        true => counters(&mut store, &instance).await.with_context(|| format!("reading {STATS} of {}", path.display()))?,
        false => None,
    };
    let host = store.data().webgpu.stats();
    let stdout = stdout.map(|pipe| pipe.contents().to_vec());
    Ok(end(store, Outcome { code, guests, stats, host, stdout, unfinished: 0 }).await)
}

/// Runs every guest of a pod at once; how each ended, in the pod's order.
async fn run_pod(store: &mut Store<HostState>, instance: &Instance, guests: &[String]) -> Result<Vec<(String, GuestEnd)>> {
    type Run = wasmtime::component::TypedFunc<(), (Result<(), ()>,)>;
    let mut funcs: Vec<Run> = Vec::new();
    for name in guests {
        let export = instance.get_export_index(&mut *store, None, name).with_context(|| format!("the pod exports no `{name}`"))?;
        let run = instance.get_export_index(&mut *store, Some(&export), "run").with_context(|| format!("`{name}` has no `run`"))?;
        funcs.push(instance.get_typed_func(&mut *store, run).with_context(|| format!("`{name}`'s `run` is not `async func() -> result`"))?);
    }
    let ends = std::rc::Rc::new(std::cell::RefCell::new(vec![GuestEnd::Stopped; guests.len()]));
    let record = ends.clone();
    let result = store
        .run_concurrent(async move |accessor| {
            let mut running: futures::stream::FuturesUnordered<_> =
                funcs.iter().enumerate().map(|(i, f)| async move { (i, f.call_concurrent(accessor, ()).await) }).collect();
            while let Some((i, result)) = futures::StreamExt::next(&mut running).await {
                let end = match result {
                    Ok((Ok(()),)) => GuestEnd::Exited(0),
                    Ok((Err(()),)) => GuestEnd::Exited(1),
                    Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                        Some(exit) => GuestEnd::Exited(exit.0),
                        None => GuestEnd::Trapped(format!("{e:#}")),
                    },
                };
                let trapped = matches!(end, GuestEnd::Trapped(_));
                record.borrow_mut()[i] = end;
                if trapped {
                    // The store is ended: the others cannot go on.
                    return;
                }
            }
        })
        .await;
    let mut ends = std::rc::Rc::try_unwrap(ends).map(|e| e.into_inner()).unwrap_or_else(|e| e.borrow().clone());
    if let Err(e) = result {
        // The store ended without saying whose call trapped: the first guest not yet done.
        if !ends.iter().any(|e| matches!(e, GuestEnd::Trapped(_)))
            && let Some(end) = ends.iter_mut().find(|e| **e == GuestEnd::Stopped)
        {
            *end = GuestEnd::Trapped(format!("{e:#}"));
        }
    }
    Ok(guests.iter().cloned().zip(ends).collect())
}

/// Calls the instance's [`STATS`] `flush`, if it exports one.
async fn flush(store: &mut Store<HostState>, instance: &Instance) -> Result<()> {
    let Some(stats) = instance.get_export_index(&mut *store, None, STATS) else { return Ok(()) };
    let Some(index) = instance.get_export_index(&mut *store, Some(&stats), "flush") else { return Ok(()) };
    let func = instance.get_typed_func::<(), ()>(&mut *store, index)?;
    store.run_concurrent(async move |s| func.call_concurrent(s, ()).await).await??;
    Ok(())
}

/// The counters of the instance's [`STATS`] export, if it has one.
async fn counters(store: &mut Store<HostState>, instance: &Instance) -> Result<Option<Vec<Counter>>> {
    let Some(stats) = instance.get_export_index(&mut *store, None, STATS) else { return Ok(None) };
    let Some(index) = instance.get_export_index(&mut *store, Some(&stats), "counters") else {
        bail!("{STATS} has no `counters` function")
    };
    let func = instance.get_typed_func::<(), (Vec<Counter>,)>(&mut *store, index)?;
    let (counters,) = store.run_concurrent(async move |s| func.call_concurrent(s, ()).await).await??;
    Ok(Some(counters))
}
