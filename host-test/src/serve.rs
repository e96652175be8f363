//! Serving an HTTP component on this host: what `webgpu-virt serve` does.
//!
//! The component exports `wasi:http/handler@0.3.0` (a *service*). A pod of services
//! (`webgpu-virt plug --guest`) is one: its router hands a request for `/NAME/rest` to guest
//! `NAME` as `/rest`, on this host as on any that serves `wasi:http`.
//!
//! **One instance per request**, as `wasmtime serve` does by default: each request gets a store
//! and an instance of its own, so nothing of one request is seen by the next, and a virt's
//! quota holds per request (a pod's pool quota: per request, over its guests). A request that
//! traps its instance ends that instance only: it is answered 500 with the trap, and the server
//! goes on. All requests share one wgpu instance (adapters are found once); each request's
//! devices are its own.
//!
//! A served component gets WASI (stdio inherited), `wasi:webgpu` and `wasi:http@0.3.0`'s types;
//! its outgoing requests (`wasi:http/client`) are refused with `HTTP-request-denied`.

use crate::WebGpuCtx;
use crate::run::{EXIT_GRACE, HostState, Preopen};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Component, InstancePre, Resource};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Result, Store, bail};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::{Request, Response};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// The interface a service is served by.
pub const HANDLER: &str = "wasi:http/handler@0.3.0";

/// How the served component's requests reach the outside: they do not.
pub(crate) struct NoOutgoing;

impl WasiHttpHooks for NoOutgoing {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (http::Response<wasmtime_wasi_http::WasiBody>, Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// What a served component gets besides its requests.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    pub preopens: Vec<Preopen>,
    pub inherit_env: bool,
}

/// A component ready to serve: checked, linked and pre-instantiated once.
pub struct Service {
    pre: InstancePre<HostState>,
    gpu: Arc<wgpu::Instance>,
    options: ServeOptions,
    path: PathBuf,
}

/// `handle`'s signature: a request in, a response or an error code out.
type Handle = wasmtime::component::TypedFunc<(Resource<Request>,), (Result<Resource<Response>, ErrorCode>,)>;

/// The body every response of the server has: the whole of it, collected.
pub type Body = Full<Bytes>;

impl Service {
    /// Checks that `component` is a service (or a pod of them, which routes requests to its
    /// guests itself) and prepares it. Refuses, naming why, a component that exports no handler.
    pub fn new(engine: &Engine, component: &Component, path: &Path, options: ServeOptions) -> Result<Self> {
        check_service(engine, component, path)?;
        // Each request preopens the directories again: a bad one is refused now, not per request.
        wasi(&options, path)?;
        let mut linker = crate::run::linker(engine)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
        let pre = linker.instantiate_pre(component).with_context(|| format!("linking {}", path.display()))?;
        let gpu = Arc::new(wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env()));
        Ok(Self { pre, gpu, options, path: path.to_path_buf() })
    }

    /// Answers one request with a fresh instance of the component. Never fails: what goes
    /// wrong (a trap, an error code) is a response that says what.
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let what = format!("{} {}", request.method(), request.uri());
        let who = self.path.display();
        match tokio::task::unconstrained(self.answer(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                let message = format!("{what}: {who} answered with the error code {code:?}");
                eprintln!("webgpu-virt serve: {message}");
                plain(http::StatusCode::INTERNAL_SERVER_ERROR, message)
            }
            Err(e) => {
                // The log has the trap with its backtrace; the client, what the trap was.
                eprintln!("webgpu-virt serve: {what}: {who} trapped: {e:#}");
                plain(http::StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {who} trapped: {}", e.root_cause()))
            }
        }
    }

    /// [`Self::handle`], with a panic of this host (a bug) answered 500 rather than dropping the
    /// connection: the server goes on.
    async fn answer_or_500(&self, request: http::Request<hyper::body::Incoming>) -> http::Response<Body> {
        let what = format!("{} {}", request.method(), request.uri());
        let handled = std::panic::AssertUnwindSafe(self.handle(request));
        match futures::FutureExt::catch_unwind(handled).await {
            Ok(response) => response,
            Err(panic) => {
                let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
                let message = format!("{what}: the host panicked: {}", why.as_deref().unwrap_or("(no message)"));
                eprintln!("webgpu-virt serve: {message}");
                plain(http::StatusCode::INTERNAL_SERVER_ERROR, message)
            }
        }
    }

    /// Instantiates the component in a store of its own and calls its handler with `request`.
    /// `Err` is a trap (or an instance that could not be made).
    async fn answer<B>(&self, request: http::Request<B>) -> Result<Result<http::Response<Body>, ErrorCode>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let state = HostState::new(wasi(&self.options, &self.path)?, WebGpuCtx::with_instance(self.gpu.clone()));
        let mut store = Store::new(self.pre.engine(), state);
        let instance = self.pre.instantiate_async(&mut store).await.context("instantiating")?;
        let interface = instance.get_export_index(&mut store, None, HANDLER).context("the handler's export")?;
        let index = instance.get_export_index(&mut store, Some(&interface), "handle").context("the handler's `handle`")?;
        let handle: Handle = instance.get_typed_func(&mut store, index).context("`handle` is not `async func(request) -> result<response, error-code>`")?;
        let (request, request_body) = Request::from_http(&mut store.data_mut().hooks, request);
        let request = store.data_mut().table.push(request)?;
        let answered = store
            .run_concurrent(async move |s| {
                let respond = async {
                    let (result,) = handle.call_concurrent(s, (request,)).await?;
                    let response = match result {
                        Ok(response) => response,
                        Err(code) => return wasmtime::error::Ok(Err(code)),
                    };
                    let response = s.with(|mut store| store.data_mut().table.delete(response))?;
                    let response = s.with(|store| response.into_http(store, async { Ok(()) }))?;
                    let (parts, body) = response.into_parts();
                    let body = body.collect().await.context("reading the response body")?.to_bytes();
                    Ok(Ok(http::Response::from_parts(parts, Full::new(body))))
                };
                let (response, ()) = futures::try_join!(respond, async { request_body.await.context("reading the request body") })?;
                wasmtime::error::Ok(response)
            })
            .await;
        let answered = answered.and_then(|r| r);
        // A store whose devices still run work waits for it when dropped: off this thread, and
        // left alone (not dropped) when the work outlasts the grace a run's end gives it.
        tokio::task::spawn_blocking(move || {
            if store.data().webgpu.unfinished(EXIT_GRACE) > 0 {
                eprintln!("webgpu-virt serve: a request left work running on the GPU after {} s: its store is left", EXIT_GRACE.as_secs());
                std::mem::forget(store);
            }
        });
        answered
    }
}

/// WASI for one request's instance: stdio inherited, `path` as `argv[0]`, the options' directories
/// and environment.
fn wasi(options: &ServeOptions, path: &Path) -> Result<WasiCtx> {
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio().args(&[path.display().to_string()]);
    if options.inherit_env {
        wasi.inherit_env();
    }
    for p in &options.preopens {
        wasi.preopened_dir(&p.host, &p.guest, wasmtime_wasi::FsPerms::ReadWrite)
            .with_context(|| format!("preopening {} as {}", p.host.display(), p.guest))?;
    }
    Ok(wasi.build())
}

/// A text response.
fn plain(status: http::StatusCode, message: String) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(Bytes::from(message + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Checks that `component` exports a handler, or says why it cannot be served.
fn check_service(engine: &Engine, component: &Component, path: &Path) -> Result<()> {
    let exports: Vec<String> = component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect();
    if exports.iter().any(|e| e == HANDLER) {
        return Ok(());
    }
    if let Some(p2) = exports.iter().find(|e| e.starts_with("wasi:http/incoming-handler@0.2")) {
        bail!(
            "{} exports `{p2}`, a wasi:http 0.2 handler, whose synchronous calls cannot wait on wasi:webgpu's async \
             functions: export `{HANDLER}` instead (with wit-bindgen, implement its `async fn handle`)",
            path.display()
        );
    }
    if exports.iter().any(|e| e.starts_with("wasi:cli/run@")) || !crate::run::pod_guests(engine, component).is_empty() {
        bail!("{} is a command (it exports wasi:cli/run), not a service: run it with `webgpu-virt run`", path.display());
    }
    bail!("{} exports no `{HANDLER}`, so there is nothing to serve (its exports: {})", path.display(), exports.join(", "));
}

/// Serves `service` on `listener`, for ever: HTTP/1.1, each connection a task of its own, so
/// requests on different connections are answered concurrently. A connection that cannot be
/// accepted (out of file descriptors, say) is logged, and the server goes on.
pub async fn serve(service: Arc<Service>, listener: tokio::net::TcpListener) -> ! {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("webgpu-virt serve: accepting a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let answer = hyper::service::service_fn(move |request| {
                let service = service.clone();
                async move { Ok::<_, std::convert::Infallible>(service.answer_or_500(request).await) }
            });
            // A client that goes away mid-request is its own business.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), answer).await;
        });
    }
}
