//! `published-host APP.wasm [ARGS...]`: runs a command component (one exporting
//! `wasi:cli/run@0.3.0`, as the test guests do) on the published `wasi-webgpu-wasmtime` host,
//! with WASI p2 and p3 and the process's stdio. The exit code is the guest's; a trap is reported
//! on stderr with exit code 101.

use wasmtime::error::Context as _;
use wasmtime::{Result, bail};
use std::sync::Arc;
use wasi_webgpu_wasmtime::reexports::{wgpu_core, wgpu_types};
use wasi_webgpu_wasmtime::{WasiWebGpuCtx, WasiWebGpuCtxView, WasiWebGpuOptions};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    gpu: Arc<wgpu_core::global::Global>,
    options: WasiWebGpuOptions,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiWebGpuCtxView for State {
    fn webgpu_ctx(&mut self) -> WasiWebGpuCtx<'_> {
        WasiWebGpuCtx { instance: &self.gpu, table: &mut self.table, options: &self.options }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        bail!("usage: published-host APP.wasm [ARGS...]");
    };
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, path).with_context(|| format!("reading {path}"))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasi_webgpu_wasmtime::add_to_linker(&mut linker)?;

    let descriptor = wgpu_types::InstanceDescriptor::new_without_display_handle_from_env();
    let gpu = Arc::new(wgpu_core::global::Global::new("published-host", descriptor, None));
    let wasi = WasiCtx::builder().inherit_stdio().args(&args).build();
    let state = State { wasi, table: ResourceTable::new(), gpu, options: WasiWebGpuOptions::default() };
    let mut store = Store::new(&engine, state);
    let command = wasmtime_wasi::p3::bindings::Command::instantiate_async(&mut store, &component, &linker)
        .await
        .with_context(|| format!("instantiating {path}"))?;
    let result = store.run_concurrent(async move |s| command.wasi_cli_run().call_run(s).await).await;
    let code = match result.and_then(|r| r) {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => exit.0,
            None => {
                eprintln!("published-host: {path} trapped: {e:?}");
                101
            }
        },
    };
    std::process::exit(code);
}
