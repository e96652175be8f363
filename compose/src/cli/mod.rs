//! One module per subcommand, each a clap `Args` struct with an `exec()` returning the exit code.

pub mod adapter;
mod cache;
pub mod configure;
pub mod plug;
pub mod policy;
pub mod replay;
pub mod run;
pub mod trace;

/// The exit code of a run that ended with `code`. A run that left work running on the GPU
/// (nobody waits for it, and it cannot be stopped) says so and ends the process at once: the
/// drop of its devices, and a driver's handlers at exit, would wait for that work.
pub fn ended(outcome: &host_test::run::Outcome) -> i32 {
    if outcome.unfinished > 0 {
        let grace = host_test::run::EXIT_GRACE.as_secs();
        eprintln!(
            "webgpu-virt: {} device(s) still ran submitted work {grace} s after the component was done: left running; exiting without waiting for it",
            outcome.unfinished
        );
        host_test::run::exit_now(outcome.code);
    }
    outcome.code
}

/// The runtime every subcommand drives wasmtime and wgpu from.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Runs a component to its end on a runtime of its own, which is then left without waiting for
/// its blocking threads: a wait on the GPU for work that never ends (a runaway's, which a
/// watchdog gave up on) would keep it forever. ([`ended`] then says what was left running.)
pub fn run_to_end<F: std::future::Future>(run: impl FnOnce() -> F) -> anyhow::Result<F::Output> {
    let runtime = runtime()?;
    let output = runtime.block_on(run());
    runtime.shutdown_background();
    Ok(output)
}
