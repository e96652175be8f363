//! One module per subcommand, each a clap `Args` struct with an `exec()` returning the exit code.

pub mod adapter;
mod cache;
pub mod configure;
pub mod plug;
pub mod policy;
pub mod replay;
pub mod run;
pub mod trace;

/// The runtime every subcommand drives wasmtime and wgpu from.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}
