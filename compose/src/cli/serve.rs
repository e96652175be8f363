use anyhow::Context as _;
use host_test::run::Preopen;
use host_test::serve::{ServeOptions, Service};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Serve an HTTP component (exporting `wasi:http/handler@0.3.0`, or a pod of such guests) with
/// wasi:webgpu on wgpu. Each request gets an instance of its own.
#[derive(clap::Args)]
pub struct Serve {
    /// The socket address to listen on (port 0: any free port; the address is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:8080")]
    addr: SocketAddr,
    /// Preopen HOST_DIR for the component, as `.` or as GUEST_DIR with HOST_DIR::GUEST_DIR.
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]")]
    dirs: Vec<Preopen>,
    /// Pass this process's environment variables to the component.
    #[arg(long)]
    inherit_env: bool,
    /// Load the component compiled from the cache of compiled components, and put it there
    /// after compiling it (see `replay --help` for where the cache is).
    #[arg(long)]
    cache: bool,
    /// The component to serve.
    component: PathBuf,
}

impl Serve {
    pub fn exec(self) -> anyhow::Result<i32> {
        let engine = host_test::run::engine().map_err(anyhow::Error::from)?;
        let component = super::cache::load(&engine, &self.component, self.cache)?;
        let options = ServeOptions { preopens: self.dirs, inherit_env: self.inherit_env };
        let service = Arc::new(Service::new(&engine, &component, &self.component, options)?);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(self.addr).await.with_context(|| format!("listening on {}", self.addr))?;
            let addr = listener.local_addr()?;
            match guests(&self.component).as_slice() {
                [] => eprintln!("Serving HTTP on http://{addr}/"),
                guests => {
                    let list: Vec<String> = guests.iter().map(|g| format!("http://{addr}/{g}/")).collect();
                    eprintln!("Serving HTTP on {}", list.join(" "));
                }
            }
            host_test::serve::serve(service, listener).await
        })
    }
}

/// The guests of a pod of services (each served under `/NAME/`), from the configuration baked
/// into its virt; none for any other component.
fn guests(component: &std::path::Path) -> Vec<String> {
    let config = std::fs::read(component).ok().and_then(|bytes| webgpu_virt::configuration(&bytes).ok());
    config.map(|c| c.guests.into_iter().map(|g| g.name).collect()).unwrap_or_default()
}
